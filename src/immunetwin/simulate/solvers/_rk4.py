"""The ``rk4`` solver: the classical fixed-step Runge-Kutta method of order 4 (for testing).

Kutta's 1901 scheme (E. Hairer, S. P. Norsett, G. Wanner, *Solving ODEs I*, Sec. II.1, Table 1.2,
right): four stages, no error estimate, so every step is accepted and the step size stays at the
first one (``h0``, or the driver's starting estimate when ``h0`` is 0); steps are cut only to land
on the end time or a pending event. Dense output: the cubic Hermite interpolant through the step's
end points and slopes (order 3). Its purpose is to test the solver interface and the driver
against a method with a textbook error behaviour, not to be fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from numba import njit

from ._base import NO_SWITCH, AbstractSolver, implement
from ._ffi import aug_rhs
from ._records import SwitchPolicy

__all__ = ["RK4", "Rk4", "Rk4Record"]


class Rk4Record(NamedTuple):
    """RK4 in compiled code; ``facmax = 1`` with a zero error keeps the step size fixed."""

    expo1: float = 0.25
    beta: float = 0.0
    facmax: float = 1.0
    reject_exponent: float = 0.25


@njit(cache=True, error_model="numpy")
def _step(s, w, t, h):
    """Stages k1..k4 in K[0..3]; f(t + h, znew) in K[4] (for the dense output and FSAL)."""
    naug, z, zs, K, znew = w.naug, w.z, w.zs, w.K, w.znew
    for q in range(naug):
        K[q] = w.F0[q]
        zs[q] = z[q] + 0.5 * h * K[q]
    aug_rhs(w.f, t + 0.5 * h, zs, w.p, w.n, w.k, w.P, w.sens_idx, K, naug, w.jb, w.fpb)
    for q in range(naug):
        zs[q] = z[q] + 0.5 * h * K[naug + q]
    aug_rhs(w.f, t + 0.5 * h, zs, w.p, w.n, w.k, w.P, w.sens_idx, K, 2 * naug, w.jb, w.fpb)
    for q in range(naug):
        zs[q] = z[q] + h * K[2 * naug + q]
    aug_rhs(w.f, t + h, zs, w.p, w.n, w.k, w.P, w.sens_idx, K, 3 * naug, w.jb, w.fpb)
    for q in range(naug):
        znew[q] = z[q] + h / 6.0 * (
            K[q] + 2.0 * K[naug + q] + 2.0 * K[2 * naug + q] + K[3 * naug + q]
        )
    aug_rhs(w.f, t + h, znew, w.p, w.n, w.k, w.P, w.sens_idx, K, 4 * naug, w.jb, w.fpb)
    return 0.0


@njit(cache=True, error_model="numpy")
def _dense_prepare(s, w, h):
    """Hermite form x(th) = D0 + th (D1 + (1 - th) (D2 + th D3))."""
    naug, K, D = w.naug, w.K, w.D
    for q in range(naug):
        d1 = w.znew[q] - w.z[q]
        d2 = h * K[q] - d1
        D[q] = w.z[q]
        D[naug + q] = d1
        D[2 * naug + q] = d2
        D[3 * naug + q] = d1 - h * K[4 * naug + q] - d2


@njit(cache=True, error_model="numpy")
def _dense_eval(s, theta, naug, D, out):
    th1 = 1.0 - theta
    for q in range(naug):
        out[q] = D[q] + theta * (D[naug + q] + th1 * (D[2 * naug + q] + theta * D[3 * naug + q]))


@njit(cache=True, error_model="numpy")
def _fsal(s, w):
    for q in range(w.naug):
        w.F0[q] = w.K[4 * w.naug + q]
    return True


@njit(cache=True, error_model="numpy")
def _controller(s):
    return s.expo1, s.beta, s.facmax, s.reject_exponent


implement(
    Rk4Record,
    step=_step,
    dense_prepare=_dense_prepare,
    dense_eval=_dense_eval,
    fsal=_fsal,
    controller=_controller,
)


@dataclass(frozen=True, kw_only=True)
class Rk4(AbstractSolver):
    """Classical Runge-Kutta 4, fixed step; for testing the solver interface."""

    name: str = "rk4"
    aliases: tuple[str, ...] = ()
    order: int = 4
    dense_order: int = 3
    stiff: bool = False
    adaptive: bool = False

    def kernel_records(self) -> tuple[Any, Any, SwitchPolicy]:
        """One method, no switching."""
        r = Rk4Record()
        return r, r, NO_SWITCH


RK4 = Rk4()
