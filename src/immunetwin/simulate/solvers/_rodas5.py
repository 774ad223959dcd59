"""The ``rodas5`` solver: the Rodas5(4) Rosenbrock method, for stiff problems.

Method: Rodas5(4), the 8-stage L-stable, stiffly accurate Rosenbrock method of

    G. Di Marzo, "RODAS5(4) -- Methodes de Rosenbrock d'ordre 5(4) adaptees aux problemes
    differentiels-algebriques", Memoire de diplome, Universite de Geneve, 1993;

in the transformed form of E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*,
2nd ed., Springer 1996, Sec. IV.7 (eq. 7.25: the stage unknowns ``k_i`` solve
``(I/(h*gamma) - J) k_i = f(t + c_i h, x + sum_j a_ij k_j) + h d_i f_t + sum_j (C_ij/h) k_j``),
with the method's continuous extension of order 4 (three dense-output vectors).
The numerical values of the transformed coefficients are the published ones (Di Marzo 1993; the
same values appear in Hairer's and in SciML's tables).

Every function here is compiled once (``cache=True``) and receives the model function as a
first-class function pointer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from ._base import NO_SWITCH, AbstractSolver, implement
from ._ffi import (
    DFDP,
    DFDT,
    JAC,
    SQRT_EPS,
    aug_rhs,
    call_model,
    err_norm,
    lu_factor,
    lu_solve,
    ptr,
    sens_part,
)
from ._records import SwitchPolicy

__all__ = ["RODAS5", "Rodas5", "Rodas5Record"]

# --------------------------------------------------------------------------------------------
# Rodas5 coefficients (transformed form). Rows 6 and 7 of A and the weights b encode the
# stiffly-accurate structure u7 = u6 + k6, u8 = u7 + k7, u_new = u8 + k8; the error estimate is k8.
# --------------------------------------------------------------------------------------------
RODAS_S = 8
RODAS_GAMMA = 0.19
_a6 = (
    -14.09640773051259,
    6.925207756232704,
    -41.47510893210728,
    2.343771018586405,
    24.13215229196062,
)
RODAS_A = np.zeros((8, 8))
RODAS_A[1, 0] = 2.0
RODAS_A[2, :2] = (3.040894194418781, 1.041747909077569)
RODAS_A[3, :3] = (2.576417536461461, 1.622083060776640, -0.9089668560264532)
RODAS_A[4, :4] = (2.760842080225597, 1.446624659844071, -0.3036980084553738, 0.2877498600325443)
RODAS_A[5, :5] = _a6
RODAS_A[6, :5] = _a6
RODAS_A[6, 5] = 1.0
RODAS_A[7, :5] = _a6
RODAS_A[7, 5] = 1.0
RODAS_A[7, 6] = 1.0
RODAS_C = np.zeros((8, 8))
RODAS_C[1, 0] = -10.31323885133993
RODAS_C[2, :2] = (-21.04823117650003, -7.234992135176716)
RODAS_C[3, :3] = (32.22751541853323, -4.943732386540191, 19.44922031041879)
RODAS_C[4, :4] = (-20.69865579590063, -8.816374604402768, 1.260436877740897, -0.7495647613787146)
RODAS_C[5, :5] = (
    -46.22004352711257,
    -17.49534862857472,
    -289.6389582892057,
    93.60855400400906,
    318.3822534212147,
)
RODAS_C[6, :6] = (
    34.20013733472935,
    -14.15535402717690,
    57.82335640988400,
    25.83362985412365,
    1.408950972071624,
    -6.551835421242162,
)
RODAS_C[7, :7] = (
    42.57076742291101,
    -13.80770672017997,
    93.98938432427124,
    18.77919633714503,
    -31.58359187223370,
    -6.685968952921985,
    -5.810979938412932,
)
RODAS_CT = np.array(
    [0.0, 0.38, 0.3878509998321533, 0.4839718937873840, 0.4570477008819580, 1.0, 1.0, 1.0]
)
RODAS_D = np.array(
    [
        0.19,
        -0.1823079225333714636,
        -0.319231832186874912,
        0.3449828624725343,
        -0.377417564392089818,
        0.0,
        0.0,
        0.0,
    ]
)
# dense output: x(theta) = (1-th) x0 + th (x1 + (1-th) (D1 + th (D2 + th D3))), D_r = sum_j H[r, j] k_j
RODAS_H = np.array(
    [
        [
            27.354592673333357,
            -6.925207756232857,
            26.40037733258859,
            0.5635230501052979,
            -4.699151156849391,
            -1.6008677469422725,
            -1.5306074446748028,
            -1.3929872940716344,
        ],
        [
            44.19024239501722,
            1.3677947663381929e-13,
            202.93261852171622,
            -35.5669339789154,
            -181.91095152160645,
            3.4116351403665033,
            2.5793540257308067,
            2.2435122582734066,
        ],
        [
            -44.0988150021747,
            -5.755396159656812e-13,
            -181.26175034586677,
            56.99302194811676,
            183.21182741427398,
            -7.480257918273637,
            -5.792426076169686,
            -5.32503859794143,
        ],
    ]
)


@njit(cache=True, error_model="numpy")
def rodas_setup(f, t, z, p, n, k, P, sens_idx, F0, J, dT, jb, fpb, xt):
    """Jacobian ``J`` and time derivative ``dT`` (augmented) at the step start.

    ``F0`` must hold the augmented RHS at (t, z). For the sensitivity blocks the time derivative
    of ``J S + f_p`` is a finite difference in t, skipped when ``f_t`` is identically zero here.
    """
    call_model(f, JAC, 0, t, ptr(z, 0), ptr(p, 0), ptr(J, 0))
    call_model(f, DFDT, 0, t, ptr(z, 0), ptr(p, 0), ptr(dT, 0))
    naug = n * (1 + k)
    for q in range(n, naug):
        dT[q] = 0.0
    if k > 0:
        nonzero = False
        for i in range(n):
            if dT[i] != 0.0:
                nonzero = True
                break
        if nonzero:
            dt = SQRT_EPS * max(abs(t), 1.0)
            for i in range(n):
                xt[i] = z[i]
            call_model(f, JAC, 0, t + dt, ptr(xt, 0), ptr(p, 0), ptr(jb, 0))
            call_model(f, DFDP, 0, t + dt, ptr(xt, 0), ptr(p, 0), ptr(fpb, 0))
            sens_part(n, k, P, sens_idx, jb, fpb, z, dT, 0)
            for q in range(n, naug):
                dT[q] = (dT[q] - F0[q]) / dt


@njit(cache=True, error_model="numpy")
def rodas_step(f, t, h, z, p, n, k, P, sens_idx, F0, J, dT, W, piv, K, zs, r, jb, fpb, xt, znew):
    """One Rodas5 step from (t, z) with step h. Stage vectors in ``K[j*naug:(j+1)*naug]``, result in ``znew``.

    Returns False if the iteration matrix is singular.
    The sensitivity blocks are solved by block forward substitution with the same LU: the
    coupling term d/dx (J S_j + f_p,j) . k_x is a directional finite difference of JAC/DFDP.
    """
    naug = n * (1 + k)
    inv_hg = 1.0 / (h * RODAS_GAMMA)
    for i in range(n * n):
        W[i] = -J[i]
    for i in range(n):
        W[i * n + i] += inv_hg
    if not lu_factor(W, n, piv):
        return False
    inv_h = 1.0 / h
    for st in range(RODAS_S):
        if st == 0:
            for q in range(naug):
                r[q] = F0[q]
        else:
            for q in range(naug):
                s = z[q]
                for j in range(st):
                    s += RODAS_A[st, j] * K[(j) * naug + q]
                zs[q] = s
            aug_rhs(f, t + RODAS_CT[st] * h, zs, p, n, k, P, sens_idx, r, 0, jb, fpb)
        hd = h * RODAS_D[st]
        for q in range(naug):
            s = r[q] + hd * dT[q]
            for j in range(st):
                s += (RODAS_C[st, j] * inv_h) * K[(j) * naug + q]
            r[q] = s
        lu_solve(W, n, piv, r, 0)
        if k > 0:
            # directional derivative of g_j(x) = J(x) S_j + f_p(x)[:, j] along v = k_x
            vn = 0.0
            xn = 0.0
            for i in range(n):
                vn += r[i] * r[i]
                xn += z[i] * z[i]
            vn = math.sqrt(vn)
            if vn > 0.0 and math.isfinite(vn):
                eps = SQRT_EPS * (1.0 + math.sqrt(xn)) / vn
                for i in range(n):
                    xt[i] = z[i] + eps * r[i]
                call_model(f, JAC, 0, t, ptr(xt, 0), ptr(p, 0), ptr(jb, 0))
                call_model(f, DFDP, 0, t, ptr(xt, 0), ptr(p, 0), ptr(fpb, 0))
                inv_eps = 1.0 / eps
                for j in range(k):
                    col = sens_idx[j]
                    off = n + j * n
                    for i in range(n):
                        s = fpb[i * P + col]
                        for ll in range(n):
                            s += jb[i * n + ll] * z[off + ll]
                        r[off + i] += (s - F0[off + i]) * inv_eps
            for j in range(k):
                lu_solve(W, n, piv, r, n + j * n)
        for q in range(naug):
            K[(st) * naug + q] = r[q]
    # u_new = u8 + k8 where u8 = z + sum A[7, j] k_j
    for q in range(naug):
        s = z[q]
        for j in range(RODAS_S - 1):
            s += RODAS_A[RODAS_S - 1, j] * K[(j) * naug + q]
        znew[q] = s + K[(RODAS_S - 1) * naug + q]
    return True


@njit(cache=True, error_model="numpy")
def rodas_dense_prepare(naug, K, z, znew, D):
    """D (flat 5 x naug) rows: 0 = x0, 1 = x1, 2..4 = the three dense-output vectors."""
    for q in range(naug):
        D[q] = z[q]
        D[naug + q] = znew[q]
        for r in range(3):
            s = 0.0
            for j in range(RODAS_S):
                s += RODAS_H[r, j] * K[(j) * naug + q]
            D[(2 + r) * naug + q] = s


class Rodas5Record(NamedTuple):
    """Rodas5 in compiled code: its step-size controller constants."""

    expo1: float = 0.7 / 5.0
    beta: float = 0.4 / 5.0
    facmax: float = 6.0
    reject_exponent: float = 0.25


@njit(cache=True, error_model="numpy")
def _prepare(s, w, t):
    rodas_setup(
        w.f, t, w.z, w.p, w.n, w.k, w.P, w.sens_idx, w.F0, w.J, w.dT, w.jb, w.fpb, w.xt
    )  # fmt: skip


@njit(cache=True, error_model="numpy")
def _step(s, w, t, h):
    ok = rodas_step(
        w.f, t, h, w.z, w.p, w.n, w.k, w.P, w.sens_idx, w.F0, w.J, w.dT, w.W, w.piv, w.K,
        w.zs, w.rr, w.jb, w.fpb, w.xt, w.znew,
    )  # fmt: skip
    if ok:
        return err_norm(w.naug, w.K, 7 * w.naug, w.z, w.znew, w.rtol, w.atol)
    return np.inf


@njit(cache=True, error_model="numpy")
def _dense_prepare(s, w, h):
    rodas_dense_prepare(w.naug, w.K, w.z, w.znew, w.D)


@njit(cache=True, error_model="numpy")
def _dense_eval(s, theta, naug, D, out):
    th1 = 1.0 - theta
    for q in range(naug):
        out[q] = th1 * D[0 * naug + q] + theta * (
            D[1 * naug + q]
            + th1 * (D[2 * naug + q] + theta * (D[3 * naug + q] + theta * D[4 * naug + q]))
        )


@njit(cache=True, error_model="numpy")
def _controller(s):
    return s.expo1, s.beta, s.facmax, s.reject_exponent


implement(
    Rodas5Record,
    prepare=_prepare,
    step=_step,
    dense_prepare=_dense_prepare,
    dense_eval=_dense_eval,
    controller=_controller,
)


@dataclass(frozen=True, kw_only=True)
class Rodas5(AbstractSolver):
    """Rodas5(4): 8-stage L-stable, stiffly accurate Rosenbrock method with 4th-order dense output."""

    name: str = "rodas5"
    aliases: tuple[str, ...] = ("stiff",)
    order: int = 5
    dense_order: int = 4
    stiff: bool = True

    def kernel_records(self) -> tuple[Any, Any, SwitchPolicy]:
        """One method, no switching."""
        r = Rodas5Record()
        return r, r, NO_SWITCH


RODAS5 = Rodas5()
