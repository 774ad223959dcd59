"""Predictive validation: scoring, cross-fitting without leakage, JSON schema (3-subject smoke run)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from immunetwin import datasets
from immunetwin.data import read_dataset
from immunetwin.errors import FitError
from immunetwin.twin import split_observations
from immunetwin.validate import (
    ForecastRecord,
    ValidationSummary,
    crps_sample,
    load_result,
    validate_forecast,
)
from immunetwin.validate import _forecast as vf
from immunetwin.validate._scoring import abs_error, covers, score_crps

ANALYTE = "nasal_SARSCoV2"


def test_crps_sample_matches_closed_form():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(20000)
    # CRPS of N(0,1) at y=0 is 2*phi(0) - 1 - 2*0*Phi(0) + ... = (sqrt(2) - 1)/sqrt(pi)
    expected = (np.sqrt(2) - 1) / np.sqrt(np.pi)
    assert crps_sample(x, 0.0) == pytest.approx(expected, abs=0.01)
    assert crps_sample(np.full(10, 3.0), 1.0) == pytest.approx(2.0)


def test_censored_scoring():
    # a forecast below the limit for a negative (left-censored at 2) is right
    assert covers(0.0, 1.5, np.nan, "left", 2.0, np.nan)
    assert not covers(2.5, 4.0, np.nan, "left", 2.0, np.nan)
    assert abs_error(1.0, np.nan, "left", 2.0, np.nan) == 0.0
    assert abs_error(3.0, np.nan, "left", 2.0, np.nan) == pytest.approx(1.0)
    # Ct negatives are right-censored (Ct > 40)
    assert covers(35.0, 42.0, np.nan, "right", 40.0, np.nan)
    assert abs_error(41.0, np.nan, "right", 40.0, np.nan) == 0.0
    assert score_crps(np.full(50, 1.0), np.nan, "left", 2.0, np.nan) == pytest.approx(0.0)
    assert score_crps(np.full(50, 3.0), np.nan, "left", 2.0, np.nan) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    ds = read_dataset(datasets.path())
    seen: list[tuple[str, list[str]]] = []
    real = vf.population_prior_from

    def spy(problems, **kw):
        seen.append(("", sorted(problems)))
        return real(problems, **kw)

    vf.population_prior_from = spy
    try:
        res = validate_forecast(
            ds,
            "ke2022_sarscov2",
            ANALYTE,
            cutoff_day=3.0,
            horizon=6.0,
            subjects=["p1", "p2", "p3"],
            population="fallback",
            population_subjects=3,
            particles=120,
            starts=4,
        )
    finally:
        vf.population_prior_from = real
    return res, seen


def test_smoke_records_and_summary(smoke, tmp_path):
    res, _ = smoke
    doc = res.to_dict()
    assert set(doc) == {"summary", "records"}
    r0 = doc["records"][0]
    assert set(r0) == {"subject", "time", "observed", "censoring", "limit", "forecast", "baseline"}
    assert set(r0["forecast"]) == set(r0["baseline"]) == {"q05", "q25", "q50", "q75", "q95"}
    assert all(3.0 < r["time"] <= 9.0 for r in doc["records"])  # horizon: 6 days
    assert {r["subject"] for r in doc["records"]} == {"p1", "p2", "p3"}
    for r in doc["records"]:
        assert (r["observed"] is None) == (r["censoring"] != "none")
        assert (r["limit"] is None) == (r["censoring"] == "none")
    s = doc["summary"]
    for key in (
        "coverage_50",
        "coverage_90",
        "median_abs_error",
        "baseline_median_abs_error",
        "crps",
    ):
        assert np.isfinite(s[key])
    assert s["population_method"].startswith("fallback")
    assert "reportable_limit" in s
    assert s["horizon"] == 6.0
    # the model's refractory-cell reversion is held at 0 by default (acute courses only)
    assert s["fixed"] == {"rho": 0.0} and "rho" not in s["estimated"]
    path = res.save(tmp_path / "r.json")
    assert json.loads(path.read_text())["summary"]["subjects"] == 3
    # typed records and summary; the JSON round-trips to the same typed result
    assert isinstance(res.summary, ValidationSummary)
    assert all(isinstance(r, ForecastRecord) for r in res.records)
    assert res.summary.scores.coverage_90 == s["coverage_90"] == res.summary["coverage_90"]
    back = load_result(path)
    assert back.to_dict() == json.loads(path.read_text())
    assert res.plot(tmp_path / "r.png").stat().st_size > 1000


def test_cross_fitting_never_uses_the_target(smoke):
    res, seen = smoke
    targets = ["p1", "p2", "p3"]
    assert len(seen) == 3
    for target, (_, used) in zip(targets, seen, strict=True):
        assert target not in used and len(used) == 3


def test_argument_errors():
    ds = read_dataset(datasets.path())
    with pytest.raises(FitError, match="exactly one"):
        validate_forecast(ds, "ke2022_sarscov2", ANALYTE)
    with pytest.raises(FitError, match="unknown subject"):
        validate_forecast(ds, "ke2022_sarscov2", ANALYTE, first_k=3, subjects=["nobody"])


def test_horizon_must_be_positive():
    ds = read_dataset(datasets.path())
    with pytest.raises(FitError, match="horizon"):
        validate_forecast(ds, "ke2022_sarscov2", ANALYTE, cutoff_day=3.0, horizon=0.0)


def test_split_horizon():
    class Obs:
        def __init__(self, t: float) -> None:
            self.time = t

    obs = [Obs(t) for t in (5.0, 0.0, 1.0, 2.0, 9.0, 3.0)]
    train, test = split_observations(obs, None, 3, 4.0)  # third observation at t=2, score (2, 6]
    assert [o.time for o in train] == [0.0, 1.0, 2.0]
    assert [o.time for o in test] == [3.0, 5.0]
    train, test = split_observations(obs, 1.5, None)
    assert [o.time for o in train] == [0.0, 1.0] and [o.time for o in test] == [2.0, 3.0, 5.0, 9.0]


def test_k_fold_cross_fitting_shares_one_prior_per_fold(monkeypatch):
    ds = read_dataset(datasets.path())
    seen: list[list[str]] = []
    real = vf.population_prior_from

    def spy(problems, **kw):
        seen.append(sorted(problems))
        return real(problems, **kw)

    monkeypatch.setattr(vf, "population_prior_from", spy)
    real_run = vf.run_subject

    def via_pickle(task):  # what a process pool or a Dask worker does with a subject
        return pickle.loads(pickle.dumps(real_run(pickle.loads(pickle.dumps(task)))))

    monkeypatch.setattr(vf, "run_subject", via_pickle)
    targets = ["p1", "p2", "p3", "p4"]
    res = validate_forecast(
        ds,
        "ke2022_sarscov2",
        ANALYTE,
        cutoff_day=3.0,
        horizon=2.0,
        subjects=targets,
        folds=2,
        population_subjects=6,
        particles=40,
        starts=2,
    )
    assert len(seen) == 2 and res.summary["cross_fitting"] == "2-fold"
    fold_of = res.summary["folds"]
    assert sorted(fold_of) == targets and sorted(fold_of.values()) == [0, 0, 1, 1]
    # priors are built in the order the targets are met; none uses a subject of its own fold
    order = list(dict.fromkeys(fold_of[t] for t in targets))
    for used, fold in zip(seen, order, strict=True):
        assert not {t for t in targets if fold_of[t] == fold} & set(used)
    assert {r.subject for r in res.records} == set(targets)
    with pytest.raises(FitError, match="folds"):
        validate_forecast(ds, "ke2022_sarscov2", ANALYTE, cutoff_day=3.0, folds=1)
