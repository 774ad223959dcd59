"""The typed, immutable state of a twin: its particle posterior, MAP and history.

:class:`TwinState` is what a twin knows beyond its configuration and data; ``DigitalTwin.state``
returns it (a snapshot), ``DigitalTwin(..., state=...)`` resumes from it, and the twin directory
format (:mod:`immunetwin.twin._format`) writes and reads exactly these fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..data import Observation

__all__ = [
    "CalibrationStep",
    "HistoryEntry",
    "NewObservation",
    "Particles",
    "TwinState",
    "UpdateStep",
]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Particles:
    """Weighted posterior particles on the estimation scale.

    Attributes
    ----------
    theta : numpy.ndarray
        ``(N, k)`` parameter vectors (estimation scale).
    log_weight : numpy.ndarray
        ``(N,)`` unnormalised log weights.
    log_posterior : numpy.ndarray
        ``(N,)`` log posterior of all data so far.
    """

    theta: Array
    log_weight: Array
    log_posterior: Array

    @property
    def n(self) -> int:
        """Number of particles."""
        return int(self.theta.shape[0])


@dataclass(frozen=True)
class CalibrationStep:
    """Provenance of a calibration: MAP fit, importance sampling and tempered SMC."""

    step: ClassVar[str] = "calibrate"
    at: str
    observations: int
    map: Mapping[str, float]
    map_objective: float
    fit_warnings: tuple[str, ...]
    importance_ess: float
    tempering_stages: int
    moves: int
    acceptance: float
    particles: int
    seconds: float


@dataclass(frozen=True)
class NewObservation:
    """One observation assimilated by an update (data unit)."""

    analyte: str
    time: float
    value: float | None
    unit: str
    censoring: str
    limit: float | None

    @classmethod
    def of(cls, o: Observation) -> NewObservation:
        """The record of an observation."""
        return cls(o.analyte, o.time, o.value, o.unit, o.censoring.value, o.limit)


@dataclass(frozen=True)
class UpdateStep:
    """Provenance of a sequential Monte Carlo update."""

    step: ClassVar[str] = "update"
    at: str
    new_observations: tuple[NewObservation, ...]
    dropped_before_t0: int
    ess_after_reweighting: float
    resampled: bool
    moves: int
    acceptance: float
    resimulated: bool
    seconds: float


#: One entry of a twin's history.
HistoryEntry = CalibrationStep | UpdateStep


@dataclass(frozen=True)
class TwinState:
    """Everything a twin has learnt: particles, cache grid, MAP, proposal floor and history.

    Attributes
    ----------
    particles : Particles or None
        The posterior (``None`` before calibration).
    grid : numpy.ndarray or None
        Times at which the particles' trajectories are cached (re-simulated on loading).
    map_theta : numpy.ndarray or None
        The MAP of the calibration (estimation scale).
    floor_cov : numpy.ndarray or None
        The calibration's proposal covariance, a floor for later Metropolis-Hastings moves.
    history : tuple of CalibrationStep or UpdateStep
        Every calibration and update, oldest first.
    rng_state : Mapping or None
        The state of the twin's random generator (NumPy ``bit_generator.state``).
    """

    particles: Particles | None = None
    grid: Array | None = None
    map_theta: Array | None = None
    floor_cov: Array | None = None
    history: tuple[HistoryEntry, ...] = field(default=())
    rng_state: Mapping[str, Any] | None = None

    @property
    def calibrated(self) -> bool:
        """Whether the state holds a posterior."""
        return self.particles is not None

    @property
    def n_updates(self) -> int:
        """Number of updates in the history."""
        return sum(isinstance(h, UpdateStep) for h in self.history)
