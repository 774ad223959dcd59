"""What a twin is made of: the model, one subject's data and the calibration settings.

:class:`TwinConfig` holds everything besides the data that turns a (model, subject) pair into a
:class:`~immunetwin.inference.CalibrationProblem`; it serialises to plain JSON so that a saved twin
rebuilds exactly the same problem. Helpers fill unknown detection limits and cut data sets down
to one subject.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import Censoring, Dataset, Observation
from ..errors import FitError
from ..inference import (
    CalibrationProblem,
    Estimate,
    GaussianPrior,
    InterventionMap,
    Noise,
    ObservableMap,
    Transform,
)
from ..model import ModelSpec, NoiseKind
from ..model.library import TwinDefaults
from ..simulate import SolverOptions

__all__ = [
    "TwinConfig",
    "analyte_unit",
    "fill_missing_limits",
    "model_twin_defaults",
    "only_subject",
    "subject_dataset",
]

Array = np.ndarray[Any, Any]

#: Solver settings of every twin simulation (posterior, forecasts, scenarios).
TWIN_SOLVER = SolverOptions(rtol=1e-6, atol=1e-9, max_steps=20_000)


@dataclass(frozen=True)
class TwinConfig:
    """Calibration settings of a twin (JSON-serialisable).

    Attributes
    ----------
    observables : Mapping[str, ObservableMap]
        Analyte -> model output and scale.
    estimate : tuple of Estimate
        Estimated parameters (log scale by default, bounds from the model unless given).
    interventions : Mapping[str, InterventionMap or None]
        How the subject's recorded interventions set model parameters.
    noise : Mapping[str, Noise]
        Measurement noise per analyte (default: the observable's noise model).
    fixed : Mapping[str, float]
        Values of non-estimated parameters for this subject.
    t0 : float
        Model start (infection) on the data's clock; observations before it are not used.
    lod : Mapping[str, float]
        Detection limits (in the data's unit) given to censored observations without one.
    subject : str or None
        The person (``None``: the only subject of the twin's data).
    particles : int
        Number of posterior particles.
    horizon : float or None
        Last day of forecasts and scenario outcomes (``None``: last observation + 14).
    seed : int
        Seed of the twin's random generator.
    name : str or None
        Display name (``None``: ``"<model id>:<subject>"``).
    """

    observables: Mapping[str, ObservableMap]
    estimate: tuple[Estimate, ...]
    interventions: Mapping[str, InterventionMap | None] = field(default_factory=dict)
    noise: Mapping[str, Noise] = field(default_factory=dict)
    fixed: Mapping[str, float] = field(default_factory=dict)
    t0: float = 0.0
    lod: Mapping[str, float] = field(default_factory=dict)
    subject: str | None = None
    particles: int = 1000
    horizon: float | None = None
    seed: int = 0
    name: str | None = None

    def __post_init__(self) -> None:
        if self.particles < 10:
            raise FitError(f"twin: particles must be >= 10, got {self.particles}")
        if not math.isfinite(self.t0):
            raise FitError(f"twin: t0 must be a finite day, got {self.t0}")
        if self.horizon is not None and not math.isfinite(self.horizon):
            raise FitError(f"twin: horizon must be a finite day, got {self.horizon}")

    @classmethod
    def build(
        cls,
        model: ModelSpec,
        data: Dataset,
        *,
        observables: Mapping[str, ObservableMap | str] | None = None,
        estimate: Sequence[str | Estimate] | Mapping[str, tuple[float, float]] | None = None,
        interventions: Mapping[str, InterventionMap | None] | None = None,
        noise: Mapping[str, Noise | float | str] | None = None,
        fixed: Mapping[str, float] | None = None,
        t0: float | None = None,
        lod: Mapping[str, float] | None = None,
        subject: str | None = None,
        particles: int = 1000,
        horizon: float | None = None,
        seed: int = 0,
        name: str | None = None,
    ) -> TwinConfig:
        """Normalise user arguments (defaults from the model and the data)."""
        if observables is None:
            if len(data.analyte_names) != 1 or not model.observables:
                raise FitError(
                    f"DigitalTwin: pass observables={{analyte: model output}}; the data have "
                    f"analytes {list(data.analyte_names)} and the model observables "
                    f"{[o.id for o in model.observables]}"
                )
            observables = {data.analyte_names[0]: model.observables[0].id}
        obs = {
            str(a): (om if isinstance(om, ObservableMap) else ObservableMap(str(om)))
            for a, om in observables.items()
        }
        if estimate is None:
            est = tuple(Estimate(p.id) for p in model.parameters if p.estimate)
            if not est:
                raise FitError(f"DigitalTwin: model '{model.id}' flags no parameter to estimate")
        elif isinstance(estimate, Mapping):
            est = tuple(Estimate(str(k), float(v[0]), float(v[1])) for k, v in estimate.items())
        else:
            est = tuple(e if isinstance(e, Estimate) else Estimate(str(e)) for e in estimate)
        nz = {str(a): (v if isinstance(v, Noise) else Noise(v)) for a, v in (noise or {}).items()}
        if t0 is None:
            times = [o.time for o in data.observations if o.analyte in obs]
            t0 = min(0.0, math.floor(min(times))) if times else 0.0
        return cls(
            observables=obs,
            estimate=est,
            interventions=dict(interventions or {}),
            noise=nz,
            fixed={str(k): float(v) for k, v in (fixed or {}).items()},
            t0=float(t0),
            lod={str(k): float(v) for k, v in (lod or {}).items()},
            subject=subject,
            particles=int(particles),
            horizon=None if horizon is None else float(horizon),
            seed=int(seed),
            name=name,
        )

    # ------------------------------------------------------------------ problems
    def prepare(self, data: Dataset, subject: str) -> Dataset:
        """The subject's usable observations: mapped analytes, at or after ``t0``, limits filled."""
        ds = subject_dataset(data, subject, analytes=list(self.observables))
        keep = tuple(o for o in ds.observations if o.time >= self.t0)
        if len(keep) < len(ds.observations):
            ds = ds.with_step(
                f"twin: dropped {len(ds.observations) - len(keep)} observation(s) before the "
                f"model start t0={self.t0:g} (before infection)",
                observations=keep,
            )
        return fill_missing_limits(ds, self.lod)

    def problem(
        self,
        model: ModelSpec,
        data: Dataset,
        subject: str,
        prior: GaussianPrior | None,
        *,
        prepared: bool = False,
    ) -> CalibrationProblem:
        """The calibration problem of ``subject`` in ``data`` (one compiled model, cached)."""
        ds = data if prepared else self.prepare(data, subject)
        return CalibrationProblem(
            model,
            ds,
            observables=dict(self.observables),
            estimate=list(self.estimate),
            priors=prior,
            subject=subject,
            noise=dict(self.noise) or None,
            interventions=dict(self.interventions) or None,
            fixed=dict(self.fixed) or None,
            solver=TWIN_SOLVER,
            t0=self.t0,
        )

    def sigma_of(self, model: ModelSpec, analyte: str) -> tuple[str | None, float, float]:
        """Noise of an analyte: ``(estimated parameter id or None, fixed value, scale)``.

        ``scale`` multiplies the value (the model's log10 sigma becomes |slope| times larger on
        the Ct scale).
        """
        om = self.observables[analyte]
        names = {e.id for e in self.estimate}
        nz = self.noise.get(analyte)
        scale = 1.0
        if nz is None:
            ob = next((o for o in model.observables if o.id == om.target), None)
            if ob is None:
                raise FitError(f"analyte '{analyte}': give its noise (target is no observable)")
            sig: float | str = ob.noise.sigma
            if Transform(om.transform or "identity") is Transform.CT and om.standard_curve:
                scale = abs(om.standard_curve.slope)
        else:
            sig = nz.sigma
        if isinstance(sig, str):
            if sig in names:
                return sig, math.nan, scale
            if sig in self.fixed:
                return None, float(self.fixed[sig]), scale
            return None, float(model.parameter(sig).value), scale
        return None, float(sig), scale

    def transform_of(self, model: ModelSpec, analyte: str) -> Transform:
        """The comparison scale of an analyte (as the calibration problem chooses it)."""
        om = self.observables[analyte]
        if om.transform is not None:
            return Transform(om.transform)
        ob = next((o for o in model.observables if o.id == om.target), None)
        if ob is not None and ob.noise.kind is NoiseKind.LOG10NORMAL:
            return Transform.LOG10
        if ob is not None and ob.noise.kind is NoiseKind.LOGNORMAL:
            return Transform.LN
        return Transform.IDENTITY


# ---------------------------------------------------------------------- data helpers
def only_subject(data: Dataset) -> str:
    """The one subject with observations in ``data``."""
    have = list(dict.fromkeys(o.subject for o in data.observations))
    if len(have) != 1:
        raise FitError(
            f"DigitalTwin: the data hold {len(have)} subjects with observations; pass subject=..."
        )
    return have[0]


def model_twin_defaults(model: ModelSpec) -> TwinDefaults:
    """The twin defaults of a library model (its card's ``twin``); empty for other models."""
    from ..model import library

    if model.id in library.names() and library.get(model.id).hash() == model.hash():
        return library.card(model.id).twin
    return TwinDefaults()


def subject_dataset(
    data: Dataset, subject: str, *, analytes: Iterable[str] | None = None
) -> Dataset:
    """The data of one subject (optionally only some analytes), provenance kept."""
    if subject not in data.subject_ids:
        raise FitError(f"unknown subject '{subject}' (the data hold {len(data.subjects)} subjects)")
    keep = set(analytes) if analytes is not None else None
    obs = tuple(
        o for o in data.observations if o.subject == subject and (keep is None or o.analyte in keep)
    )
    if all(o.subject == subject for o in data.observations) and len(obs) == len(data.observations):
        return data
    return data.with_step(
        f"twin: selected subject '{subject}'"
        + ("" if keep is None else f", analytes {sorted(keep)}"),
        subjects=(data.subject(subject),),
        observations=obs,
        interventions=tuple(iv for iv in data.interventions if iv.subject == subject),
    )


def analyte_unit(data: Dataset, analyte: str) -> str:
    """The unit of an analyte's observations (the first one's)."""
    for o in data.observations:
        if o.analyte == analyte:
            return o.unit
    raise FitError(f"no observations of analyte '{analyte}'")


def fill_missing_limits(data: Dataset, lod: Mapping[str, float]) -> Dataset:
    """Give censored observations without a detection limit the limit ``lod[analyte]``.

    Raises
    ------
    FitError
        If a censored observation lacks a limit and ``lod`` has none for its analyte.
    """
    out: list[Observation] = []
    filled = 0
    for o in data.observations:
        if o.censoring in (Censoring.LEFT, Censoring.RIGHT) and o.limit is None:
            if o.analyte not in lod:
                raise FitError(
                    f"analyte '{o.analyte}': censored observation(s) without a detection limit "
                    f"(subject '{o.subject}', time {o.time:g}); pass lod={{'{o.analyte}': ...}} "
                    f"in {o.unit}"
                )
            o = dataclasses.replace(o, limit=float(lod[o.analyte]))
            filled += 1
        out.append(o)
    if not filled:
        return data
    return data.with_step(
        f"twin: {filled} censored observation(s) given the detection limit(s) {dict(lod)}",
        observations=tuple(out),
    )


def default_lod(data: Dataset, analyte: str) -> float | None:
    """A detection limit for an analyte whose source gives none.

    The analyte metadata's ``lod`` (else ``loq``) if set, else the smallest detected value
    (for Ct: the largest) in the data set; ``None`` if nothing is detected.
    """
    meta = data.analytes.get(analyte, {})
    for key in ("lod", "loq"):
        v = meta.get(key)
        if isinstance(v, int | float) and math.isfinite(float(v)):
            return float(v)
    vals = [
        o.value
        for o in data.observations
        if o.analyte == analyte and o.censoring is Censoring.NONE and o.value is not None
    ]
    vals = [v for v in vals if v > 0]
    if not vals:
        return None
    return float(max(vals) if analyte_unit(data, analyte).lower() == "ct" else min(vals))


def usable_new(
    new: Dataset | Sequence[Observation] | pd.DataFrame | Observation,
    config: TwinConfig,
    subject: str,
) -> tuple[list[Observation], int]:
    """New observations of the twin's analytes at or after t0, and how many were before t0."""
    obs = [o for o in as_observations(new) if o.analyte in config.observables]
    if not obs:
        raise FitError(f"update: no observations of the twin's analytes {list(config.observables)}")
    others = {o.subject for o in obs} - {subject}
    if others:
        raise FitError(f"update: observations of other subjects {sorted(others)}")
    keep = [o for o in obs if o.time >= config.t0]
    if not keep:
        raise FitError(f"update: every new observation is before the model start t0={config.t0:g}")
    return keep, len(obs) - len(keep)


def as_observations(
    new: Dataset | Sequence[Observation] | pd.DataFrame | Observation,
) -> list[Observation]:
    """Observation records from a Dataset, a tidy table, records or one record."""
    if isinstance(new, Observation):
        return [new]
    if isinstance(new, Dataset):
        return list(new.observations)
    if isinstance(new, pd.DataFrame):
        return list(Dataset.from_frame(new).observations)
    out = list(new)
    if not all(isinstance(o, Observation) for o in out):
        raise FitError("update: give a Dataset, a tidy DataFrame or Observation records")
    return out
