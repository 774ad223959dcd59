"""The recipe that turns a data set, a model and a subject into a twin: :func:`build_twin`.

It is the only place that decides which observations personalise the twin (the subject, the
analytes, a cutoff day or the first ``k`` observations), the detection limits where the data
give none, the model start time, the analyte-to-observable map and the per-model defaults
(estimated and fixed parameters, from the model library's card). The command line, predictive
validation, the demo and the benchmarks all call it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..data import (
    STANDARD_CURVES,
    Censoring,
    Dataset,
    Observation,
    StandardCurve,
    read_dataset,
)
from ..errors import FitError
from ..inference import Estimate, GaussianPrior, Noise, ObservableMap, PopulationPrior
from ..model import ModelSpec, NoiseKind
from ._config import TwinConfig, default_lod, model_twin_defaults
from ._twin import DigitalTwin

__all__ = [
    "analyte_map",
    "build_twin",
    "default_t0",
    "new_observations",
    "split_observations",
    "subject_training_data",
    "twin_config",
]


def default_t0(observations: Sequence[Observation]) -> float:
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


def split_observations(
    obs: Sequence[Observation],
    cutoff_day: float | None,
    first_k: int | None,
    horizon: float | None = None,
) -> tuple[list[Observation], list[Observation]]:
    """Observations that personalise (at or before the cutoff, or the first ``k``, ties at the
    k-th time included) and the later ones (within ``horizon`` days of the cutoff), by time.

    With neither ``cutoff_day`` nor ``first_k`` every observation personalises.
    """
    ordered = sorted(obs, key=lambda o: o.time)
    if cutoff_day is not None and first_k is not None:
        raise FitError("give at most one of cutoff_day and first_k")
    if cutoff_day is not None:
        tk = float(cutoff_day)
    elif first_k is not None:
        if first_k < 1:
            raise FitError(f"first_k must be >= 1, got {first_k}")
        if len(ordered) <= first_k:
            return ordered, []
        tk = ordered[first_k - 1].time
    else:
        return ordered, []
    end = math.inf if horizon is None else tk + horizon
    return [o for o in ordered if o.time <= tk], [o for o in ordered if tk < o.time <= end]


def _limits(
    data: Dataset, analytes: Sequence[str], lod: float | Mapping[str, float] | None
) -> dict[str, float]:
    """Detection limits for analytes with censored observations that lack one: the given one,
    else the analyte's metadata, else the smallest detected value (largest for Ct)."""
    out: dict[str, float] = {}
    for a in analytes:
        if not any(
            o.censoring is not Censoring.NONE and o.limit is None
            for o in data.observations
            if o.analyte == a
        ):
            continue
        given = lod.get(a) if isinstance(lod, Mapping) else lod
        v = given if given is not None else default_lod(data, a)
        if v is not None:
            out[a] = float(v)
    return out


def _estimates(
    model: ModelSpec, estimate: Sequence[str | Estimate] | None
) -> tuple[Estimate, ...] | None:
    if estimate is not None:
        return tuple(e if isinstance(e, Estimate) else Estimate(str(e)) for e in estimate)
    defaults = model_twin_defaults(model).estimate
    return tuple(Estimate(e.id, e.lower, e.upper) for e in defaults) or None


def _fixed(
    model: ModelSpec, fixed: Mapping[str, float] | None, estimated: set[str]
) -> dict[str, float]:
    if fixed is not None:
        return {str(k): float(v) for k, v in fixed.items()}
    return {k: v for k, v in model_twin_defaults(model).fixed if k not in estimated}


def twin_config(
    data: Dataset,
    model: ModelSpec,
    *,
    analytes: Sequence[str],
    subject: str | None = None,
    t0: float | None = None,
    estimate: Sequence[str | Estimate] | None = None,
    fixed: Mapping[str, float] | None = None,
    lod: float | Mapping[str, float] | None = None,
    standard_curve: StandardCurve | None = None,
    noise: Mapping[str, Noise] | None = None,
    particles: int = 1000,
    horizon: float | None = None,
    seed: int = 0,
    name: str | None = None,
) -> TwinConfig:
    """The settings of a twin of ``model`` on ``data`` (see :func:`build_twin`).

    ``t0`` defaults to :func:`default_t0` of the analytes' observations in ``data`` (pass the
    subject's data for a personal start, a cohort's for a shared one).
    """
    if not analytes:
        raise FitError("twin: give at least one analyte")
    observables = {a: analyte_map(data, model, a, standard_curve) for a in analytes}
    est = _estimates(model, estimate)
    named = (
        {e.id for e in est} if est is not None else {p.id for p in model.parameters if p.estimate}
    )
    if t0 is None:
        t0 = default_t0([o for o in data.observations if o.analyte in observables])
    return TwinConfig.build(
        model,
        data,
        observables=observables,
        estimate=est,
        fixed=_fixed(model, fixed, named),
        t0=t0,
        lod=_limits(data, analytes, lod),
        noise=noise,
        subject=subject,
        particles=particles,
        horizon=horizon,
        seed=seed,
        name=name,
    )


