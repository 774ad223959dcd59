"""Low-level helpers every solver kernel shares: raw pointers, the raw model call, dense LU, and
the augmented (forward-sensitivity) right-hand side.

The model function is a numba ``cfunc`` with signature :data:`MODEL_SIG`, called by address with a
raw C call (:func:`call_model`); work arrays are handed around as raw pointers (:func:`ptr`), since
numba reference-counts every array argument of every compiled call (two atomic operations each),
which cost most of a step and contended between threads.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

#: numba signature of a model function: void(mode, idx, t, x*, p*, out*)
MODEL_SIG = types.void(
    types.int64,
    types.int64,
    types.float64,
    types.CPointer(types.float64),
    types.CPointer(types.float64),
    types.CPointer(types.float64),
)

# model-function modes (docs/engine.md)
RHS = 0
JAC = 1
OUTPUTS = 2
TRIGGERS = 3
EVENT_VALUES = 4
EVENT_APPLY = 5
DFDP = 6
INIT = 7
DX0DP = 8
DELAYS = 9
PRIORITIES = 10
DFDT = 11
DOUT_DX = 12
DOUT_DP = 13
EVENT_DX = 14
EVENT_DP = 15

SQRT_EPS = math.sqrt(np.finfo(np.float64).eps)


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
def err_norm(naug, e, eoff, z, znew, rtol, atol):
    """Hairer's scaled RMS norm of ``e[eoff : eoff + naug]``."""
    s = 0.0
    for q in range(naug):
        sc = atol + rtol * max(abs(z[q]), abs(znew[q]))
        v = e[eoff + q] / sc
        s += v * v
    return math.sqrt(s / naug)
