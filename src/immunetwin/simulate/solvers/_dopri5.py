"""The ``dopri5`` solver: Dormand-Prince 5(4) with FSAL, Shampine's 4th-order dense output and Hairer's stiffness test.

J. R. Dormand and P. J. Prince, "A family of embedded Runge-Kutta formulae", J. Comput. Appl.
Math. 6 (1980) 19-26; dense output of L. F. Shampine, Math. Comp. 46 (1986) 135-150, as used in
E. Hairer, S. P. Norsett, G. Wanner, *Solving ODEs I*, 2nd ed., Sec. II.5-II.6 (code DOPRI5,
including the stiffness detection of Sec. IV.2 of volume II).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from numba import njit

from ._base import NO_SWITCH, AbstractSolver, implement
from ._ffi import aug_rhs, err_norm
from ._records import SwitchPolicy

__all__ = ["DOPRI5", "Dopri5", "Dopri5Record"]

C2, C3, C4, C5 = 0.2, 0.3, 0.8, 8.0 / 9.0
A21 = 0.2
A31, A32 = 3.0 / 40.0, 9.0 / 40.0
A41, A42, A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
A51, A52, A53, A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
A61, A62, A63, A64, A65 = (
    9017.0 / 3168.0,
    -355.0 / 33.0,
    46732.0 / 5247.0,
    49.0 / 176.0,
    -5103.0 / 18656.0,
)
A71, A73, A74, A75, A76 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0
E1, E3, E4, E5, E6, E7 = (
    71.0 / 57600.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
)
D1 = -12715105075.0 / 11282082432.0
D3 = 87487479700.0 / 32700410799.0
D4 = -10690763975.0 / 1880347072.0
D5 = 701980252875.0 / 199316789632.0
D6 = -1453857185.0 / 822651844.0
D7 = 69997945.0 / 29380423.0


@njit(cache=True, error_model="numpy")
def dopri_step(f, t, h, z, p, n, k, P, sens_idx, F0, K, zs, ysti, jb, fpb, znew, err):
    """One DOPRI5 step. ``F0`` = call_model(f, t, z) (FSAL); K[0..6] stage derivatives (K[6] = f(t+h, znew));
    ``err`` receives the embedded error vector; ``ysti`` the 6th stage argument (stiffness test)."""
    naug = n * (1 + k)
    for q in range(naug):
        K[(0) * naug + q] = F0[q]
        zs[q] = z[q] + h * A21 * F0[q]
    aug_rhs(f, t + C2 * h, zs, p, n, k, P, sens_idx, K, 1 * naug, jb, fpb)
    for q in range(naug):
        zs[q] = z[q] + h * (A31 * K[(0) * naug + q] + A32 * K[(1) * naug + q])
    aug_rhs(f, t + C3 * h, zs, p, n, k, P, sens_idx, K, 2 * naug, jb, fpb)
    for q in range(naug):
        zs[q] = z[q] + h * (
            A41 * K[(0) * naug + q] + A42 * K[(1) * naug + q] + A43 * K[(2) * naug + q]
        )
    aug_rhs(f, t + C4 * h, zs, p, n, k, P, sens_idx, K, 3 * naug, jb, fpb)
    for q in range(naug):
        zs[q] = z[q] + h * (
            A51 * K[(0) * naug + q]
            + A52 * K[(1) * naug + q]
            + A53 * K[(2) * naug + q]
            + A54 * K[(3) * naug + q]
        )
    aug_rhs(f, t + C5 * h, zs, p, n, k, P, sens_idx, K, 4 * naug, jb, fpb)
    for q in range(naug):
        ysti[q] = z[q] + h * (
            A61 * K[(0) * naug + q]
            + A62 * K[(1) * naug + q]
            + A63 * K[(2) * naug + q]
            + A64 * K[(3) * naug + q]
            + A65 * K[(4) * naug + q]
        )
    aug_rhs(f, t + h, ysti, p, n, k, P, sens_idx, K, 5 * naug, jb, fpb)
    for q in range(naug):
        znew[q] = z[q] + h * (
            A71 * K[(0) * naug + q]
            + A73 * K[(2) * naug + q]
            + A74 * K[(3) * naug + q]
            + A75 * K[(4) * naug + q]
            + A76 * K[(5) * naug + q]
        )
    aug_rhs(f, t + h, znew, p, n, k, P, sens_idx, K, 6 * naug, jb, fpb)
    for q in range(naug):
        err[q] = h * (
            E1 * K[(0) * naug + q]
            + E3 * K[(2) * naug + q]
            + E4 * K[(3) * naug + q]
            + E5 * K[(4) * naug + q]
            + E6 * K[(5) * naug + q]
            + E7 * K[(6) * naug + q]
        )


@njit(cache=True, error_model="numpy")
def dopri_stiff_ratio(n, naug, h, K, znew, ysti):
    """Hairer's estimate of h*|lambda| from the last two stages (x part only)."""
    num = 0.0
    den = 0.0
    for i in range(n):
        a = K[(6) * naug + i] - K[(5) * naug + i]
        b = znew[i] - ysti[i]
        num += a * a
        den += b * b
    if den > 0.0:
        return h * math.sqrt(num / den)
    return 0.0