def subject_training_data(
    data: Dataset,
    subject: str,
    analytes: Sequence[str],
    *,
    cutoff_day: float | None = None,
    first_k: int | None = None,
    t0: float | None = None,
) -> Dataset:
    """The subject's observations of ``analytes`` that personalise the twin (by time; with
    ``t0``, only those at or after it count, also for ``first_k``)."""
    if subject not in data.subject_ids:
        raise FitError(f"unknown subject '{subject}' (e.g. {list(data.subject_ids[:5])})")
    mine = [o for o in data.observations if o.subject == subject and o.analyte in analytes]
    if t0 is not None:
        mine = [o for o in mine if o.time >= t0]
    train, _ = split_observations(mine, cutoff_day, first_k)
    if not train:
        raise FitError(f"subject '{subject}' has no {list(analytes)} observations to fit")
    cut = "" if cutoff_day is None else f", observations up to day {cutoff_day:g}"
    cut += "" if first_k is None else f", first {first_k} observations"
    return data.with_step(
        f"twin: subject '{subject}', analytes {list(analytes)}{cut}",
        subjects=(data.subject(subject),),
        observations=tuple(train),
        interventions=tuple(iv for iv in data.interventions if iv.subject == subject),
    )


def build_twin(
    dataset: Dataset | str | Path,
    model: ModelSpec | str,
    *,
    subject: str,
    analytes: Sequence[str] | str,
    cutoff_day: float | None = None,
    first_k: int | None = None,
    prior: PopulationPrior | GaussianPrior | None = None,
    estimate: Sequence[str | Estimate] | None = None,
    fixed: Mapping[str, float] | None = None,
    lod: float | Mapping[str, float] | None = None,
    standard_curve: StandardCurve | None = None,
    t0: float | None = None,
    noise: Mapping[str, Noise] | None = None,
    particles: int = 1000,
    horizon: float | None = None,
    seed: int = 0,
    name: str | None = None,
) -> DigitalTwin:
    """A (not yet calibrated) twin of one subject: the one recipe of the package.

    Parameters
    ----------
    dataset
        A Dataset or a path any data reader takes.
    model
        Model spec or library model name.
    subject
        The person.
    analytes
        Analyte(s) the twin is fitted to, each mapped to the model's viral-load observable
        (:func:`analyte_map`; Ct through ``standard_curve`` or the data set's known curve).
    cutoff_day, first_k
        At most one: personalise on the observations at or before ``cutoff_day``, or on the
        first ``k`` (ties at the k-th time included); default: all.
    prior
        Population or Gaussian prior (default: the model's priors).
    estimate, fixed
        Estimated parameters and fixed values; default: the model's twin defaults (library card
        ``twin``; the model's own ``estimate`` flags where it has none). Default fixed values
        never fix a parameter that is estimated.
    lod
        Detection limit (data unit; one number or per analyte) for censored observations that
        lack one (default: the analyte's metadata, else the smallest detected value).
    t0
        Model start on the data clock (default: :func:`default_t0` of the subject's
        personalising observations); observations before it are not used (nor counted by
        ``first_k``).
    noise, particles, horizon, seed, name
        As in :class:`TwinConfig`.
    """
    from ..model import library

    ds = dataset if isinstance(dataset, Dataset) else read_dataset(dataset)
    spec = library.get(model) if isinstance(model, str) else model
    names = [analytes] if isinstance(analytes, str) else list(analytes)
    train = subject_training_data(ds, subject, names, cutoff_day=cutoff_day, first_k=first_k, t0=t0)
    config = twin_config(
        ds,
        spec,
        analytes=names,
        subject=subject,
        t0=t0 if t0 is not None else default_t0(train.observations),
        estimate=estimate,
        fixed=fixed,
        lod=lod,
        standard_curve=standard_curve,
        noise=noise,
        particles=particles,
        horizon=horizon,
        seed=seed,
        name=name,
    )
    return DigitalTwin(spec, train, config, prior=prior)


def new_observations(twin: DigitalTwin, data: Dataset) -> list[Observation]:
    """The observations in ``data`` of the twin's subject and analytes at (analyte, time) pairs
    the twin has not assimilated yet."""
    seen = {(o.analyte, o.time) for o in twin.data.observations}
    return [
        o
        for o in data.observations
        if o.subject == twin.subject
        and o.analyte in twin.config.observables
        and (o.analyte, o.time) not in seen
    ]
