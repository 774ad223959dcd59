"""The frozen ModelSpec and its builder."""

from __future__ import annotations

import dataclasses

import pytest

from immunetwin.errors import ModelError
from immunetwin.model import ModelBuilder, ModelSpec, NoiseKind


def tiv() -> ModelBuilder:
    b = ModelBuilder("tiv", name="target cell limited")
    b.parameter(
        "beta", 2.7e-5, unit="1/d", lower=1e-8, upper=1e-2, estimate=True, source="Baccam 2006"
    )
    b.parameter("delta", 4.0).parameter("p", 1.2e-2).parameter("c", 3.0)
    b.state("T", 4e8, "-beta*T*V").state("I", 0.0, "beta*T*V - delta*I").state(
        "V", 0.1, "p*I - c*V"
    )
    b.observable("log10V", "log10(V)", noise="normal", sigma=0.5)
    return b


def test_spec_is_frozen_and_hash_is_stable() -> None:
    spec = tiv().build()
    assert isinstance(spec, ModelSpec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.id = "other"  # type: ignore[misc]
    assert spec.hash() == tiv().build().hash()
    assert len(spec.hash()) == 64


def test_hash_changes_with_any_behavioural_change() -> None:
    base = tiv().build().hash()
    assert tiv().build().with_parameters({"c": 3.5}).hash() != base
    b = tiv()
    b.bolus("dose", "V", 1.0, at=2.0)
    assert b.build().hash() != base


def test_lookups_and_observable_noise() -> None:
    spec = tiv().build()
    assert spec.parameter("beta").estimate
    assert spec.parameter("beta").source == "Baccam 2006"
    assert spec.observable("log10V").noise.kind is NoiseKind.NORMAL
    assert spec.parameter_values["c"] == 3.0
    with pytest.raises(ModelError, match="no parameter"):
        spec.parameter("nope")


def test_unknown_symbol_is_reported_with_the_element() -> None:
    b = ModelBuilder("bad")
    b.parameter("k", 1.0).state("A", 1.0, "-k*A*X")
    with pytest.raises(ModelError, match="'A'.*X"):
        b.build()


def test_duplicate_ids_and_double_rules_are_rejected() -> None:
    b = ModelBuilder("dup")
    b.parameter("k", 1.0).parameter("k", 2.0)
    with pytest.raises(ModelError, match="duplicate id 'k'"):
        b.build()
    b = ModelBuilder("rules")
    b.parameter("k", 1.0).state("A", 1.0, "-k*A").rate("A", "k")
    with pytest.raises(ModelError, match="more than one rule"):
        b.build()


def test_reactions_parse_stoichiometry() -> None:
    b = ModelBuilder("rx")
    b.parameter("k", 1.0).species("A", 1.0).species("B", 0.0).reaction("r", "2 A -> B", "k*A")
    spec = b.build()
    (r,) = spec.reactions
    assert r.reactants[0].species == "A" and r.reactants[0].stoichiometry == 2.0
    assert r.products[0].species == "B"
    with pytest.raises(ModelError, match="no '->'"):
        ModelBuilder("x").reaction("r", "A = B", "1")


def test_builder_has_no_global_state() -> None:
    a = ModelBuilder("a").parameter("k", 1.0).build()
    b = ModelBuilder("b").parameter("j", 1.0).build()
    assert [p.id for p in a.parameters] == ["k"]
    assert [p.id for p in b.parameters] == ["j"]


def test_bounds_must_be_ordered() -> None:
    with pytest.raises(ModelError, match="lower bound"):
        ModelBuilder("x").parameter("k", 1.0, lower=2.0, upper=1.0).build()
