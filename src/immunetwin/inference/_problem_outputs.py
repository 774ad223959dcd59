"""Scoring precomputed model outputs with a calibration problem's observation model.

A caller that already holds a batch's simulated outputs at the problem's times (a particle
filter's cached trajectories, for instance) scores them here without simulating again: the
predictions, residuals and objective are those of :class:`CalibrationProblem`, only the
simulation is replaced by the given array.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FitError

if TYPE_CHECKING:
    from ._problem import CalibrationProblem

Array = np.ndarray[Any, Any]


def parameter_matrix(problem: CalibrationProblem, theta: Array) -> Array:
    """The simulator's parameter vectors ``(N, P)`` of ``theta`` (fixed values, with the
    estimated ones written into their slots)."""
    th = np.atleast_2d(np.asarray(theta, dtype=float))
    ps = np.tile(problem._ps0, (th.shape[0], 1))
    if problem._ode_idx.size:
        nat = problem.to_natural(th)
        ps[:, problem._ode_slots] = nat[:, problem._ode_idx] * problem._ode_factor
    return ps


def given_outputs(problem: CalibrationProblem, theta: Array, outputs: Array) -> CalibrationProblem:
    """A shallow copy of ``problem`` whose simulation of ``theta`` returns ``outputs``."""
    th = np.atleast_2d(np.asarray(theta, dtype=float))
    y = np.asarray(outputs, dtype=float)
    want = (th.shape[0], problem.times.size, len(problem.output_names))
    if y.shape != want:
        raise FitError(
            f"outputs have shape {y.shape}; the problem needs {want} (N, times, outputs)"
        )
    ps = parameter_matrix(problem, th)
    ok = np.all(np.isfinite(y.reshape(th.shape[0], -1)), axis=1)

    def simulate_outputs(
        theta: Array, *, sensitivities: bool = True, times: Array | None = None
    ) -> tuple[Array, Array | None, Array, Array]:
        if sensitivities or times is not None:
            raise FitError("precomputed outputs carry no sensitivities and no other times")
        return y, None, ps, ok

    new = copy.copy(problem)
    new.simulate_outputs = simulate_outputs  # type: ignore[method-assign]
    return new
