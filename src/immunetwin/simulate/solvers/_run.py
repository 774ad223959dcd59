"""Entry points of the compiled solvers: one member (:func:`solve_one`) or a batch (:func:`solve_batch`).

The model function is a numba ``cfunc`` with signature :data:`~._ffi.MODEL_SIG` (or its
address); the solver kernels are compiled once (``cache=True``) per method and never per model.
``method`` is a registered solver name (``"auto"``, ``"rodas5"``/``"stiff"``,
``"dopri5"``/``"nonstiff"``, ...) or its integer code.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._integrate import integrate
from ._records import EventFlags, Problem
from ._registry import get_solver

__all__ = ["solve_batch", "solve_one"]


@njit(cache=True, error_model="numpy")
def _one_kernel(s1, s2, policy, prob, ev, x0, p):
    T = prob.t_out.shape[0]
    k = prob.sens_idx.shape[0]
    Y = np.empty((T, prob.m))
    DY = np.empty((T, prob.m, k))
    st, tr = integrate(s1, s2, policy, prob, ev, x0, p, Y, DY)
    return Y, DY, st, tr


@njit(cache=True, error_model="numpy")
def _batch_serial(s1, s2, policy, prob, ev, X0, PS, Y, DY, status, t_reached):
    for i in range(X0.shape[0]):
        st, tr = integrate(s1, s2, policy, prob, ev, X0[i], PS[i], Y[i], DY[i])
        status[i] = st
        t_reached[i] = tr


@njit(parallel=True, cache=True, error_model="numpy")
def _batch_parallel(s1, s2, policy, prob, ev, X0, PS, Y, DY, status, t_reached):
    for i in prange(X0.shape[0]):
        st, tr = integrate(s1, s2, policy, prob, ev, X0[i], PS[i], Y[i], DY[i])
        status[i] = st
        t_reached[i] = tr


def _address(model):
    """Address of the model function: a numba ``cfunc`` (``.address``) or an int."""
    if isinstance(model, (int, np.integer)):
        return int(model)
    return int(model.address)


def event_flags(ne, persistent=None, initial_value=None, from_trigger=None, has_delay=None,
                has_priority=None, n_assign=None, time_only=None):  # fmt: skip
    """The :class:`EventFlags` record of ``ne`` events (missing flags: all false, no assignments)."""

    def b(a):
        if a is None:
            return np.zeros(ne, np.bool_)
        return np.ascontiguousarray(a, dtype=np.bool_).reshape(ne)

    na = (
        np.zeros(ne, np.int64)
        if n_assign is None
        else np.ascontiguousarray(n_assign, dtype=np.int64).reshape(ne)
    )
    return EventFlags(
        b(persistent), b(initial_value), b(from_trigger), b(has_delay), b(has_priority), na,
        b(time_only),
    )  # fmt: skip


def _problem(model, n, m, P, ne, t0, t_out, sens_idx, rtol, atol, max_steps, h0):
    sidx = (
        np.zeros(0, np.int64)
        if sens_idx is None
        else np.ascontiguousarray(sens_idx, dtype=np.int64).reshape(-1)
    )
    return Problem(
        _address(model), int(n), int(m), int(P), int(ne), float(t0),
        np.ascontiguousarray(t_out, dtype=np.float64).reshape(-1), sidx, float(rtol),
        float(atol), int(max_steps), float(h0),
    )  # fmt: skip


def solve_one(
    model, n, m, P, ne, t0, t_out, x0, p, method="auto", rtol=1e-6, atol=1e-6,
    max_steps=100_000, h0=0.0, sens_idx=None, events=None,
):  # fmt: skip
    """Integrate one parameter set.

    ``events`` is an :class:`EventFlags` record (see :func:`event_flags`), needed when
    ``ne > 0``. Returns ``(Y[T, m], DY[T, m, k], status, t_reached)``; on failure
    (``status != 0``) the rows from the failure on are NaN and ``t_reached`` is where integration
    stopped. ``x0`` entries that are NaN are taken from the model's initial values.
    """
    prob = _problem(model, n, m, P, ne, t0, t_out, sens_idx, rtol, atol, max_steps, h0)
    x0 = np.ascontiguousarray(x0, dtype=np.float64).reshape(prob.n)
    p = np.ascontiguousarray(p, dtype=np.float64).reshape(prob.P)
    ev = events if events is not None else event_flags(prob.ne)
    s1, s2, policy = get_solver(method).kernel_records()
    Y, DY, st, tr = _one_kernel(s1, s2, policy, prob, ev, x0, p)
    return Y, DY, int(st), float(tr)


def solve_batch(
    model, n, m, P, ne, t0, t_out, X0, PS, method="auto", rtol=1e-6, atol=1e-6,
    max_steps=100_000, h0=0.0, sens_idx=None, events=None, parallel=True,
):  # fmt: skip
    """Integrate N members (rows of ``X0[N, n]`` and ``PS[N, P]``), in parallel with prange.

    Returns ``(Y[N, T, m], DY[N, T, m, k], status[N], t_reached[N])``.
    """
    prob = _problem(model, n, m, P, ne, t0, t_out, sens_idx, rtol, atol, max_steps, h0)
    PS = np.ascontiguousarray(PS, dtype=np.float64)
    N = PS.shape[0]
    X0 = np.ascontiguousarray(np.broadcast_to(np.asarray(X0, dtype=np.float64), (N, prob.n)))
    PS = PS.reshape(N, prob.P)
    ev = events if events is not None else event_flags(prob.ne)
    T = prob.t_out.shape[0]
    k = prob.sens_idx.shape[0]
    Y = np.empty((N, T, prob.m))
    DY = np.empty((N, T, prob.m, k))
    status = np.zeros(N, np.int64)
    t_reached = np.zeros(N)
    s1, s2, policy = get_solver(method).kernel_records()
    kernel = _batch_parallel if (parallel and N > 1) else _batch_serial
    kernel(s1, s2, policy, prob, ev, X0, PS, Y, DY, status, t_reached)
    return Y, DY, status, t_reached
