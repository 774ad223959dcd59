"""Predictive validation of twins: forecast each subject's later data from its early data.

For each subject: the twin is built from the observations at or before the cutoff (or the first
``k``) with a population prior estimated from the OTHER subjects only (cross-fitting; the
subject's own later data never enter), then forecasts the held-out observations. The baseline is
the population-typical forecast: the prior predictive of the same population prior, without
personalisation. See :mod:`immunetwin.validate._scoring` for how censored data are scored.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..data import (
    STANDARD_CURVES,
    Censoring,
    Dataset,
    StandardCurve,
    censor_placeholder,
    find_limit_placeholder,
    read_dataset,
)
from ..errors import FitError
from ..inference import Estimate, Noise, ObservableMap
from ..model import ModelSpec, NoiseKind
from ..twin import QCOLS, QUANTILES, DigitalTwin, TwinConfig, default_lod
from ._population import SubjectFit, population_prior_from
from ._scoring import abs_error, covers, score_crps

__all__ = [
    "DEFAULT_ESTIMATES",
    "DEFAULT_FIXED",
    "ValidationResult",
    "analyte_map",
    "validate_forecast",
]

Array = np.ndarray[Any, Any]

#: Estimated parameters per library model (log scale; ``V0`` wide so that it absorbs the unknown
#: infection time on a symptom-onset or confirmation clock).
DEFAULT_ESTIMATES: dict[str, tuple[Estimate, ...]] = {
    "ke2022_sarscov2": (
        Estimate("beta", 1e-10, 1e-6),
        Estimate("delta1"),
        Estimate("delta2"),
        Estimate("piv"),
        Estimate("V0", 1e-12, 1e2),
        Estimate("sigma_v"),
    ),
    "baccam2006_influenza": (
        Estimate("beta"),
        Estimate("delta"),
        Estimate("p"),
        Estimate("c"),
        Estimate("V0", 1e-8, 10.0),
        Estimate("sigma_titer"),
    ),
}

#: Parameters held fixed per library model during validation. ``ke2022_sarscov2``: no reversion
#: of refractory cells (``rho = 0``), so that every course is acute; with ``rho > 0`` the model has
#: a chronic equilibrium fed by reverting cells, and twins fitted to a few early Ct values settled
#: on it (a plateau for weeks where every later test was negative).
DEFAULT_FIXED: dict[str, dict[str, float]] = {"ke2022_sarscov2": {"rho": 0.0}}


def default_t0(observations: Sequence[Any]) -> float:
    """Model start: 10 days before the earliest detection (at most day -10)."""
    first = min((o.time for o in observations if o.censoring is Censoring.NONE), default=0.0)
    return min(0.0, math.floor(first)) - 10.0


def analyte_map(
    data: Dataset, model: ModelSpec, analyte: str, standard_curve: StandardCurve | None = None
) -> ObservableMap:
    """The model output an analyte measures: the model's first log10-normal observable, on the
    log10 scale, or on the Ct scale through a standard curve for Ct data."""
    units = {o.unit for o in data.observations if o.analyte == analyte}
    if not units:
        raise FitError(f"no observations of analyte '{analyte}' (have {list(data.analyte_names)})")
    obs = [o for o in model.observables if o.noise.kind is NoiseKind.LOG10NORMAL]
    if not obs:
        raise FitError(f"model '{model.id}' has no log10-normal (viral load) observable")
    target = obs[0].id
    if any(u.lower() == "ct" for u in units):
        curve = standard_curve
        if curve is None:
            src = f"{data.provenance.source_file} {data.metadata.get('title', '')}".lower()
            curve = next(
                (c for k, c in STANDARD_CURVES.items() if k != "generic" and k in src), None
            )
        if curve is None:
            raise FitError(
                f"analyte '{analyte}' is in Ct: give a standard curve (a StandardCurve, or on the "
                f"command line --ct-curve NAME or SLOPE,INTERCEPT; named: {list(STANDARD_CURVES)}; "
                "'generic' assumes 100% efficiency and Ct 40 at 1 copy/mL)"
            )
        return ObservableMap(target, transform="ct", standard_curve=curve)
    return ObservableMap(target, transform="log10")


@dataclass(frozen=True)
class ValidationResult:
    """Records and summary of a predictive validation.

    Attributes
    ----------
    summary : dict
        Coverage of the 50% and 90% intervals, median absolute error of the median forecast and
        of the baseline's, their relative reduction, CRPS, counts and settings.
    records : list of dict
        One per held-out observation (see the issue's JSON schema).
    """

    summary: dict[str, Any]
    records: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"summary": ..., "records": [...]}``."""
        return {"summary": self.summary, "records": self.records}

    def save(self, path: str | Path) -> Path:
        """Write the JSON."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n")
        return p

    def plot(self, path: str | Path, *, max_subjects: int = 24) -> Path:
        """Observed vs forecast per subject (PNG)."""
        from ._plot import plot_validation

        return plot_validation(self, Path(path), max_subjects=max_subjects)


def _split(
    obs: list[Any], cutoff_day: float | None, first_k: int | None, horizon: float | None = None
) -> tuple[list[Any], list[Any]]:
    obs = sorted(obs, key=lambda o: o.time)
    if cutoff_day is not None:
        tk = cutoff_day
    else:
        assert first_k is not None
        if len(obs) <= first_k:
            return obs, []
        tk = obs[first_k - 1].time
    end = math.inf if horizon is None else tk + horizon
    return [o for o in obs if o.time <= tk], [o for o in obs if tk < o.time <= end]


def _q(d: Array) -> dict[str, float]:
    q = np.nanquantile(d, QUANTILES)
    return {c: float(v) for c, v in zip(QCOLS, q, strict=True)}


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def validate_forecast(
    dataset: Dataset | str | Path,
    model: ModelSpec | str,
    analyte: str,
    *,
    cutoff_day: float | None = None,
    first_k: int | None = None,
    subjects: Sequence[str] | None = None,
    estimate: Sequence[str | Estimate] | None = None,
    fixed: Mapping[str, float] | None = None,
    t0: float | None = None,
    horizon: float | None = None,
    lod: float | None = None,
    standard_curve: StandardCurve | None = None,
    noise_df: float | None = None,
    censor_placeholders: bool = False,
    particles: int = 1000,
    starts: int = 8,
    population: Literal["auto", "fit_population", "fallback"] = "fallback",
    population_subjects: int | None = None,
    folds: int | None = None,
    min_observations: int = 3,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> ValidationResult:
    """Cross-fitted predictive validation of twins on a data set (see the module doc).

    Parameters
    ----------
    dataset
        A Dataset or a path any data reader takes.
    model
        Model spec or library name.
    analyte
        Analyte to forecast (scored on log10 for copies / PFU, raw for Ct).
    cutoff_day, first_k
        Exactly one: personalise on observations at or before ``cutoff_day``, or on each subject's
        first ``k`` observations (ties at the k-th time included).
    subjects
        Subjects to forecast (default: every subject with data on both sides of the cutoff).
    estimate
        Estimated parameters (default :data:`DEFAULT_ESTIMATES` or the model's flags).
    fixed
        Parameters held at these values for every subject (default: :data:`DEFAULT_FIXED`).
    t0
        Model start on the data clock (default 10 days before the earliest detection, at most 0).
    horizon
        Score only the held-out observations at most this many days after the cutoff (or after
        the k-th observation); default: every later observation.
    lod
        Detection limit (data unit) for censored observations without one (default: the
        analyte's metadata, else the smallest detected value).
    noise_df
        Student-t measurement noise with these degrees of freedom (default: the model's normal
        noise on the scored scale). Not for Ct data, whose sigma is scaled by the curve's slope.
    censor_placeholders
        Treat the analyte's detection-limit placeholder (the smallest value, largest for Ct,
        repeated far more often than any other; see
        :func:`immunetwin.data.find_limit_placeholder`) as censored at that limit. Without it a
        placeholder found is reported in ``summary["data_warnings"]``.
    particles, starts
        Twin particles and MAP starts.
    population
        Population prior method (``auto``: ``fit_population`` when available, else the fallback).
    population_subjects
        Use at most this many other subjects for each population prior (default: all).
    folds
        K-fold cross-fitting: the targets are split into ``folds`` random folds, and the targets
        of a fold share one population prior estimated without any subject of that fold (default:
        leave-one-out, one prior per target). Makes ``fit_population`` priors affordable on large
        cohorts.
    min_observations
        Subjects with fewer usable observations (or fewer than 2 detected) do not enter the
        population priors.
    progress
        ``callback(message, done, total)``.
    """
    t_start = time.perf_counter()
    if (cutoff_day is None) == (first_k is None):
        raise FitError("validate_forecast: give exactly one of cutoff_day and first_k")
    if first_k is not None and first_k < 1:
        raise FitError("validate_forecast: first_k must be >= 1")
    if folds is not None and folds < 2:
        raise FitError(f"validate_forecast: folds must be >= 2, got {folds}")
    if horizon is not None and not horizon > 0:
        raise FitError(f"validate_forecast: horizon must be > 0 days, got {horizon}")
    ds = dataset if isinstance(dataset, Dataset) else read_dataset(dataset)
    from ..model import library

    spec = library.get(model) if isinstance(model, str) else model
    data_warnings: list[str] = []
    placeholder = find_limit_placeholder(ds, analyte) if analyte in ds.analyte_names else None
    if placeholder is not None and censor_placeholders:
        ds, n_changed = censor_placeholder(ds, analyte, placeholder.value)
        data_warnings.append(
            f"{n_changed} values reported at {placeholder.value:g} (a detection-limit "
            "placeholder) were treated as censored at that limit"
        )
    elif placeholder is not None:
        data_warnings.append(
            f"{placeholder.count} of {placeholder.total} values equal {placeholder.value:g}, "
            "a likely detection-limit placeholder, scored as measured values "
            "(censor_placeholders=True / --censor-placeholder treats them as censored)"
        )
    om = analyte_map(ds, spec, analyte, standard_curve)
    all_obs = [o for o in ds.observations if o.analyte == analyte]
    if t0 is None:
        t0 = default_t0(all_obs)
    lod_map: dict[str, float] = {}
    if any(o.censoring is not Censoring.NONE and o.limit is None for o in all_obs):
        v = lod if lod is not None else default_lod(ds, analyte)
        if v is None:
            raise FitError(f"analyte '{analyte}': no detection limit known; pass lod=")
        lod_map[analyte] = float(v)
    est = tuple(estimate) if estimate is not None else DEFAULT_ESTIMATES.get(spec.id)
    noise = None
    if noise_df is not None:
        if om.transform == "ct":
            raise FitError("validate_forecast: noise_df is not supported for Ct data")
        sig = next(o for o in spec.observables if o.id == om.target).noise.sigma
        noise = {analyte: Noise(sig, "student_t", float(noise_df))}
    fix = dict(fixed) if fixed is not None else dict(DEFAULT_FIXED.get(spec.id, {}))
    config = TwinConfig.build(
        spec,
        ds,
        observables={analyte: om},
        estimate=est,
        t0=t0,
        lod=lod_map,
        noise=noise,
        fixed=fix,
    )
    by_subject: dict[str, list[Any]] = {}
    for o in all_obs:
        if o.time >= t0:
            by_subject.setdefault(o.subject, []).append(o)
    pop_ids = [
        s
        for s, obs in by_subject.items()
        if len(obs) >= min_observations and sum(o.censoring is Censoring.NONE for o in obs) >= 2
    ]
    wanted = list(subjects) if subjects is not None else list(by_subject)
    unknown = [s for s in wanted if s not in ds.subject_ids]
    if unknown:
        raise FitError(f"validate_forecast: unknown subject(s) {unknown}")
    targets: list[str] = []
    skipped: dict[str, str] = {}
    for s in wanted:
        train, test = _split(by_subject.get(s, []), cutoff_day, first_k, horizon)
        if not train:
            skipped[s] = "no observation before the cutoff"
        elif not test:
            within = "" if horizon is None else f" within {horizon:g} days"
            skipped[s] = f"no observation after the cutoff{within}"
        else:
            targets.append(s)
    if not targets:
        raise FitError("validate_forecast: no subject has data on both sides of the cutoff")
    problems = {s: config.problem(spec, ds, s, None) for s in pop_ids}
    pop_order = list(np.random.default_rng(seed).permutation(pop_ids))
    cache: dict[str, SubjectFit] = {}
    # K-fold cross-fitting: the targets of a fold share one prior from the subjects of the other
    # folds (K population fits instead of one per target)
    fold_of: dict[str, int] = {}
    if folds is not None:
        shuffled = list(np.random.default_rng(seed + 1).permutation(targets))
        fold_of = {sid: j % folds for j, sid in enumerate(shuffled)}
    fold_priors: dict[int, Any] = {}
    report = _reportable_limit(problems.values())
    empirical = _empirical_table(problems)
    records: list[dict[str, Any]] = []
    scores: list[dict[str, float]] = []
    sources: set[str] = set()
    total = len(targets)
    for i, s in enumerate(targets):
        if progress is not None:
            progress(f"subject {s}", i, total)
        held = fold_of.get(s)
        others = {
            k: v for k, v in problems.items() if k != s and (held is None or fold_of.get(k) != held)
        }
        if population_subjects is not None and len(others) > population_subjects:
            # the same subjects for every target (their fits are cached), the target excluded
            keep = [k for k in pop_order if k in others][:population_subjects]
            others = {k: others[k] for k in keep}
        if held is not None and held in fold_priors:
            prior = fold_priors[held]
        else:
            prior = population_prior_from(
                others, method=population, cache=cache, starts=starts, seed=seed
            )
            if held is not None:
                fold_priors[held] = prior
        if prior.source.startswith("fit_population"):
            sources.add("fit_population (laplace-em)")
        else:
            failed = (
                " after fit_population failed" if "fit_population failed" in prior.source else ""
            )
            sources.add("fallback (per-subject MAP mean/cov + mean Laplace cov)" + failed)
        train, test = _split(by_subject[s], cutoff_day, first_k, horizon)
        train_ds = ds.with_step(
            f"validation: subject '{s}' observations used for personalisation",
            subjects=(ds.subject(s),),
            observations=tuple(train),
            interventions=tuple(iv for iv in ds.interventions if iv.subject == s),
        )
        test_ds = train_ds.with_step("validation: held-out", observations=tuple(test))
        last = max(o.time for o in test)
        twin = DigitalTwin(
            spec,
            train_ds,
            prior=prior,
            observables=config.observables,
            estimate=config.estimate,
            t0=t0,
            lod=config.lod,
            noise=config.noise,
            fixed=config.fixed,
            subject=s,
            particles=particles,
            horizon=last,
            seed=seed + i,
        )
        twin.calibrate(starts=starts)
        pb_test = config.problem(spec, test_ds, s, None)
        frame = pb_test.observations
        times = np.unique(frame["time"].to_numpy(dtype=float))
        fc = twin.forecast(times, states=False)
        bl = twin.prior_forecast(times, draws=particles)
        fd, bd = fc.draws[analyte], bl.draws[analyte]
        for _, row in frame.iterrows():
            j = int(np.searchsorted(times, row["time"]))
            cens = str(row["censoring"])
            val, lo_, hi_ = float(row["value"]), float(row["lower"]), float(row["upper"])
            qf, qb = _q(fd[:, j]), _q(bd[:, j])
            records.append(
                {
                    "subject": s,
                    "time": float(row["time"]),
                    "observed": None if cens != "none" else _num(val),
                    "censoring": cens,
                    "limit": None if cens == "none" else _num(lo_),
                    "forecast": qf,
                    "baseline": qb,
                }
            )
            sc: dict[str, float] = {"censored": float(cens != "none")}
            for tag, d in (("f", fd[:, j]), ("b", bd[:, j])):
                if cens == "none" and report is not None:  # score what the assay can report
                    d = (
                        np.maximum(d, report[1])
                        if report[0] == "left"
                        else np.minimum(d, report[1])
                    )
                    val = max(val, report[1]) if report[0] == "left" else min(val, report[1])
                q = _q(d)
                sc[f"{tag}_c50"] = float(covers(q["q25"], q["q75"], val, cens, lo_, hi_))
                sc[f"{tag}_c90"] = float(covers(q["q05"], q["q95"], val, cens, lo_, hi_))
                sc[f"{tag}_ae"] = abs_error(q["q50"], val, cens, lo_, hi_)
                sc[f"{tag}_crps"] = score_crps(d, val, cens, lo_, hi_)
            emp = _empirical_median(empirical, s, float(row["time"]), report)
            sc["e_ae"] = abs_error(emp, val, cens, lo_, hi_) if emp is not None else math.nan
            scores.append(sc)
    summary = _summarise(scores)
    summary.update(
        {
            "model": spec.id,
            "analyte": analyte,
            "scale": "Ct" if om.transform == "ct" else "log10",
            "standard_curve": None if om.standard_curve is None else om.standard_curve.name,
            "dataset": str(ds.metadata.get("title", "") or ds.provenance.source_file),
            "dataset_sha256": ds.provenance.sha256,
            "cutoff_day": cutoff_day,
            "first_k": first_k,
            "horizon": horizon,
            "subjects": len(targets),
            "subjects_skipped": skipped,
            "population_subjects": len(pop_ids),
            "cross_fitting": "leave-one-out" if folds is None else f"{folds}-fold",
            "folds": dict(sorted(fold_of.items())) if fold_of else None,
            "population_method": ", ".join(sorted(sources)),
            "estimated": [e.id for e in config.estimate],
            "fixed": dict(config.fixed),
            "noise": "normal" if noise_df is None else f"student_t(df={noise_df:g})",
            "t0": t0,
            "lod": lod_map.get(analyte),
            "reportable_limit": None if report is None else {"side": report[0], "limit": report[1]},
            "particles": particles,
            "data_warnings": data_warnings,
            "seconds": round(time.perf_counter() - t_start, 1),
        }
    )
    if progress is not None:
        progress("done", total, total)
    return ValidationResult(summary=summary, records=records)


def _empirical_table(problems: Mapping[str, Any]) -> Any:
    """Every population subject's observations on the scored scale (censored ones at their
    limit): subject, time, value."""
    import pandas as pd

    parts = []
    for sid, pb in problems.items():
        f = pb.observations
        v = np.where(f["censoring"] == "none", f["value"], f["lower"])
        parts.append(pd.DataFrame({"subject": sid, "time": f["time"].to_numpy(), "value": v}))
    return pd.concat(parts, ignore_index=True) if parts else None


def _empirical_median(
    table: Any, target: str, t: float, report: tuple[str, float] | None
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


def _reportable_limit(problems: Any) -> tuple[str, float] | None:
    """Direction and median limit (scored scale) of the analyte's censored observations."""
    lims: dict[str, list[float]] = {"left": [], "right": []}
    for pb in problems:
        f = pb.observations
        for side in lims:
            lims[side] += list(f.loc[f["censoring"] == side, "lower"].to_numpy(dtype=float))
    side = max(lims, key=lambda k: len(lims[k]))
    vals = [v for v in lims[side] if math.isfinite(v)]
    return (side, float(np.median(vals))) if vals else None


def _summarise(scores: list[dict[str, float]]) -> dict[str, Any]:
    if not scores:
        return {"records": 0}
    cols = {k: np.asarray([s[k] for s in scores]) for k in scores[0]}
    det = cols["censored"] == 0
    out: dict[str, Any] = {
        "records": len(scores),
        "censored_records": int(np.sum(~det)),
        "coverage_50": float(np.mean(cols["f_c50"])),
        "coverage_90": float(np.mean(cols["f_c90"])),
        "baseline_coverage_50": float(np.mean(cols["b_c50"])),
        "baseline_coverage_90": float(np.mean(cols["b_c90"])),
        "median_abs_error": float(np.median(cols["f_ae"])),
        "baseline_median_abs_error": float(np.median(cols["b_ae"])),
        "mean_abs_error": float(np.mean(cols["f_ae"])),
        "baseline_mean_abs_error": float(np.mean(cols["b_ae"])),
        "crps": float(np.nanmean(cols["f_crps"])),
        "baseline_crps": float(np.nanmean(cols["b_crps"])),
    }
    if det.any():
        out["median_abs_error_detected"] = float(np.median(cols["f_ae"][det]))
        out["baseline_median_abs_error_detected"] = float(np.median(cols["b_ae"][det]))
        out["coverage_90_detected"] = float(np.mean(cols["f_c90"][det]))
    emp = cols.get("e_ae")
    if emp is not None and np.isfinite(emp).any():
        out["empirical_baseline_median_abs_error"] = float(np.nanmedian(emp))
        if det.any():
            out["empirical_baseline_median_abs_error_detected"] = float(np.nanmedian(emp[det]))
    b = out["baseline_median_abs_error"]
    out["error_reduction"] = None if b == 0 else 1.0 - out["median_abs_error"] / b
    bm = out["baseline_mean_abs_error"]
    out["mean_error_reduction"] = None if bm == 0 else 1.0 - out["mean_abs_error"] / bm
    if det.any() and out["baseline_median_abs_error_detected"] > 0:
        out["error_reduction_detected"] = 1.0 - (
            out["median_abs_error_detected"] / out["baseline_median_abs_error_detected"]
        )
    out["crps_reduction"] = (
        1.0 - out["crps"] / out["baseline_crps"] if out["baseline_crps"] else None
    )
    return out


def load_result(path: str | Path) -> ValidationResult:
    """Read a result JSON."""
    d: Mapping[str, Any] = json.loads(Path(path).read_text())
    return ValidationResult(summary=dict(d["summary"]), records=list(d["records"]))
