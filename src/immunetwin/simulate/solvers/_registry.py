"""The registry of solvers by name: ``SolverOptions(method=...)`` accepts any registered name."""

from __future__ import annotations

from ._base import MAX_STAGES, AbstractSolver

__all__ = ["get_solver", "register_solver", "solver_code", "solver_names"]

_SOLVERS: list[AbstractSolver] = []
_BY_NAME: dict[str, int] = {}


def register_solver(solver: AbstractSolver, *, stages: int = MAX_STAGES) -> int:
    """Register ``solver`` under its name and aliases; return its integer code.

    Codes are given in registration order (the compiled backend's ``method`` argument):
    ``auto`` 0, ``rodas5`` 1, ``dopri5`` 2, then later registrations.
    """
    if stages > MAX_STAGES:
        raise ValueError(f"solver '{solver.name}': {stages} stages, at most {MAX_STAGES}")
    names = (solver.name, *solver.aliases)
    taken = [n for n in names if n in _BY_NAME]
    if taken:
        raise ValueError(f"solver '{solver.name}': name(s) already registered: {taken}")
    code = len(_SOLVERS)
    _SOLVERS.append(solver)
    for n in names:
        _BY_NAME[n] = code
    return code


def solver_names() -> tuple[str, ...]:
    """Every registered name (aliases included)."""
    return tuple(_BY_NAME)


def solver_code(method: str | int) -> int:
    """The integer code of a registered solver, given its name (or a code, checked)."""
    if not isinstance(method, str):
        code = int(method)
        if not 0 <= code < len(_SOLVERS):
            raise ValueError(f"no solver with code {method}; codes 0..{len(_SOLVERS) - 1}")
        return code
    found = _BY_NAME.get(str(method))
    if found is None:
        raise ValueError(f"unknown solver method '{method}'; registered: {list(_BY_NAME)}")
    return found


def get_solver(method: str | int) -> AbstractSolver:
    """The registered solver of a name or code."""
    return _SOLVERS[solver_code(method)]
