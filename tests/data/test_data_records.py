"""Records, tidy frames, re-basing and standard curves on datasets."""

from __future__ import annotations

import pandas as pd
import pytest
from datahelpers import small_dataset

from immunetwin.data import (
    STANDARD_CURVES,
    TIDY_COLUMNS,
    Censoring,
    Dataset,
    Observation,
    Subject,
)
from immunetwin.errors import DataError


def test_to_frame_has_tidy_columns_and_round_trips() -> None:
    ds = small_dataset()
    frame = ds.to_frame()
    assert list(frame.columns[: len(TIDY_COLUMNS)]) == list(TIDY_COLUMNS)
    assert len(frame) == len(ds.observations)
    back = Dataset.from_frame(frame, subjects=ds.subjects)
    assert back.observations == ds.observations


def test_from_frame_minimal_columns_creates_subjects() -> None:
    frame = pd.DataFrame(
        {
            "subject": ["a", "b"],
            "time": [0, 1],
            "analyte": ["x", "x"],
            "specimen": ["", ""],
            "value": [1.0, None],
            "unit": ["pg/mL"] * 2,
            "censoring": ["none", "left"],
            "limit": [None, 0.5],
        }
    )
    ds = Dataset.from_frame(frame)
    assert ds.subject_ids == ("a", "b")
    assert ds.observations[1].censoring is Censoring.LEFT and ds.observations[1].limit == 0.5


def test_from_frame_errors_name_row() -> None:
    frame = small_dataset().to_frame()
    with pytest.raises(DataError, match="missing columns"):
        Dataset.from_frame(frame.drop(columns=["unit"]))
    bad = frame.astype(object)
    bad.loc[2, "censoring"] = "sideways"
    with pytest.raises(DataError, match=r"row 3"):
        Dataset.from_frame(bad)


def test_dataset_validation() -> None:
    with pytest.raises(DataError, match="duplicate subject"):
        Dataset(subjects=(Subject("a"), Subject("a")), observations=())
    with pytest.raises(DataError, match="unknown subject"):
        Dataset(subjects=(Subject("a"),), observations=(Observation("b", 0.0, "x", 1.0, "pg/mL"),))
    with pytest.raises(DataError):
        Observation("a", float("nan"), "x", 1.0, "pg/mL")
    with pytest.raises(DataError):
        Observation("a", 0.0, "x", None, "pg/mL", censoring=Censoring.INTERVAL, limit=1.0)


def test_rebase_is_explicit_and_recorded() -> None:
    ds = small_dataset()
    moved = ds.rebase("first positive", {"s1": 2.0}, analytes=["load"])
    assert [o.time for o in moved.observations if o.analyte == "load"] == [
        -2.0,
        -0.75,
        0.0,
        1.0,
        2.0,
    ]
    assert moved.reference_events["load"] == "first positive"
    assert (
        moved.interventions[0].time == -1.5
        and moved.interventions[0].reference_event == "first positive"
    )
    assert "rebase" in moved.provenance.curation_steps[-1]
    with pytest.raises(DataError, match="no offset"):
        ds.rebase("x", {}, analytes=["load"])
    with pytest.raises(DataError, match="different reference events"):
        ds.rebase("x", {"s1": 0.0, "s 2/β": 0.0})


def test_apply_standard_curve_flips_censoring() -> None:
    ds = small_dataset()
    curve = STANDARD_CURVES["kissler2021"]
    out = ds.apply_standard_curve(curve)
    cens = [o for o in out.observations if o.analyte == "ct"]
    assert cens[0].censoring is Censoring.LEFT
    assert cens[0].limit == pytest.approx(curve.ct_to_log10(40.0))
    assert cens[0].unit == "log10 copies/mL"
    assert out.analytes["ct"]["standard_curve"] == "kissler2021"
    assert "standard curve" in out.provenance.curation_steps[-1]
    with pytest.raises(DataError):
        ds.apply_standard_curve(curve, analytes=["load"])
    with pytest.raises(DataError):
        ds.apply_standard_curve("kissler2021")  # type: ignore[arg-type]


def test_convert_units() -> None:
    out = small_dataset().convert_units("copies/L", analytes=["load"])
    assert out.observations[0].value == pytest.approx(1.5e9)
    assert out.observations[1].limit == pytest.approx(1e5)
    with pytest.raises(DataError):
        small_dataset().convert_units("copies/L", analytes=["ct"])


def test_summary() -> None:
    s = small_dataset().summary()
    assert s["subjects"] == 2 and s["observations"] == 7 and s["censored"] == 5
    assert s["time_min"] == -1.0 and s["time_max"] == 4.0
