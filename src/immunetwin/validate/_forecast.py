"""Predictive validation of twins: forecast each subject's later data from its early data.

For each subject: the twin is built (:func:`~immunetwin.twin.build_twin`) from the observations
at or before the cutoff (or the first ``k``) with a population prior estimated from the OTHER
subjects only (cross-fitting; the subject's own later data never enter), then forecasts the
held-out observations. The baseline is the population-typical forecast: the prior predictive of
the same population prior, without personalisation. See :mod:`immunetwin.validate._scoring` for
how censored data are scored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..data import (
    Censoring,
    Dataset,
    Observation,
    StandardCurve,
    censor_placeholder,
    find_limit_placeholder,
    read_dataset,
)
from ..engine import AbstractEngine, EngineOptions, using_engine
from ..errors import FitError
from ..inference import CalibrationProblem, Estimate, Noise, PopulationPrior
from ..model import ModelSpec
from ..twin import TwinConfig, default_t0, split_observations, twin_config
from ._population import (
    SubjectFit,
    fit_population_available,
    population_prior_from,
    try_subject_fit,
)
from ._records import ValidationSummary, summarise
from ._result import ValidationResult
from ._subject import SubjectResult, SubjectTask, run_subject

__all__ = ["validate_forecast"]


@dataclass(frozen=True)
class _Cohort:
    """Who is forecast and who informs the population priors."""

    by_subject: Mapping[str, list[Observation]]
    population: list[str]
    targets: list[str]
    skipped: dict[str, str]


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
    engine: AbstractEngine | EngineOptions | str | None = None,
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
        Estimated parameters (default: the model's twin defaults, see :func:`~immunetwin.twin.build_twin`).
    fixed
        Parameters held at these values for every subject (default: the model's twin defaults).
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
    engine
        Where the subjects' twins are built and scored (see :mod:`immunetwin.engine`): an engine,
        :class:`~immunetwin.engine.EngineOptions`, text such as ``"processes:2"`` or
        ``"dask:tcp://host:8786"``, or ``None`` for the default engine (``IMMUNETWIN_ENGINE``,
        serial unless set). Results do not depend on the engine: each subject's twin draws from
        its own seeded generator.
    """
    t_start = time.perf_counter()
    _check_arguments(cutoff_day, first_k, folds, horizon)
    ds, spec, data_warnings = _inputs(dataset, model, analyte, censor_placeholders)
    all_obs = [o for o in ds.observations if o.analyte == analyte]
    base = SubjectTask(
        dataset=ds,
        model=spec,
        analyte=analyte,
        subject="",
        index=0,
        t0=default_t0(all_obs) if t0 is None else t0,
        cutoff_day=cutoff_day,
        first_k=first_k,
        horizon=horizon,
        estimate=None if estimate is None else tuple(_as_estimate(e) for e in estimate),
        fixed=fixed,
        lod=lod,
        standard_curve=standard_curve,
        noise=_noise(ds, spec, analyte, standard_curve, noise_df),
        particles=particles,
        starts=starts,
        seed=seed,
    )
    config = _population_config(base, all_obs)
    cohort = _cohort(ds, all_obs, base.t0, subjects, cutoff_day, first_k, horizon, min_observations)
    problems = {s: config.problem(spec, ds, s, None) for s in cohort.population}
    fold_of = _folds(cohort.targets, folds, seed)
    choice = _PriorChoice(cohort, problems, fold_of, population_subjects, seed)
    base, results, sources = _forecast_all(base, choice, population, engine, progress)
    run = _Run(cohort, fold_of, sources, folds, noise_df, tuple(data_warnings), t_start)
    summary = _summary(results, base, config, run)
    if progress is not None:
        progress("done", len(results), len(results))
    return ValidationResult(summary=summary, records=_records(results))