@njit(cache=True, error_model="numpy")
def dopri_dense_prepare(naug, h, K, z, znew, D):
    """x(theta) = r1 + th (r2 + (1-th) (r3 + th (r4 + (1-th) r5)))."""
    for q in range(naug):
        r2 = znew[q] - z[q]
        r3 = h * K[(0) * naug + q] - r2
        D[0 * naug + q] = z[q]
        D[1 * naug + q] = r2
        D[2 * naug + q] = r3
        D[3 * naug + q] = r2 - h * K[(6) * naug + q] - r3
        D[4 * naug + q] = h * (
            D1 * K[(0) * naug + q]
            + D3 * K[(2) * naug + q]
            + D4 * K[(3) * naug + q]
            + D5 * K[(4) * naug + q]
            + D6 * K[(5) * naug + q]
            + D7 * K[(6) * naug + q]
        )


class Dopri5Record(NamedTuple):
    """Dormand-Prince 5(4) in compiled code: its step-size controller constants (Hairer's DOPRI5)."""

    expo1: float = 0.2 - 0.04 * 0.75
    beta: float = 0.04
    facmax: float = 10.0
    reject_exponent: float = 0.2


@njit(cache=True, error_model="numpy")
def _step(s, w, t, h):
    dopri_step(
        w.f, t, h, w.z, w.p, w.n, w.k, w.P, w.sens_idx, w.F0, w.K, w.zs, w.ysti, w.jb, w.fpb,
        w.znew, w.err,
    )  # fmt: skip
    return err_norm(w.naug, w.err, 0, w.z, w.znew, w.rtol, w.atol)


@njit(cache=True, error_model="numpy")
def _dense_prepare(s, w, h):
    dopri_dense_prepare(w.naug, h, w.K, w.z, w.znew, w.D)


@njit(cache=True, error_model="numpy")
def _dense_eval(s, theta, naug, D, out):
    th1 = 1.0 - theta
    for q in range(naug):
        out[q] = D[0 * naug + q] + theta * (
            D[1 * naug + q]
            + th1 * (D[2 * naug + q] + theta * (D[3 * naug + q] + th1 * D[4 * naug + q]))
        )


@njit(cache=True, error_model="numpy")
def _fsal(s, w):
    naug = w.naug
    for q in range(naug):
        w.F0[q] = w.K[(6) * naug + q]
    return True


@njit(cache=True, error_model="numpy")
def _stiffness(s, w, h):
    return dopri_stiff_ratio(w.n, w.naug, h, w.K, w.znew, w.ysti)


@njit(cache=True, error_model="numpy")
def _controller(s):
    return s.expo1, s.beta, s.facmax, s.reject_exponent


implement(
    Dopri5Record,
    step=_step,
    dense_prepare=_dense_prepare,
    dense_eval=_dense_eval,
    fsal=_fsal,
    stiffness=_stiffness,
    controller=_controller,
)


@dataclass(frozen=True, kw_only=True)
class Dopri5(AbstractSolver):
    """Dormand-Prince 5(4), explicit, FSAL, 4th-order dense output; for non-stiff problems."""

    name: str = "dopri5"
    aliases: tuple[str, ...] = ("nonstiff",)
    order: int = 5
    dense_order: int = 4
    stiff: bool = False

    def kernel_records(self) -> tuple[Any, Any, SwitchPolicy]:
        """One method, no switching."""
        r = Dopri5Record()
        return r, r, NO_SWITCH


DOPRI5 = Dopri5()
