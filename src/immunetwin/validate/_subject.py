"""One subject of a predictive validation: build its twin, forecast its held-out data, score.

:func:`run_subject` is a module-level function of one picklable :class:`SubjectTask`, so that an
execution engine can run the subjects in other processes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data import Dataset, StandardCurve
from ..inference import Estimate, GaussianPrior, Noise, PopulationPrior
from ..model import ModelSpec
from ..twin import QCOLS, QUANTILES, build_twin, split_observations
from ._records import ForecastRecord, RecordScore, num
from ._scoring import abs_error, covers, score_crps

__all__ = ["SubjectResult", "SubjectTask", "empirical_median", "run_subject"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class SubjectTask:
    """Everything needed to validate one subject (picklable).

    ``index`` gives the twin's seed (``seed + index``); ``report`` is the assay's reportable
    limit on the scored scale (side, value) and ``empirical`` the other subjects' observations
    (model-free baseline), both from the population.
    """

    dataset: Dataset
    model: ModelSpec
    analyte: str
    subject: str
    index: int
    t0: float
    cutoff_day: float | None = None
    first_k: int | None = None
    horizon: float | None = None
    prior: PopulationPrior | GaussianPrior | None = None
    estimate: tuple[Estimate, ...] | None = None
    fixed: Mapping[str, float] | None = None
    lod: float | None = None
    standard_curve: StandardCurve | None = None
    noise: Mapping[str, Noise] | None = None
    particles: int = 1000
    starts: int = 8
    seed: int = 0
    report: tuple[str, float] | None = None
    empirical: pd.DataFrame | None = None


@dataclass(frozen=True)
class SubjectResult:
    """The held-out records of one subject and their scores."""

    subject: str
    records: tuple[ForecastRecord, ...]
    scores: tuple[RecordScore, ...]


def _q(d: Array) -> dict[str, float]:
    q = np.nanquantile(d, QUANTILES)
    return {c: float(v) for c, v in zip(QCOLS, q, strict=True)}


def _held_out(task: SubjectTask) -> Dataset:
    """The subject's held-out observations (after the cutoff, within the horizon)."""
    ds, s = task.dataset, task.subject
    mine = [
        o
        for o in ds.observations
        if o.subject == s and o.analyte == task.analyte and o.time >= task.t0
    ]
    _, test = split_observations(mine, task.cutoff_day, task.first_k, task.horizon)
    return ds.with_step(
        f"validation: subject '{s}' held-out observations",
        subjects=(ds.subject(s),),
        observations=tuple(test),
        interventions=tuple(iv for iv in ds.interventions if iv.subject == s),
    )


def _score(
    d_f: Array, d_b: Array, val: float, cens: str, lo: float, hi: float, task: SubjectTask, t: float
) -> RecordScore:
    """Scores of one record (the assay's reportable range applied to detected values)."""
    report = task.report
    out: dict[str, float] = {"censored": float(cens != "none")}
    for tag, d in (("f", d_f), ("b", d_b)):
        if cens == "none" and report is not None:  # score what the assay can report
            d = np.maximum(d, report[1]) if report[0] == "left" else np.minimum(d, report[1])
            val = max(val, report[1]) if report[0] == "left" else min(val, report[1])
        q = _q(d)
        out[f"{tag}_c50"] = float(covers(q["q25"], q["q75"], val, cens, lo, hi))
        out[f"{tag}_c90"] = float(covers(q["q05"], q["q95"], val, cens, lo, hi))
        out[f"{tag}_ae"] = abs_error(q["q50"], val, cens, lo, hi)
        out[f"{tag}_crps"] = score_crps(d, val, cens, lo, hi)
    emp = empirical_median(task.empirical, task.subject, t, report)
    out["e_ae"] = abs_error(emp, val, cens, lo, hi) if emp is not None else math.nan
    return RecordScore(**out)


def run_subject(task: SubjectTask) -> SubjectResult:
    """Build the subject's twin from its early data with the cross-fitted prior, forecast the
    held-out observations (and the population baseline's prior predictive), score them."""
    test_ds = _held_out(task)
    last = max(o.time for o in test_ds.observations)
    twin = build_twin(
        task.dataset,
        task.model,
        subject=task.subject,
        analytes=[task.analyte],
        cutoff_day=task.cutoff_day,
        first_k=task.first_k,
        prior=task.prior,
        estimate=task.estimate,
        fixed=task.fixed,
        lod=task.lod,
        standard_curve=task.standard_curve,
        t0=task.t0,
        noise=task.noise,
        particles=task.particles,
        horizon=last,
        seed=task.seed + task.index,
    )
    twin.calibrate(starts=task.starts)
    frame = twin.config.problem(task.model, test_ds, task.subject, None).observations
    times = np.unique(frame["time"].to_numpy(dtype=float))
    fd = twin.forecast(times, states=False).draws[task.analyte]
    bd = twin.prior_forecast(times, draws=task.particles).draws[task.analyte]
    records, scores = [], []
    for _, row in frame.iterrows():
        j = int(np.searchsorted(times, row["time"]))
        cens = str(row["censoring"])
        val, lo, hi = float(row["value"]), float(row["lower"]), float(row["upper"])
        t = float(row["time"])
        records.append(
            ForecastRecord(
                subject=task.subject,
                time=t,
                observed=None if cens != "none" else num(val),
                censoring=cens,
                limit=None if cens == "none" else num(lo),
                forecast=_q(fd[:, j]),
                baseline=_q(bd[:, j]),
            )
        )
        scores.append(_score(fd[:, j], bd[:, j], val, cens, lo, hi, task, t))
    return SubjectResult(task.subject, tuple(records), tuple(scores))


def empirical_median(
    table: pd.DataFrame | None, target: str, t: float, report: tuple[str, float] | None
) -> float | None:
    """Median of the other subjects' observations nearest to day ``t`` (model-free baseline)."""
    if table is None:
        return None
    rows = table[table["subject"] != target]
    if rows.empty:
        return None
    d = np.abs(rows["time"].to_numpy() - t)
    vals = rows["value"].to_numpy()[d <= d.min() + 0.5]
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return None
    m = float(np.median(vals))
    if report is not None:
        m = max(m, report[1]) if report[0] == "left" else min(m, report[1])
    return m
