"""Draws from distributions in math (SBML distrib): reading, building, validation, writing."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from immunetwin.errors import ModelError, UnsupportedSBMLFeature
from immunetwin.model import DISTRIBUTIONS, ModelBuilder, distrib_draws, from_sbml, to_sbml


def test_reads_distrib_csymbols_as_draws(shared_data: Path) -> None:
    cases = shared_data / "sbml-stochastic-suite" / "cases"
    spec = from_sbml(cases / "00058" / "00058-sbml-l3v2.xml")
    (draw,) = distrib_draws(spec.events[0].assignments[0].expr)
    assert draw.func.__name__ == "binomial"
    assert draw.args == (sp.Integer(100), sp.Float(0.2), sp.Integer(15), sp.Integer(32))
    names = set()
    for folder in sorted(cases.iterdir()):
        if int(folder.name) >= 40:
            s = from_sbml(next(folder.glob("*.xml")))
            names |= {d.func.__name__ for _, e in s.expressions() for d in distrib_draws(e)}
    assert names <= DISTRIBUTIONS
    assert {"normal", "uniform", "gamma", "cauchy", "rayleigh", "lognormal"} <= names


def test_builder_accepts_draws_and_writing_them_is_refused() -> None:
    b = ModelBuilder("d").parameter("u", 0.0, constant=False)
    b.event("e", "time >= 1", {"u": "uniform(0, 2) + normal(0, 1)"})
    spec = b.build()
    assert {d.func.__name__ for d in distrib_draws(spec.events[0].assignments[0].expr)} == {
        "uniform",
        "normal",
    }
    with pytest.raises(UnsupportedSBMLFeature, match="distrib"):
        to_sbml(spec)


def test_unknown_functions_are_still_refused() -> None:
    b = ModelBuilder("bad").parameter("u", 0.0, constant=False)
    b.event("e", "time >= 1", {"u": "weibull(1, 2)"})
    with pytest.raises(ModelError, match="weibull"):
        b.build()
