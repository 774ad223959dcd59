"""The typed records the compiled kernels take, instead of long positional argument lists.

All are ``NamedTuple`` classes, which numba passes by value and caches by type:

* :class:`Problem`: what is integrated (model address, sizes, output times, tolerances);
* :class:`EventFlags`: per-event flags of the model's events;
* :class:`SwitchPolicy`: whether (and when) the driver switches from its first method to its
  second (the ``auto`` policy);
* :class:`Work`: built inside the driver; the model call and raw pointers to the work arrays,
  which is all a stepper sees.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "STATUS_EVENT_CASCADE",
    "STATUS_MESSAGES",
    "STATUS_NONFINITE",
    "STATUS_OK",
    "STATUS_SENS_STATE_EVENT",
    "STATUS_STEP_UNDERFLOW",
    "STATUS_TOO_MANY_STEPS",
    "EventFlags",
    "Problem",
    "SwitchPolicy",
    "Work",
]

STATUS_OK = 0
STATUS_TOO_MANY_STEPS = 1
STATUS_STEP_UNDERFLOW = 2
STATUS_NONFINITE = 3
STATUS_SENS_STATE_EVENT = 4
STATUS_EVENT_CASCADE = 5

STATUS_MESSAGES = {
    STATUS_OK: "ok",
    STATUS_TOO_MANY_STEPS: "too many steps (max_steps reached)",
    STATUS_STEP_UNDERFLOW: "step size underflow",
    STATUS_NONFINITE: "NaN or Inf in the state or the right-hand side",
    STATUS_SENS_STATE_EVENT: "sensitivities not supported across state-triggered events",
    STATUS_EVENT_CASCADE: "event cascade limit exceeded",
}


class Problem(NamedTuple):
    """What one kernel call integrates (shared by every member of a batch)."""

    f: int
    """Address of the model function (``cfunc.address``)."""
    n: int
    """Number of states."""
    m: int
    """Number of outputs."""
    P: int
    """Number of slots (parameters and other constants)."""
    ne: int
    """Number of events."""
    t0: float
    t_out: Any
    """Sorted output times, float64 (T,)."""
    sens_idx: Any
    """Slot indices of the sensitivity parameters, int64 (k,)."""
    rtol: float
    atol: float
    max_steps: int
    h0: float
    """First step size; 0 picks one (Hairer's estimate). A fixed-step method keeps it."""


class EventFlags(NamedTuple):
    """Per-event flags, arrays of length ``ne`` (booleans, ``n_assign`` int64)."""

    persistent: Any
    initial_value: Any
    from_trigger: Any
    has_delay: Any
    has_priority: Any
    n_assign: Any
    time_only: Any


class SwitchPolicy(NamedTuple):
    """When the driver switches from its first method to its second, for the rest of the run."""

    switching: bool
    limit: float
    """Stiffness estimate h*|lambda| above which a step counts as stiff."""
    stiff_steps: int
    """Stiff steps (without 6 non-stiff ones in between) that trigger the switch."""


class Work(NamedTuple):
    """The model, the sizes and raw pointers to the work arrays of one member (built in the driver).

    ``K`` holds up to 8 stage vectors of length ``naug = n * (1 + k)``, ``D`` 5 dense-output rows;
    ``J``, ``W``, ``jb`` are n x n, ``fpb`` n x P, ``piv`` n pivots.
    """

    f: Any
    p: Any
    n: Any
    k: Any
    P: Any
    naug: Any
    sens_idx: Any
    rtol: Any
    atol: Any
    z: Any
    znew: Any
    zs: Any
    zd: Any
    ysti: Any
    rr: Any
    err: Any
    F0: Any
    dT: Any
    K: Any
    D: Any
    xt: Any
    stmp: Any
    J: Any
    W: Any
    jb: Any
    fpb: Any
    piv: Any
