"""Typed records and summaries of a predictive validation (their JSON keys are the documented ones).

:class:`ForecastRecord` is one held-out observation with the twin's and the baseline's forecast
quantiles; :class:`RecordScore` its scores; :class:`ScoreSummary` the aggregated figures and
:class:`ValidationSummary` those with the settings of the run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = [
    "ForecastRecord",
    "RecordScore",
    "ScoreSummary",
    "ValidationSummary",
    "summarise",
]


@dataclass(frozen=True)
class ForecastRecord:
    """One held-out observation: the value (``None`` when censored), its limit (censored only),
    and the quantiles (``q05`` ... ``q95``) of the twin's forecast and of the baseline's."""

    subject: str
    time: float
    observed: float | None
    censoring: str
    limit: float | None
    forecast: Mapping[str, float]
    baseline: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The JSON record."""
        d = dataclasses.asdict(self)
        d["forecast"], d["baseline"] = dict(self.forecast), dict(self.baseline)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ForecastRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(**{f.name: d[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class RecordScore:
    """Scores of one held-out observation: for the twin (``f_``) and the population baseline
    (``b_``): 50%/90% interval coverage, absolute error of the median, CRPS; the model-free
    empirical baseline's absolute error (``e_ae``); whether the observation is censored."""

    censored: float
    f_c50: float
    f_c90: float
    f_ae: float
    f_crps: float
    b_c50: float
    b_c90: float
    b_ae: float
    b_crps: float
    e_ae: float


@dataclass(frozen=True)
class ScoreSummary:
    """Aggregated scores (``None`` fields are left out of the JSON)."""

    records: int
    censored_records: int
    coverage_50: float
    coverage_90: float
    baseline_coverage_50: float
    baseline_coverage_90: float
    median_abs_error: float
    baseline_median_abs_error: float
    mean_abs_error: float
    baseline_mean_abs_error: float
    crps: float
    baseline_crps: float
    median_abs_error_detected: float | None = None
    baseline_median_abs_error_detected: float | None = None
    coverage_90_detected: float | None = None
    empirical_baseline_median_abs_error: float | None = None
    empirical_baseline_median_abs_error_detected: float | None = None
    error_reduction: float | None = None
    mean_error_reduction: float | None = None
    error_reduction_detected: float | None = None
    crps_reduction: float | None = None

    _ALWAYS = ("error_reduction", "mean_error_reduction", "crps_reduction")

    def to_dict(self) -> dict[str, Any]:
        """The JSON figures (optional ones only when computed)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None or f.name in self._ALWAYS
        }


def _reduction(model: float, baseline: float) -> float | None:
    return None if baseline == 0 else 1.0 - model / baseline


def summarise(scores: Sequence[RecordScore]) -> ScoreSummary:
    """Coverage, errors and CRPS of the twin and the baselines over ``scores``."""
    if not scores:
        raise ValueError("no scores to summarise")
    cols = {f.name: np.asarray([getattr(s, f.name) for s in scores]) for f in fields(RecordScore)}
    det = cols["censored"] == 0
    mae, bmae = float(np.median(cols["f_ae"])), float(np.median(cols["b_ae"]))
    mean, bmean = float(np.mean(cols["f_ae"])), float(np.mean(cols["b_ae"]))
    crps, bcrps = float(np.nanmean(cols["f_crps"])), float(np.nanmean(cols["b_crps"]))
    extra: dict[str, float | None] = {}
    if det.any():
        mae_det = float(np.median(cols["f_ae"][det]))
        base_det = float(np.median(cols["b_ae"][det]))
        extra["median_abs_error_detected"] = mae_det
        extra["baseline_median_abs_error_detected"] = base_det
        extra["coverage_90_detected"] = float(np.mean(cols["f_c90"][det]))
        if base_det > 0:
            extra["error_reduction_detected"] = _reduction(mae_det, base_det)
    emp = cols["e_ae"]
    if np.isfinite(emp).any():
        extra["empirical_baseline_median_abs_error"] = float(np.nanmedian(emp))
        if det.any():
            extra["empirical_baseline_median_abs_error_detected"] = float(np.nanmedian(emp[det]))
    return ScoreSummary(
        records=len(scores),
        censored_records=int(np.sum(~det)),
        coverage_50=float(np.mean(cols["f_c50"])),
        coverage_90=float(np.mean(cols["f_c90"])),
        baseline_coverage_50=float(np.mean(cols["b_c50"])),
        baseline_coverage_90=float(np.mean(cols["b_c90"])),
        median_abs_error=mae,
        baseline_median_abs_error=bmae,
        mean_abs_error=mean,
        baseline_mean_abs_error=bmean,
        crps=crps,
        baseline_crps=bcrps,
        error_reduction=_reduction(mae, bmae),
        mean_error_reduction=_reduction(mean, bmean),
        crps_reduction=(1.0 - crps / bcrps) if bcrps else None,
        **extra,
    )


@dataclass(frozen=True)
class ValidationSummary:
    """The summary of a validation: the figures (:class:`ScoreSummary`) and the run's settings.

    Reads like the JSON mapping too (``summary["coverage_90"]``, ``summary.get(...)``).
    """

    scores: ScoreSummary
    model: str
    analyte: str
    scale: str
    standard_curve: str | None
    dataset: str
    dataset_sha256: str | None
    cutoff_day: float | None
    first_k: int | None
    horizon: float | None
    subjects: int
    subjects_skipped: Mapping[str, str]
    population_subjects: int
    cross_fitting: str
    folds: Mapping[str, int] | None
    population_method: str
    estimated: tuple[str, ...]
    fixed: Mapping[str, float]
    noise: str
    t0: float
    lod: float | None
    reportable_limit: Mapping[str, Any] | None
    particles: int
    data_warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (figures first, then settings; same keys as the documented schema)."""
        out = self.scores.to_dict()
        for f in fields(self):
            if f.name in ("scores", "extra"):
                continue
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Mapping):
                v = dict(v)
            out[f.name] = v
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ValidationSummary:
        """Inverse of :meth:`to_dict` (unknown keys are kept in ``extra``)."""
        score_names = {f.name for f in fields(ScoreSummary)}
        own = {f.name for f in fields(cls)} - {"scores", "extra"}
        scores = ScoreSummary(**{k: v for k, v in d.items() if k in score_names})
        kw = {k: v for k, v in d.items() if k in own}
        for k in ("estimated", "data_warnings"):
            if k in kw:
                kw[k] = tuple(kw[k])
        extra = {k: v for k, v in d.items() if k not in score_names | own}
        return cls(scores=scores, extra=extra, **kw)

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The JSON value of ``key`` (``default`` when absent)."""
        return self.to_dict().get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())


def num(x: float | None) -> float | None:
    """``x`` as a JSON number, ``None`` when missing or not finite."""
    return None if x is None or not math.isfinite(x) else float(x)
