"""The parts of a calibration problem's specification: maps, noise, estimates, residuals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from ..data import StandardCurve

__all__ = ["Estimate", "InterventionMap", "Noise", "ObservableMap", "Residuals", "Transform"]

Array = np.ndarray[Any, Any]


class Transform(StrEnum):
    """The scale on which a model output is compared with the data (and the noise is additive)."""

    IDENTITY = "identity"
    """The output as it is (the data are on the same scale)."""
    LOG10 = "log10"
    """log10 of the output (data in log10 units, or linear data that are log10-transformed)."""
    LN = "ln"
    """Natural log of the output."""
    CT = "ct"
    """qPCR cycle threshold: ``Ct = intercept + slope*(log10(output) - log10_factor)`` through
    the :class:`~immunetwin.data.StandardCurve` of the :class:`ObservableMap`."""


@dataclass(frozen=True, slots=True)
class ObservableMap:
    """Which model output an analyte measures, and on which scale.

    Attributes
    ----------
    target : str
        An observable id, any output id of the model (a species, an assignment-rule variable), or
        an expression of them and of parameters (e.g. ``"I1 + I2"``, ``"V/1000"``).
    transform : Transform or None
        Scale of the comparison; ``None`` takes it from the observable's noise model
        (``log10normal`` -> LOG10, ``lognormal`` -> LN, ``normal`` -> IDENTITY).
    standard_curve : StandardCurve or None
        Needed for Ct data (either ``transform=CT`` to fit on the Ct scale, or ``LOG10`` to
        convert the Ct data to log10 copies first).
    """

    target: str
    transform: Transform | str | None = None
    standard_curve: StandardCurve | None = None


@dataclass(frozen=True, slots=True)
class Noise:
    """The measurement noise of an analyte on its comparison scale.

    Attributes
    ----------
    sigma : float or str
        A fixed number, or a parameter id (estimated if it is among the problem's ``estimate``,
        else fixed at the model's value).
    distribution : "normal" or "student_t"
        Noise distribution.
    df : float
        Degrees of freedom of the Student-t distribution.
    """

    sigma: float | str
    distribution: Literal["normal", "student_t"] = "normal"
    df: float = 4.0


@dataclass(frozen=True, slots=True)
class InterventionMap:
    """How a subject's interventions (from the Dataset) set model parameters.

    Attributes
    ----------
    time : str or None
        Parameter that receives the intervention's start time (e.g. ``"t_nai"``).
    amount : str or None
        Parameter that receives the dose amount.
    duration : str or None
        Parameter that receives the duration.
    values : Mapping[str, float]
        Further parameters set when the intervention is present (e.g. ``{"eps_nai": 0.9}``).
    """

    time: str | None = None
    amount: str | None = None
    duration: str | None = None
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Estimate:
    """An estimated parameter (or species initial value) with optional bounds and scale.

    Bounds are on the natural scale; ``None`` takes them from the model (species need them).
    ``log_scale=None`` takes the parameter's ``log_scale`` flag (``True`` for species).
    """

    id: str
    lower: float | None = None
    upper: float | None = None
    log_scale: bool | None = None


@dataclass(frozen=True, slots=True)
class Residuals:
    """Stacked residuals of a batch of parameter vectors.

    ``objective = 0.5 * sum(r**2, axis=1) + const`` (``+inf`` where ``ok`` is false).

    Attributes
    ----------
    r : numpy.ndarray
        Shape ``(N, R)``.
    jac : numpy.ndarray or None
        ``d r / d theta``, shape ``(N, R, k)``.
    const : float
        The constant part of the objective.
    ok : numpy.ndarray
        Shape ``(N,)``: false where the simulation failed.
    """

    r: Array
    jac: Array | None
    const: float
    ok: Array

    @property
    def objective(self) -> Array:
        """Objective per parameter vector, shape ``(N,)``."""
        out = 0.5 * np.sum(self.r**2, axis=1) + self.const
        return np.where(self.ok & np.isfinite(out), out, np.inf)
