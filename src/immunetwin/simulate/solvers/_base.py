"""The solver interface: a Python object that describes a method, and the kernel functions the
compiled driver calls on it.

A solver is one module: a frozen :class:`AbstractSolver` subclass (what the method is: its name,
order, whether it suits stiff problems and supports sensitivities) plus a ``NamedTuple`` record
class that stands for it inside compiled code, and its numba kernels, attached to that record class
with :func:`implement`. The driver (``_integrate.py``) calls the generic kernel functions below
(:func:`step`, :func:`dense_prepare`, ...) on the record; numba picks the method's kernels by the
record's type when it compiles the driver, so the driver has no branch per method and the
compiled code is cached per method (the record types are part of the signature).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from numba import njit, types
from numba.extending import overload

from ._records import SwitchPolicy

__all__ = [
    "NO_SWITCH",
    "AbstractSolver",
    "dense_eval",
    "dense_prepare",
    "fsal",
    "implement",
    "prepare",
    "step",
    "stiffness",
]

NO_SWITCH = SwitchPolicy(False, 0.0, 0)

MAX_STAGES = 8
"""Stage vectors the driver provides (``Work.K``)."""


@dataclass(frozen=True, kw_only=True)
class AbstractSolver(abc.ABC):
    """An integration method of the compiled backend.

    Attributes
    ----------
    name : str
        Registered name (``SolverOptions(method=name)``).
    aliases : tuple of str
        Other names it answers to (e.g. the ``Method`` enum's ``"stiff"``).
    order : int
        Order of the method (of the propagated solution).
    dense_order : int
        Order of its dense output (used between steps: output times, event location).
    stiff : bool
        Whether it is meant for stiff problems (A-/L-stable, uses the Jacobian).
    sensitivities : bool
        Whether it integrates forward sensitivities.
    adaptive : bool
        Whether it controls its step size by an error estimate (else: fixed steps).
    """

    name: str
    aliases: tuple[str, ...] = ()
    order: int
    dense_order: int
    stiff: bool
    sensitivities: bool = True
    adaptive: bool = True

    @abc.abstractmethod
    def kernel_records(self) -> tuple[Any, Any, SwitchPolicy]:
        """The records the driver runs: ``(first, second, policy)``.

        A single method returns ``(record, record, NO_SWITCH)``; a switching policy (``auto``)
        returns the two methods' records and when to switch from the first to the second.
        """


# ---------------------------------------------------------------------------- kernel functions
# Called only from compiled code, on a solver record; resolved per record type by :func:`implement`.
def prepare(solver: Any, w: Any, t: float) -> None:
    """Prepare a step from ``(t, w.z)`` (e.g. the Jacobian); ``w.F0`` holds the RHS there."""
    raise NotImplementedError("compiled code only")


def step(solver: Any, w: Any, t: float, h: float) -> float:
    """One step of size ``h`` from ``(t, w.z)`` into ``w.znew``; returns the error norm (inf: failed)."""
    raise NotImplementedError("compiled code only")


def dense_prepare(solver: Any, w: Any, h: float) -> None:
    """Fill ``w.D`` with the dense output of the step just accepted."""
    raise NotImplementedError("compiled code only")


def dense_eval(solver: Any, theta: float, naug: int, D: Any, out: Any) -> None:
    """The dense output at ``t + theta*h`` into ``out``."""
    raise NotImplementedError("compiled code only")


def fsal(solver: Any, w: Any) -> bool:
    """After a full accepted step: put f(t_new, znew) into ``w.F0`` if known; return whether."""
    raise NotImplementedError("compiled code only")


def stiffness(solver: Any, w: Any, h: float) -> float:
    """An estimate of h*|lambda| from the step just taken (0 when the method has none)."""
    raise NotImplementedError("compiled code only")


def controller(solver: Any) -> tuple[float, float, float, float]:
    """Step-size controller constants ``(expo1, beta, facmax, reject_exponent)``."""
    raise NotImplementedError("compiled code only")


@njit(cache=True)
def _no_prepare(solver, w, t):
    return None


@njit(cache=True)
def _no_fsal(solver, w):
    return False


@njit(cache=True)
def _no_stiffness(solver, w, h):
    return 0.0


_KERNELS: dict[type, dict[str, Callable[..., Any]]] = {}
_REQUIRED = ("step", "dense_prepare", "dense_eval", "controller")


def implement(record: type, **kernels: Callable[..., Any]) -> None:
    """Attach a method's numba kernels to its record class.

    ``step``, ``dense_prepare``, ``dense_eval`` and ``controller`` are required; ``prepare``,
    ``fsal`` and ``stiffness`` default to no-ops. Each kernel takes the record first, then the
    arguments of the generic function of the same name in this module.
    """
    missing = [k for k in _REQUIRED if k not in kernels]
    unknown = [k for k in kernels if k not in (*_REQUIRED, "prepare", "fsal", "stiffness")]
    if missing or unknown:
        raise TypeError(f"implement({record.__name__}): missing {missing}, unknown {unknown}")
    table: dict[str, Callable[..., Any]] = {
        "prepare": _no_prepare,
        "fsal": _no_fsal,
        "stiffness": _no_stiffness,
    }
    table.update(kernels)
    _KERNELS[record] = table


def _kernel(solver: Any, name: str) -> Callable[..., Any] | None:
    if isinstance(solver, types.BaseNamedTuple):
        table = _KERNELS.get(getattr(solver, "instance_class", type(None)))
        if table is not None:
            return table[name]
    return None


@overload(prepare)
def _ov_prepare(solver, w, t):
    fn = _kernel(solver, "prepare")
    if fn is not None:

        def impl(solver, w, t):
            return fn(solver, w, t)

        return impl
    return None


@overload(step)
def _ov_step(solver, w, t, h):
    fn = _kernel(solver, "step")
    if fn is not None:

        def impl(solver, w, t, h):
            return fn(solver, w, t, h)

        return impl
    return None


@overload(dense_prepare)
def _ov_dense_prepare(solver, w, h):
    fn = _kernel(solver, "dense_prepare")
    if fn is not None:

        def impl(solver, w, h):
            return fn(solver, w, h)

        return impl
    return None


@overload(dense_eval)
def _ov_dense_eval(solver, theta, naug, D, out):
    fn = _kernel(solver, "dense_eval")
    if fn is not None:

        def impl(solver, theta, naug, D, out):
            return fn(solver, theta, naug, D, out)

        return impl
    return None


@overload(fsal)
def _ov_fsal(solver, w):
    fn = _kernel(solver, "fsal")
    if fn is not None:

        def impl(solver, w):
            return fn(solver, w)

        return impl
    return None


@overload(stiffness)
def _ov_stiffness(solver, w, h):
    fn = _kernel(solver, "stiffness")
    if fn is not None:

        def impl(solver, w, h):
            return fn(solver, w, h)

        return impl
    return None


@overload(controller)
def _ov_controller(solver):
    fn = _kernel(solver, "controller")
    if fn is not None:

        def impl(solver):
            return fn(solver)

        return impl
    return None