def _forecast_all(
    base: SubjectTask,
    choice: _PriorChoice,
    population: Literal["auto", "fit_population", "fallback"],
    engine: AbstractEngine | EngineOptions | str | None,
    progress: Callable[[str, int, int], None] | None,
) -> tuple[SubjectTask, list[SubjectResult], set[str]]:
    """Population priors, then every target's twin, on one engine."""
    problems = choice.problems
    with using_engine(engine) as eng:
        cache = _prefit(choice, population, base.starts, base.seed, eng, progress)
        priors, sources = _priors(choice, cache, population, base.starts, base.seed, progress)
        base = replace(
            base, report=_reportable_limit(problems.values()), empirical=_empirical_table(problems)
        )
        targets = choice.cohort.targets
        tasks = [replace(base, subject=s, index=i, prior=priors[s]) for i, s in enumerate(targets)]
        return base, _run_subjects(tasks, eng, progress), sources


def _run_subjects(
    tasks: Sequence[SubjectTask],
    eng: AbstractEngine,
    progress: Callable[[str, int, int], None] | None,
) -> list[SubjectResult]:
    """Build and score every subject's twin on the engine (one task a chunk: subjects are uneven)."""
    return eng.map(run_subject, list(tasks), progress=_hook(progress, "twins"), chunksize=1)


def _hook(
    progress: Callable[[str, int, int], None] | None, what: str
) -> Callable[[int, int], None]:
    def hook(done: int, total: int) -> None:
        if progress is not None:
            progress(what, done, total)

    return hook


@dataclass(frozen=True)
class _Run:
    """How the validation ran (for its summary)."""

    cohort: _Cohort
    fold_of: Mapping[str, int]
    sources: set[str]
    folds: int | None
    noise_df: float | None
    data_warnings: tuple[str, ...]
    started: float


def _summary(
    results: Sequence[SubjectResult], base: SubjectTask, config: TwinConfig, run: _Run
) -> ValidationSummary:
    """Scores of every held-out record and the settings of the run."""
    ds, spec, analyte, report = base.dataset, base.model, base.analyte, base.report
    return ValidationSummary(
        scores=summarise([sc for r in results for sc in r.scores]),
        model=spec.id,
        analyte=analyte,
        scale="Ct" if config.observables[analyte].transform == "ct" else "log10",
        standard_curve=_curve_name(config, analyte),
        dataset=str(ds.metadata.get("title", "") or ds.provenance.source_file),
        dataset_sha256=ds.provenance.sha256,
        cutoff_day=base.cutoff_day,
        first_k=base.first_k,
        horizon=base.horizon,
        subjects=len(run.cohort.targets),
        subjects_skipped=run.cohort.skipped,
        population_subjects=len(run.cohort.population),
        cross_fitting="leave-one-out" if run.folds is None else f"{run.folds}-fold",
        folds=dict(sorted(run.fold_of.items())) if run.fold_of else None,
        population_method=", ".join(sorted(run.sources)),
        estimated=tuple(e.id for e in config.estimate),
        fixed=dict(config.fixed),
        noise="normal" if run.noise_df is None else f"student_t(df={run.noise_df:g})",
        t0=base.t0,
        lod=config.lod.get(analyte),
        reportable_limit=None if report is None else {"side": report[0], "limit": report[1]},
        particles=base.particles,
        data_warnings=run.data_warnings,
        seconds=round(time.perf_counter() - run.started, 1),
    )


def _as_estimate(e: str | Estimate) -> Estimate:
    return e if isinstance(e, Estimate) else Estimate(str(e))


def _population_config(base: SubjectTask, all_obs: Sequence[Observation]) -> TwinConfig:
    """The twin settings shared by every subject (their population problems use it too)."""
    config = twin_config(
        base.dataset,
        base.model,
        analytes=[base.analyte],
        t0=base.t0,
        estimate=base.estimate,
        fixed=base.fixed,
        lod=base.lod,
        standard_curve=base.standard_curve,
        noise=base.noise,
        particles=base.particles,
    )
    if base.analyte not in config.lod and any(
        o.censoring is not Censoring.NONE and o.limit is None for o in all_obs
    ):
        raise FitError(f"analyte '{base.analyte}': no detection limit known; pass lod=")
    return config


