"""Nothing silent in the data layer: bounded YAML, units, the new lint rules, dedupe, FHIR
standard fields over extensions, and generated Shedding Hub YAML / FHIR bundles."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immunetwin.data import (
    Censoring,
    ConflictingValues,
    Dataset,
    EmptyDataset,
    MissingValue,
    MixedUnits,
    NonNumericCovariate,
    Observation,
    Provenance,
    Severity,
    Subject,
    UnknownUnit,
    analyte_unit_problem,
    check_units,
    dedupe,
    from_fhir_bundle,
    harmonize_units,
    lint,
    load_yaml,
    read_shedding_hub,
    to_fhir_bundle,
)
from immunetwin.errors import DataError

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BOMB = "\n".join(
    [
        "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
        *(
            f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "analytes: *i",
        "participants: *i",
    ]
)


def _ds(*obs: Observation, subjects: tuple[Subject, ...] = (Subject("s"),)) -> Dataset:
    return Dataset(
        subjects=subjects,
        observations=obs,
        reference_events={"v": "symptom onset"},
        analytes={"v": {"unit": "copies/mL"}},
        provenance=Provenance(source_file="f.csv", doi="d", licence="l", citation="c", sha256="0"),
    )


def _o(t: float = 0.0, v: float | None = 1e5, unit: str = "copies/mL", **kw: object) -> Observation:
    return Observation("s", t, "v", v, unit, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- bounded YAML
def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    started = time.perf_counter()
    with pytest.raises(DataError, match="alias bomb") as info:
        read_shedding_hub(path)
    assert time.perf_counter() - started < 5.0  # generous: ~10 ms measured
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_recursive_alias_and_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(DataError, match="recursive YAML alias"):
        load_yaml(path)
    import immunetwin.data._shedding_hub as sh

    monkeypatch.setattr(sh, "MAX_YAML_BYTES", 10)
    path.write_text("a: [1, 2, 3, 4, 5]\n")
    with pytest.raises(DataError, match="exceeds 10 bytes"):
        load_yaml(path)


def test_harmless_aliases_still_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {x: 1}\nuse: [*b, *b]\n")
    assert load_yaml(path) == {"base": {"x": 1}, "use": [{"x": 1}, {"x": 1}]}


def _hub_doc(time_value: object = 1.0, unit: str = "gc/mL") -> dict[str, object]:
    return {
        "title": "t",
        "analytes": {"v": {"unit": unit, "reference_event": "symptom onset", "specimen": "stool"}},
        "participants": [{"measurements": [{"analyte": "v", "time": time_value, "value": 1000}]}],
    }


@pytest.mark.parametrize("bad", [1e308, -1e7, float("inf"), float("nan"), "soon", True])
def test_bad_times_are_typed_errors(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(_hub_doc(bad)))
    with pytest.raises(DataError, match=r"measurements\[0\].*time"):
        read_shedding_hub(path)


# ------------------------------------------------------------------------------- units
@pytest.mark.parametrize(
    "unit",
    [
        "copies/mL",
        "{copies}/mL",
        "log10 copies/mL",
        "TCID50/mL",
        "{TCID50}/mL",
        "log10 TCID50/mL",
        "pg/mL",
        "cells/uL",
        "/uL",
        "Ct",
        "{Ct}",
        "cycle threshold",
        "%",
        "[PFU]/mL",
        "copies/swab",
        "copies/ng_hDNA",
        "IU/mL",
        "mmol/L",
        "{log10}{copies}/mL",
    ],
)
def test_analyte_units_parse(unit: str) -> None:
    assert analyte_unit_problem(unit) is None


@pytest.mark.parametrize(
    ("unit", "why"),
    [
        ("furlongs/fortnight", "not an amount"),
        ("s", "not an amount"),
        ("1/mL", "not an amount"),
        ("bogons/mL", "unknown unit"),
        ("{widgets}/mL", "unknown unit"),
    ],
)
def test_bad_analyte_units(unit: str, why: str) -> None:
    assert why in str(analyte_unit_problem(unit))


def test_check_units_names_the_analyte_and_row() -> None:
    with pytest.raises(DataError, match=r"f.csv \[row 7\]: analyte 'v': unit 'furlongs"):
        check_units(_ds(_o(), _o(1.0, unit="furlongs/fortnight", origin="row 7")))
    with pytest.raises(DataError, match="mixes units 'copies/mL' and 'mg/dL'"):
        check_units(_ds(_o(), _o(1.0, v=5.0, unit="mg/dL")), "v")
    with pytest.raises(DataError, match="no analyte 'x'"):
        check_units(_ds(_o()), "x")
    assert check_units(_ds(_o(), _o(1.0, unit="{copies}/mL"))) == {"v": "copies/mL"}


def test_harmonize_units_converts_commensurable_units() -> None:
    ds = _ds(
        _o(),
        _o(1.0, v=2e8, unit="copies/L"),
        _o(2.0, v=3.0, unit="log10 copies/mL"),
        _o(3.0, v=None, unit="copies/L", censoring=Censoring.LEFT, limit=1e6),
    )
    out = harmonize_units(ds)
    assert {o.unit for o in out.observations} == {"copies/mL"}
    assert [o.value for o in out.observations][:3] == pytest.approx([1e5, 2e5, 1e3])
    assert out.observations[3].limit == pytest.approx(1e3)
    assert "units harmonised: 3 records" in out.provenance.curation_steps[-1]
    assert harmonize_units(out) is out


# --------------------------------------------------------------------------- lint rules
def test_new_lint_rules() -> None:
    assert [f.rule for f in lint(_ds()).findings] == ["empty-dataset"]
    assert not lint(_ds()).ok
    mixed = list(MixedUnits().check(_ds(_o(), _o(1.0, v=1.0, unit="mg/dL"))))
    assert len(mixed) == 1 and mixed[0].severity is Severity.ERROR
    ok_mix = list(MixedUnits().check(_ds(_o(), _o(1.0, unit="copies/L"))))
    assert len(ok_mix) == 1 and ok_mix[0].severity is Severity.WARNING
    assert list(UnknownUnit().check(_ds(_o(unit="furlongs/fortnight"))))
    clash = list(ConflictingValues().check(_ds(_o(2.0), _o(2.0, v=2e5, origin="row 9"))))
    assert (
        len(clash) == 1
        and clash[0].severity is Severity.WARNING
        and clash[0].row == "row 9"
        and "conflicts with" in clash[0].message
    )
    replicates = _ds(_o(2.0, sample="a"), _o(2.0, v=2e5, sample="b"))
    assert not list(ConflictingValues().check(replicates))
    assert not list(ConflictingValues().check(_ds(_o(2.0), _o(2.0))))  # a duplicate, not a clash
    missing = list(MissingValue().check(_ds(_o(v=None), _o(1.0, v=None, qualitative="positive"))))
    assert len(missing) == 1
    subjects = (
        Subject("s", "forty", None, {"weight": 70}),
        Subject("t", "40-49", None, {"weight": "heavy"}),
        Subject("u", float("nan"), None, {"weight": "unknown"}),
    )
    found = list(NonNumericCovariate().check(_ds(subjects=subjects)))
    assert sorted((f.subject, f.message.split()[0]) for f in found) == [
        ("s", "age"),
        ("t", "weight"),
        ("u", "age"),
    ]
    assert list(EmptyDataset().check(_ds())) and not list(EmptyDataset().check(_ds(_o())))


def test_dedupe_collapses_exact_duplicates_only() -> None:
    ds = _ds(_o(origin="r1"), _o(origin="r2"), _o(1.0), _o(1.0, v=2e5))
    out = dedupe(ds)
    assert [o.origin for o in out.observations] == ["r1", "", ""]
    assert len(out.skipped) == 1 and out.skipped[0].reason == "exact duplicate of r1"
    assert len(out.observations) + len(out.skipped) == len(ds.observations)
    assert "exact duplicates collapsed: 1" in out.provenance.curation_steps[-1]
    assert dedupe(out) is out


# -------------------------------------------------------------------------------- FHIR
def _bundle(obs: dict[str, object]) -> dict[str, object]:
    ext = "https://immunetwin.org/fhir/StructureDefinition/"
    base = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"text": "vl"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2020-01-01T00:00:00+00:00",
        "extension": [
            {"url": ext + "reported-value", "valueDecimal": 1437143},
            {"url": ext + "unit", "valueString": "copies/mL"},
            {"url": ext + "censoring", "valueCode": "none"},
        ],
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1"}},
            {"resource": {**base, **obs}},
        ],
    }


def test_fhir_value_string_is_never_a_number() -> None:
    ds = from_fhir_bundle(_bundle({"valueString": "high"}))
    (o,) = ds.observations
    assert o.value is None and o.qualitative == "high"


def test_fhir_standard_quantity_wins_over_extensions() -> None:
    q = {"value": 42.0, "unit": "pg/mL", "system": "http://unitsofmeasure.org", "code": "pg/mL"}
    (o,) = from_fhir_bundle(_bundle({"valueQuantity": q})).observations
    assert (o.value, o.unit, o.censoring) == (42.0, "pg/mL", Censoring.NONE)
    left = {**q, "comparator": "<"}
    (o,) = from_fhir_bundle(_bundle({"valueQuantity": left})).observations
    assert (o.censoring, o.limit) == (Censoring.LEFT, 42.0)


@pytest.mark.parametrize("unit", ["furlongs/fortnight", "bogons/mL"])
def test_fhir_unknown_units_are_refused(unit: str) -> None:
    q = {"value": 1.0, "unit": unit}
    with pytest.raises(DataError, match=r"entry\[1\] Observation/o1"):
        from_fhir_bundle(_bundle({"valueQuantity": q}))


# --------------------------------------------------------------- generated documents
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        ["unknown", "negative", "positive", "inconclusive", "gc/mL", "Ct", "furlongs", ""]
    ),
    st.text(max_size=6),
)


@st.composite
def shedding_hub_docs(draw: st.DrawFn) -> dict[str, object]:
    analytes = {
        name: draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "unit": st.sampled_from(["gc/mL", "cycle threshold", "pfu/mL", "m/s", "?"])
                    | SCALARS,
                    "reference_event": st.sampled_from(["symptom onset", "inoculation"]) | SCALARS,
                    "specimen": st.sampled_from(["stool", ["nasal", "throat"]]) | SCALARS,
                    "limit_of_detection": SCALARS,
                },
            )
        )
        for name in draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True))
    }
    measurement = st.fixed_dictionaries(
        {},
        optional={
            "analyte": st.sampled_from(["a", "b", "x"]) | SCALARS,
            "time": SCALARS,
            "value": SCALARS,
            "limit_of_quantification": SCALARS,
        },
    )
    participants = st.lists(
        st.fixed_dictionaries(
            {"measurements": st.lists(measurement, max_size=4) | SCALARS},
            optional={"attributes": st.dictionaries(st.text(max_size=3), SCALARS) | SCALARS},
        ),
        max_size=3,
    )
    doc: dict[str, object] = {"analytes": analytes, "participants": draw(participants)}
    return doc


@SETTINGS
@given(shedding_hub_docs())
def test_generated_shedding_hub_yaml_raises_only_data_errors(doc: dict[str, object]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        with contextlib.suppress(DataError):
            ds = read_shedding_hub(path)
            for o in ds.observations:
                assert abs(o.time) <= 1e6
            lint(ds)


@st.composite
def fhir_observations(draw: st.DrawFn) -> dict[str, object]:
    quantity = st.fixed_dictionaries(
        {},
        optional={
            "value": st.floats() | st.integers(-(10**6), 10**6),
            "unit": st.sampled_from(["copies/mL", "{copies}/mL", "Ct", "m/s", "", "x"]),
            "code": st.sampled_from(["{copies}/mL", "pg/mL", "%"]),
            "comparator": st.sampled_from(["<", "<=", ">", ">="]),
        },
    )
    value = st.one_of(
        st.fixed_dictionaries({"valueQuantity": quantity}),
        st.fixed_dictionaries(
            {"valueString": st.text(max_size=10) | st.sampled_from(["negative"])}
        ),
        st.fixed_dictionaries({"valueRange": st.fixed_dictionaries({"low": quantity})}),
        st.just({}),
    )
    return draw(value)


@SETTINGS
@given(fhir_observations())
def test_generated_fhir_observations_raise_only_data_errors(obs: dict[str, object]) -> None:
    with contextlib.suppress(DataError):
        ds = from_fhir_bundle(json.dumps(_bundle(obs)))
        for o in ds.observations:
            assert analyte_unit_problem(o.unit) is None or o.value is None
            if "valueString" in obs:
                assert o.value is None


def test_fhir_round_trip_keeps_harmonised_units() -> None:
    ds = harmonize_units(_ds(_o(), _o(1.0, v=2e8, unit="copies/L")))
    back = from_fhir_bundle(to_fhir_bundle(ds).model_dump_json())
    assert [(o.value, o.unit) for o in back.observations] == [
        (o.value, o.unit) for o in ds.observations
    ]
    assert replace(ds.observations[0]).unit == "copies/mL"


def test_csv_and_fhir_times_are_bounded(tmp_path: Path) -> None:
    from immunetwin.data import MAX_ABS_TIME, check_times, read_csv

    path = tmp_path / "t.csv"
    header = "subject,time,analyte,specimen,value,unit,censoring,limit\n"
    path.write_text(header + "s,1,v,n,1,copies/mL,none,\ns,1e308,v,n,1,copies/mL,none,\n")
    with pytest.raises(DataError, match=r"t.csv \[row 2\]: time 1e\+308 lies beyond"):
        read_csv(path)
    ds = _ds(_o(MAX_ABS_TIME))
    assert check_times(ds) is ds
    with pytest.raises(DataError, match="observation 0"):
        check_times(_ds(_o(-2 * MAX_ABS_TIME)))
