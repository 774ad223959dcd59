"""Shared fixtures of the data-layer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from immunetwin.data import (
    Censoring,
    Dataset,
    Intervention,
    InterventionKind,
    Observation,
    Provenance,
    Subject,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SHEDDING_HUB = SHARED / "shedding-hub" / "datasets"


def shared(name: str) -> Path:
    """Path of a shared data folder; skip the test when it is absent."""
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"shared data {name} not available")
    return path


def small_dataset() -> Dataset:
    """A hand-made dataset exercising every field."""
    subjects = (
        Subject("s1", 34, "male", {"symptomatic": True}),
        Subject("s 2/β", "18-65", None, {"note": "odd id"}),
    )
    obs = (
        Observation("s1", 0.0, "load", 1.5e6, "copies/mL", "sputum", assay="E gene", sample="a"),
        Observation(
            "s1",
            1.25,
            "load",
            None,
            "copies/mL",
            "sputum",
            Censoring.LEFT,
            100.0,
            qualitative="negative",
        ),
        Observation(
            "s1",
            2.0,
            "load",
            None,
            "copies/mL",
            "sputum",
            Censoring.LEFT,
            None,
            qualitative="negative",
        ),
        Observation(
            "s1",
            3.0,
            "load",
            None,
            "copies/mL",
            "sputum",
            Censoring.RIGHT,
            100.0,
            qualitative="weak positive",
        ),
        Observation(
            "s1", 4.0, "load", None, "copies/mL", "sputum", Censoring.INTERVAL, 10.0, upper=1e3
        ),
        Observation(
            "s 2/β",
            -1.0,
            "ct",
            41.0,
            "Ct",
            "nasopharyngeal_swab",
            Censoring.RIGHT,
            40.0,
            loq=35.0,
            lob=0.1,
        ),
        Observation("s 2/β", 2.0, "ct", 0.1 + 0.2, "Ct", "nasopharyngeal_swab", origin="row 7"),
    )
    ivs = (
        Intervention(
            "s1",
            0.5,
            InterventionKind.ANTIVIRAL,
            "oseltamivir",
            75.0,
            "mg",
            5.0,
            "symptom onset",
            route="oral",
        ),
        Intervention(
            "s 2/β",
            -3.0,
            InterventionKind.VACCINE,
            "BNT162b2",
            0.3,
            "mL",
            None,
            "onset",
            dose_number=2,
        ),
        Intervention(
            "s 2/β",
            1.0,
            InterventionKind.CYTOKINE_BLOCKADE,
            "tocilizumab",
            8.0,
            "mg/kg",
            None,
            "onset",
        ),
    )
    return Dataset(
        subjects=subjects,
        observations=obs,
        interventions=ivs,
        reference_events={"load": "symptom onset", "ct": "onset"},
        analytes={
            "load": {"unit": "copies/mL", "lod": 100.0},
            "ct": {"unit": "Ct", "lod": 40.0, "biomarker": "SARS-CoV-2"},
        },
        metadata={"title": "small", "n": 2},
        provenance=Provenance(doi="10.0/x", licence="CC0-1.0", citation="me", sha256="0" * 64),
    )


def same_records(a: Dataset, b: Dataset) -> None:
    """Assert that two datasets hold the same records."""
    assert b.subjects == a.subjects
    assert b.observations == a.observations
    assert b.interventions == a.interventions
    assert dict(b.reference_events) == dict(a.reference_events)
    assert b.skipped == a.skipped