def _records(results: Iterable[SubjectResult]) -> tuple[Any, ...]:
    return tuple(rec for r in results for rec in r.records)


def _curve_name(config: TwinConfig, analyte: str) -> str | None:
    curve = config.observables[analyte].standard_curve
    return None if curve is None else curve.name


def _check_arguments(
    cutoff_day: float | None, first_k: int | None, folds: int | None, horizon: float | None
) -> None:
    if (cutoff_day is None) == (first_k is None):
        raise FitError("validate_forecast: give exactly one of cutoff_day and first_k")
    if first_k is not None and first_k < 1:
        raise FitError("validate_forecast: first_k must be >= 1")
    if folds is not None and folds < 2:
        raise FitError(f"validate_forecast: folds must be >= 2, got {folds}")
    if horizon is not None and not horizon > 0:
        raise FitError(f"validate_forecast: horizon must be > 0 days, got {horizon}")


def _inputs(
    dataset: Dataset | str | Path, model: ModelSpec | str, analyte: str, censor: bool
) -> tuple[Dataset, ModelSpec, list[str]]:
    """The data (placeholders censored when asked), the model and the data warnings."""
    from ..model import library

    spec = library.get(model) if isinstance(model, str) else model
    ds = dataset if isinstance(dataset, Dataset) else read_dataset(dataset)
    ds, warnings = _placeholders(ds, analyte, censor)
    return ds, spec, warnings


def _placeholders(ds: Dataset, analyte: str, censor: bool) -> tuple[Dataset, list[str]]:
    """The data with a detection-limit placeholder censored (when asked), and the warnings."""
    placeholder = find_limit_placeholder(ds, analyte) if analyte in ds.analyte_names else None
    if placeholder is None:
        return ds, []
    if censor:
        ds, n_changed = censor_placeholder(ds, analyte, placeholder.value)
        return ds, [
            f"{n_changed} values reported at {placeholder.value:g} (a detection-limit "
            "placeholder) were treated as censored at that limit"
        ]
    return ds, [
        f"{placeholder.count} of {placeholder.total} values equal {placeholder.value:g}, "
        "a likely detection-limit placeholder, scored as measured values "
        "(censor_placeholders=True / --censor-placeholder treats them as censored)"
    ]


def _noise(
    ds: Dataset,
    spec: ModelSpec,
    analyte: str,
    curve: StandardCurve | None,
    noise_df: float | None,
) -> dict[str, Noise] | None:
    """Student-t measurement noise with ``noise_df`` degrees of freedom (not for Ct data)."""
    from ..twin import analyte_map

    if noise_df is None:
        return None
    om = analyte_map(ds, spec, analyte, curve)
    if om.transform == "ct":
        raise FitError("validate_forecast: noise_df is not supported for Ct data")
    sig = next(o for o in spec.observables if o.id == om.target).noise.sigma
    return {analyte: Noise(sig, "student_t", float(noise_df))}


def _cohort(
    ds: Dataset,
    all_obs: list[Observation],
    t0: float,
    subjects: Sequence[str] | None,
    cutoff_day: float | None,
    first_k: int | None,
    horizon: float | None,
    min_observations: int,
) -> _Cohort:
    by_subject: dict[str, list[Observation]] = {}
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
        train, test = split_observations(by_subject.get(s, []), cutoff_day, first_k, horizon)
        if not train:
            skipped[s] = "no observation before the cutoff"
        elif not test:
            within = "" if horizon is None else f" within {horizon:g} days"
            skipped[s] = f"no observation after the cutoff{within}"
        else:
            targets.append(s)
    if not targets:
        raise FitError("validate_forecast: no subject has data on both sides of the cutoff")
    return _Cohort(by_subject, pop_ids, targets, skipped)


