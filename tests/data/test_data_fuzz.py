"""Property-based tests: random and corrupted input raises DataError, never anything else."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from datahelpers import SHEDDING_HUB, same_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immunetwin.data import (
    Censoring,
    Dataset,
    Observation,
    Subject,
    from_fhir_bundle,
    read_csv,
    read_fhir,
    read_parquet,
    read_petab,
    read_shedding_hub,
    write_csv,
)
from immunetwin.errors import DataError

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
READERS = {
    ".csv": read_csv,
    ".tsv": read_petab,
    ".json": read_fhir,
    ".yaml": read_shedding_hub,
    ".parquet": read_parquet,
}
SEED_YAML = (
    (SHEDDING_HUB / "woelfel2020virological.yaml").read_text(encoding="utf-8")[:6000]
    if SHEDDING_HUB.exists()
    else "a: 1\n"
)
SEED_CSV = "subject,time,analyte,specimen,value,unit,censoring,limit\n1,0,x,,2.5,pg/mL,none,\n2,1.5,x,,,pg/mL,left,0.1\n"


def _only_data_errors(suffix: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"f{suffix}"
        p.write_bytes(data)
        with contextlib.suppress(DataError):
            READERS[suffix](p)


@SETTINGS
@given(st.sampled_from(sorted(READERS)), st.binary(max_size=300))
def test_random_bytes(suffix: str, data: bytes) -> None:
    _only_data_errors(suffix, data)


def _mutate(seed: str, cuts: list[tuple[int, int, str]]) -> bytes:
    text = seed
    for pos, length, insert in cuts:
        i = pos % max(len(text), 1)
        text = text[:i] + insert + text[i + length :]
    return text.encode("utf-8", "surrogatepass")


MUTATION = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.integers(0, 20),
        st.sampled_from(
            [
                "",
                "-",
                ":",
                " x",
                "\n",
                "[",
                "negative",
                "unknown",
                "1e999",
                "'",
                "\t",
                ",",
                "NaN",
                "{}",
                "null",
            ]
        ),
    ),
    min_size=1,
    max_size=4,
)


@SETTINGS
@given(MUTATION)
def test_corrupted_shedding_hub_yaml(cuts: list[tuple[int, int, str]]) -> None:
    _only_data_errors(".yaml", _mutate(SEED_YAML, cuts))


@SETTINGS
@given(MUTATION)
def test_corrupted_csv(cuts: list[tuple[int, int, str]]) -> None:
    _only_data_errors(".csv", _mutate(SEED_CSV, cuts))


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "resourceType",
                        "entry",
                        "resource",
                        "type",
                        "subject",
                        "valueQuantity",
                        "value",
                        "code",
                        "reference",
                    ]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_random_fhir_json(doc: object) -> None:
    with contextlib.suppress(DataError):
        from_fhir_bundle(
            {"resourceType": "Bundle", "type": "collection", "entry": doc}
            if isinstance(doc, list)
            else doc
        )  # type: ignore[arg-type]


FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)


# FHIR strings must match [ \r\n\t\S]+: no other whitespace-only strings
FHIR_TEXT = st.text(
    st.characters(
        categories=("L", "N", "P", "S", "Zs"), exclude_characters="\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"
    ),
    max_size=8,
)


#: Units a FHIR reader accepts (it refuses unknown units).
KNOWN_UNITS = st.sampled_from(
    ["copies/mL", "log10 copies/mL", "Ct", "pg/mL", "cells/uL", "%", "TCID50/mL", "copies/swab"]
)


@st.composite
def datasets(
    draw: st.DrawFn,
    text: st.SearchStrategy[str] = TEXT,
    units: st.SearchStrategy[str] | None = None,
) -> Dataset:
    TEXT = text  # noqa: N806
    units = text if units is None else units
    ids = draw(
        st.lists(
            text.filter(bool),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    obs = []
    for _ in range(draw(st.integers(0, 8))):
        cens = draw(st.sampled_from(list(Censoring)))
        limit = draw(FINITE) if cens is Censoring.INTERVAL else draw(st.none() | FINITE)
        obs.append(
            Observation(
                draw(st.sampled_from(ids)),
                draw(st.floats(-1e6, 1e6)),  # readers refuse times beyond MAX_ABS_TIME
                draw(TEXT.filter(bool)),
                draw(st.none() | FINITE),
                draw(units),
                draw(TEXT),
                cens,
                limit,
                draw(FINITE) if cens is Censoring.INTERVAL else None,
                draw(TEXT),
                draw(TEXT),
            )
        )
    return Dataset(subjects=tuple(Subject(i) for i in ids), observations=tuple(obs))


@SETTINGS
@given(datasets())
def test_csv_round_trip_random_datasets(ds: Dataset) -> None:
    with tempfile.TemporaryDirectory() as d:
        same_records(ds, read_csv(write_csv(ds, Path(d) / "x.csv")))


@SETTINGS
@given(datasets())
def test_petab_round_trip_random_datasets(ds: Dataset) -> None:
    from immunetwin.data import write_petab

    with tempfile.TemporaryDirectory() as d:
        same_records(ds, read_petab(write_petab(ds, Path(d) / "x.tsv")))


@SETTINGS
@given(datasets(FHIR_TEXT, KNOWN_UNITS))
def test_fhir_round_trip_random_datasets(ds: Dataset) -> None:
    from immunetwin.data import to_fhir_bundle

    same_records(ds, from_fhir_bundle(to_fhir_bundle(ds).model_dump_json()))


@SETTINGS
@given(datasets())
def test_fhir_writer_raises_only_dataerror(ds: Dataset) -> None:
    from immunetwin.data import to_fhir_bundle

    with contextlib.suppress(DataError):
        to_fhir_bundle(ds)
