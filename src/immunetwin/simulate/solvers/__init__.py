"""Solvers as objects: one module per integration method, registered by name.

A solver is a frozen :class:`AbstractSolver` (what the method is) plus its numba kernels, attached
to a record class with :func:`implement`; :func:`register_solver` makes it a valid
``SolverOptions(method=...)``. The compiled driver (``_integrate.py``) is shared by all of them.
Registered: ``auto`` (code 0), ``rodas5`` / ``stiff`` (1), ``dopri5`` / ``nonstiff`` (2).
See docs/architecture.md, "How to add a solver".

Low-level entry points (hand-written model functions): :func:`solve_one`, :func:`solve_batch`.
"""

from . import _auto, _dopri5, _rk4, _rodas5
from ._base import AbstractSolver as AbstractSolver
from ._base import implement as implement
from ._ffi import MODEL_SIG as MODEL_SIG
from ._records import STATUS_MESSAGES as STATUS_MESSAGES
from ._records import STATUS_OK as STATUS_OK
from ._records import EventFlags as EventFlags
from ._records import Problem as Problem
from ._records import SwitchPolicy as SwitchPolicy
from ._registry import get_solver as get_solver
from ._registry import register_solver as register_solver
from ._registry import solver_code as solver_code
from ._registry import solver_names as solver_names
from ._run import event_flags as event_flags
from ._run import solve_batch as solve_batch
from ._run import solve_one as solve_one

register_solver(_auto.AUTO)
register_solver(_rodas5.RODAS5)
register_solver(_dopri5.DOPRI5)
register_solver(_rk4.RK4)