def _folds(targets: list[str], folds: int | None, seed: int) -> dict[str, int]:
    """K-fold cross-fitting: the targets of a fold share one prior from the other folds."""
    if folds is None:
        return {}
    shuffled = list(np.random.default_rng(seed + 1).permutation(targets))
    return {sid: j % folds for j, sid in enumerate(shuffled)}


@dataclass(frozen=True)
class _PriorChoice:
    """Which other subjects enter each target's population prior (never the target itself)."""

    cohort: _Cohort
    problems: Mapping[str, CalibrationProblem]
    fold_of: Mapping[str, int]
    population_subjects: int | None
    seed: int

    def others(self, target: str) -> dict[str, CalibrationProblem]:
        held = self.fold_of.get(target)
        others = {
            k: v
            for k, v in self.problems.items()
            if k != target and (held is None or self.fold_of.get(k) != held)
        }
        cap = self.population_subjects
        if cap is not None and len(others) > cap:
            # the same subjects for every target (their fits are cached), the target excluded
            order = np.random.default_rng(self.seed).permutation(self.cohort.population)
            keep = [k for k in order if k in others][:cap]
            others = {k: others[k] for k in keep}
        return others


def _prefit(
    choice: _PriorChoice,
    population: Literal["auto", "fit_population", "fallback"],
    starts: int,
    seed: int,
    eng: AbstractEngine,
    progress: Callable[[str, int, int], None] | None,
) -> dict[str, SubjectFit]:
    """The per-subject fits every fallback prior needs, run once each on the engine (the same
    fits, with the same seeds, as the priors would run one by one)."""
    if population == "fit_population" or (population == "auto" and fit_population_available()):
        return {}
    needed = sorted({k for s in choice.cohort.targets for k in choice.others(s)})
    jobs = [(choice.problems[k], starts, seed) for k in needed]
    fits = eng.map(try_subject_fit, jobs, progress=_hook(progress, "population fits"), chunksize=1)
    return {k: f for k, f in zip(needed, fits, strict=True) if f is not None}


def _priors(
    choice: _PriorChoice,
    cache: dict[str, SubjectFit],
    population: Literal["auto", "fit_population", "fallback"],
    starts: int,
    seed: int,
    progress: Callable[[str, int, int], None] | None,
) -> tuple[dict[str, PopulationPrior], set[str]]:
    """Each target's cross-fitted population prior (never from the target itself) and the
    methods that made them."""
    fold_priors: dict[int, PopulationPrior] = {}
    priors: dict[str, PopulationPrior] = {}
    sources: set[str] = set()
    total = len(choice.cohort.targets)
    for i, s in enumerate(choice.cohort.targets):
        if progress is not None:
            progress(f"prior for {s}", i, total)
        held = choice.fold_of.get(s)
        if held is not None and held in fold_priors:
            prior = fold_priors[held]
        else:
            prior = population_prior_from(
                choice.others(s), method=population, cache=cache, starts=starts, seed=seed
            )
            if held is not None:
                fold_priors[held] = prior
        sources.add(_source(prior))
        priors[s] = prior
    return priors, sources


def _source(prior: PopulationPrior) -> str:
    if prior.source.startswith("fit_population"):
        return "fit_population (laplace-em)"
    failed = " after fit_population failed" if "fit_population failed" in prior.source else ""
    return "fallback (per-subject MAP mean/cov + mean Laplace cov)" + failed


def _empirical_table(problems: Mapping[str, Any]) -> Any:
    """Every population subject's observations on the scored scale (censored ones at their
    limit): subject, time, value."""
    parts = []
    for sid, pb in problems.items():
        f = pb.observations
        v = np.where(f["censoring"] == "none", f["value"], f["lower"])
        parts.append(pd.DataFrame({"subject": sid, "time": f["time"].to_numpy(), "value": v}))
    return pd.concat(parts, ignore_index=True) if parts else None


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
