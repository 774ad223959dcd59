"""LogicalModelSpec, conditions and SBML-qual import/export."""

from __future__ import annotations

from pathlib import Path

import pytest

from immunetwin.errors import ModelError, SBMLError
from immunetwin.model import (
    LogicalModelBuilder,
    QCmp,
    QConst,
    QLogic,
    QRef,
    evaluate_condition,
    from_sbml,
    from_sbml_qual,
    is_sbml_qual,
    parse_condition,
    render_condition,
    to_sbml_qual,
)


def qual_files(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "sbml-qual-ginsim").glob("*/*.sbml"))
    assert len(files) == 7
    return files


def test_parse_condition_text_form() -> None:
    e = parse_condition("A:2 & !B | (C)")
    assert e == QLogic(
        "or",
        (
            QLogic(
                "and",
                (
                    QCmp("geq", QRef("A"), QConst(2)),
                    QLogic("not", (QCmp("geq", QRef("B"), QConst(1)),)),
                ),
            ),
            QCmp("geq", QRef("C"), QConst(1)),
        ),
    )
    assert evaluate_condition(e, {"A": 2, "B": 0, "C": 0}) == 1
    assert evaluate_condition(e, {"A": 1, "B": 0, "C": 0}) == 0
    assert "A >= 2" in render_condition(e)
    with pytest.raises(ModelError, match="position"):
        parse_condition("A & $")
    with pytest.raises(ModelError, match="missing"):
        parse_condition("(A & B")


def toy():
    b = LogicalModelBuilder("toy", name="toy")
    b.species("A")
    b.species("B", max_level=2)
    b.species("C")
    b.rule("B", {2: "A & C", 1: "A & !C"})
    b.rule("C", "B:2 | !A")
    return b.build()


def test_builder_spec_is_frozen_hashable_and_validates() -> None:
    spec = toy()
    assert spec.inputs == ("A",)
    assert spec.max_levels == (1, 2, 1)
    assert not spec.is_boolean
    assert hash(spec) == hash(toy()) and spec == toy()
    assert spec.hash() == toy().hash()
    b = LogicalModelBuilder("bad")
    b.species("A")
    with pytest.raises(ModelError, match="unknown species"):
        b.rule("Z", "A")
    b.species("B")
    b.rule("B", {2: "A"})
    with pytest.raises(ModelError, match="result level 2 outside 0..1 of 'B'"):
        b.build()


def test_mutate_replaces_transitions_with_constants() -> None:
    spec = toy().mutate({"B": 0, "A": 1})
    assert spec.transition_of("B").default == 0 and spec.transition_of("B").terms == ()
    assert spec.inputs == ()
    with pytest.raises(ModelError, match="outside 0..2"):
        toy().mutate({"B": 3})


def test_every_shared_sbml_qual_file_imports_and_round_trips(shared_data: Path) -> None:
    for path in qual_files(shared_data):
        assert is_sbml_qual(path)
        spec = from_sbml_qual(path)
        assert spec.species and spec.transitions
        spec = spec.replace(metadata=(*spec.metadata, ("doi", "10.1/<a&b>")))
        again = from_sbml_qual(to_sbml_qual(spec))
        assert again == spec, path.name
        assert again.hash() == spec.hash()


def test_round_trip_keeps_levels_thresholds_signs_and_terms(tmp_path: Path) -> None:
    spec = toy().mutate({"C": 1})  # a constant transition: default level 1, no terms
    assert spec.transition_of("C").default == 1
    spec = spec.replace(terms=(("bqmodel:is", "http://identifiers.org/doi/10.1/x"),))
    out = tmp_path / "toy.sbml"
    to_sbml_qual(spec, out)
    assert from_sbml_qual(out) == spec


def test_ode_reader_points_to_the_logical_reader(shared_data: Path) -> None:
    path = qual_files(shared_data)[0]
    with pytest.raises(SBMLError, match="from_sbml_qual"):
        from_sbml(str(path))
    with pytest.raises(SBMLError, match="not found"):
        from_sbml_qual(shared_data / "nope.sbml")
