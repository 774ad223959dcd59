"""Rodas5 Rosenbrock stepper, dense LU and the augmented (forward-sensitivity) right-hand side.

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

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

RHS = 0
JAC = 1
DFDP = 6
DFDT = 11

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


@intrinsic
def ptr(typingctx, arr, off):
    """Raw pointer to ``arr.flat[off]`` (C-contiguous array, or a pointer), no reference counting.

    numba increfs/decrefs every array argument of every compiled call (``arr.ctypes`` too): two
    atomic operations per array, which cost most of the time of a step and contend between
    threads. The solvers therefore pass raw pointers to work arrays that outlive the calls.
    """
    if isinstance(arr, types.CPointer):
        sig = arr(arr, off)

        def codegen_p(context, builder, signature, args):
            return builder.gep(args[0], [args[1]])

        return sig, codegen_p
    sig = types.CPointer(arr.dtype)(arr, off)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.gep(ary.data, [args[1]])

    return sig, codegen


@intrinsic
def call_model(typingctx, addr, mode, idx, t, x, p, out):
    """Call the model function at address ``addr`` (an int64, e.g. ``cfunc.address``).

    A raw C call: passing a numba first-class function object between compiled functions costs
    ~50 ns per call (reference counting), a raw pointer costs nothing.
    """
    sig = types.void(types.int64, types.int64, types.int64, types.float64, x, p, out)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        dbl = ir.DoubleType()
        dptr = context.get_value_type(types.CPointer(types.float64))
        fnty = ir.FunctionType(ir.VoidType(), [i64, i64, dbl, dptr, dptr, dptr])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        builder.call(fn, list(args[1:]))
        return context.get_dummy_value()

    return sig, codegen


_SQRT_EPS = math.sqrt(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------------------------
# dense LU with partial pivoting (row-major flat n*n matrix, in place)
# --------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def lu_factor(a, n, piv):
    """Factor ``a`` (flat, row-major n*n) in place, P A = L U; return False when singular.

    L (unit diagonal) below the diagonal, U above it, and 1/U_kk on the diagonal.
    """
    for kk in range(n):
        p = kk
        amax = abs(a[kk * n + kk])
        for i in range(kk + 1, n):
            v = abs(a[i * n + kk])
            if v > amax:
                amax = v
                p = i
        piv[kk] = p
        if amax == 0.0 or not math.isfinite(amax):
            return False
        if p != kk:
            for j in range(n):
                tmp = a[kk * n + j]
                a[kk * n + j] = a[p * n + j]
                a[p * n + j] = tmp
        inv = 1.0 / a[kk * n + kk]
        a[kk * n + kk] = inv  # the diagonal of U is stored inverted (lu_solve multiplies)
        for i in range(kk + 1, n):
            lik = a[i * n + kk] * inv
            a[i * n + kk] = lik
            if lik != 0.0:
                for j in range(kk + 1, n):
                    a[i * n + j] -= lik * a[kk * n + j]
    return True


@njit(cache=True, error_model="numpy")
def lu_solve(a, n, piv, b, off):
    """Solve in place ``A x = b[off:off+n]`` with the factors from :func:`lu_factor`."""
    for kk in range(n):
        p = piv[kk]
        if p != kk:
            tmp = b[off + kk]
            b[off + kk] = b[off + p]
            b[off + p] = tmp
    for i in range(1, n):
        s = b[off + i]
        for j in range(i):
            s -= a[i * n + j] * b[off + j]
        b[off + i] = s
    for i in range(n - 1, -1, -1):
        s = b[off + i]
        for j in range(i + 1, n):
            s -= a[i * n + j] * b[off + j]
        b[off + i] = s * a[i * n + i]


# --------------------------------------------------------------------------------------------
# augmented right-hand side z = [x, S[:,0], ..., S[:,k-1]]
# --------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def sens_part(n, k, P, sens_idx, jb, fpb, z, out, ooff):
    """out[ooff + n + j*n + i] = sum_l J[i,l] S[l,j] + fp[i, sens_idx[j]]."""
    for j in range(k):
        col = sens_idx[j]
        off = n + j * n
        for i in range(n):
            s = fpb[i * P + col]
            for ll in range(n):
                s += jb[i * n + ll] * z[off + ll]
            out[ooff + off + i] = s


@njit(cache=True, error_model="numpy")
def aug_rhs(f, t, z, p, n, k, P, sens_idx, out, ooff, jb, fpb):
    """Augmented right-hand side at (t, z) into out[ooff : ooff + n*(1+k)]."""
    call_model(f, RHS, 0, t, ptr(z, 0), ptr(p, 0), ptr(out, ooff))
    if k > 0:
        call_model(f, JAC, 0, t, ptr(z, 0), ptr(p, 0), ptr(jb, 0))
        call_model(f, DFDP, 0, t, ptr(z, 0), ptr(p, 0), ptr(fpb, 0))
        sens_part(n, k, P, sens_idx, jb, fpb, z, out, ooff)


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
            dt = _SQRT_EPS * max(abs(t), 1.0)
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
                eps = _SQRT_EPS * (1.0 + math.sqrt(xn)) / vn
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
