"""The state of a :class:`~immunetwin.inference.CalibrationProblem` and its read-only accessors.

:class:`_ProblemState` declares every attribute that the constructor sets (the estimated
quantities and their bounds, the fixed slot values, the observation table, the noise and prior
terms) and gives the scale conversions between the estimation scale ``theta`` and natural values
together with the public read-only properties. The evaluation (:mod:`._problem_eval`) and the
constructor (:mod:`._problem`) build on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..data import Dataset
from ..errors import FitError
from ..model import ModelSpec, Prior
from ..simulate import CompiledModel, SolverOptions
from ._observations import _AnalyteLayout
from ._priors import GaussianPrior, PriorTerms

Array = np.ndarray[Any, Any]
_TINY = 1e-300


class _ProblemState:
    """Attributes and read-only accessors of a calibration problem (see ``CalibrationProblem``)."""

    # model and simulator
    _model: ModelSpec
    _data: Dataset
    _solver: SolverOptions
    _t0: float
    _cm: CompiledModel
    _slot_index: dict[str, int]
    _subject: str
    # estimated quantities (estimation scale)
    _names: tuple[str, ...]
    _log: Array  # (k,) bool
    _lo: Array
    _hi: Array
    _nominal: Array
    _ode_idx: Array  # estimated quantities that enter the simulation
    _ode_slots: Array  # their slots
    _ode_factor: Array  # slot value per natural value (species amount / concentration)
    # fixed slot values
    _fixed_values: dict[str, float]
    _ps0: Array
    # observations (see _observations.ObservationTable)
    _obs_frame: pd.DataFrame
    _layouts: tuple[_AnalyteLayout, ...]
    _times: Array
    _tidx: Array
    _value: Array
    _lower: Array
    _upper: Array
    _code: Array
    _df: Array
    _sig_fixed: Array
    _sig_param: Array
    _sig_scale: Array
    # priors and coefficient terms
    _priors: dict[str, Prior]
    _gauss: GaussianPrior | None
    _prior_terms: PriorTerms
    _const_lik: float
    _lin_lik: tuple[Array, Array, Array, Array, float]
    _lin_prior: tuple[Array, Array, Array, Array, float]

    # ------------------------------------------------------------------ scale helpers
    def _to_theta_1(self, i: int, x: float) -> float:
        return math.log(x) if self._log[i] else float(x)

    def _to_nat_1(self, i: int, t: float) -> float:
        return math.exp(t) if self._log[i] else float(t)

    def _to_theta_arr(self, x: Array) -> Array:
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self._log, np.log(np.where(self._log, x, 1.0)), x)

    # ------------------------------------------------------------------ public API
    @property
    def model(self) -> ModelSpec:
        """The model."""
        return self._model

    @property
    def data(self) -> Dataset:
        """The data set."""
        return self._data

    @property
    def subject(self) -> str:
        """The subject id."""
        return self._subject

    @property
    def names(self) -> tuple[str, ...]:
        """Ids of the estimated quantities, in the order of ``theta``."""
        return self._names

    @property
    def n_parameters(self) -> int:
        """Number of estimated quantities ``k``."""
        return len(self._names)

    @property
    def log_scale(self) -> dict[str, bool]:
        """Whether each estimated quantity is on log scale."""
        return {n: bool(x) for n, x in zip(self._names, self._log, strict=True)}

    @property
    def bounds(self) -> tuple[Array, Array]:
        """Lower and upper bounds of ``theta`` (estimation scale), each shape ``(k,)``."""
        return self._lo.copy(), self._hi.copy()

    @property
    def nominal(self) -> Array:
        """The model's values of the estimated quantities on the estimation scale (clipped)."""
        return self._nominal.copy()

    @property
    def times(self) -> Array:
        """Sorted unique observation times."""
        return self._times.copy()

    @property
    def observations(self) -> pd.DataFrame:
        """The observations on their comparison scale (analyte, time, value, censoring, lower, upper)."""
        return self._obs_frame.copy()

    @property
    def n_observations(self) -> int:
        """Number of observations (censored ones included)."""
        return int(len(self._value))

    @property
    def priors(self) -> dict[str, Prior]:
        """The univariate priors in use (natural scale)."""
        return dict(self._priors)

    @property
    def gaussian_prior(self) -> GaussianPrior | None:
        """The Gaussian prior on the estimation scale, if any."""
        return self._gauss

    @property
    def solver(self) -> SolverOptions:
        """The solver options."""
        return self._solver

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of the simulated outputs (last axis of :meth:`simulate_outputs`' arrays)."""
        return tuple(self._cm.outputs)

    def to_natural(self, theta: Array) -> Array:
        """Natural values from estimation-scale vectors (any leading shape, last axis ``k``)."""
        t = np.asarray(theta, dtype=float)
        return np.where(self._log, np.exp(np.where(self._log, t, 0.0)), t)

    def to_theta(self, values: Mapping[str, float] | Array) -> Array:
        """Estimation-scale vector from natural values (a mapping by id or an array)."""
        if isinstance(values, Mapping):
            missing = [n for n in self._names if n not in values]
            if missing:
                raise FitError(f"to_theta: missing values for {missing}")
            arr = np.asarray([float(values[n]) for n in self._names])
        else:
            arr = np.asarray(values, dtype=float)
        if np.any(self._log & (arr <= 0)):
            bad = [n for n, b in zip(self._names, self._log & (arr <= 0), strict=True) if b]
            raise FitError(f"to_theta: log-scale parameter(s) {bad} must be positive")
        return self._to_theta_arr(arr)

    def in_bounds(self, theta: Array) -> Array:
        """Whether each row of ``theta`` lies within the bounds."""
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        out: Array = np.all((th >= self._lo) & (th <= self._hi), axis=1)
        return out
