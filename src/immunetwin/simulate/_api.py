"""The one entry verb: :func:`simulate`."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from ..errors import ModelError, NegativeStateError, NegativeStateWarning, UnsupportedFeature
from ..model import ModelSpec
from ._codegen import compile_model
from ._params import ParamsLike, _param_matrix, _table
from ._ssa import STOCHASTIC_METHODS, SSAOptions, refuse_draws, simulate_ssa
from ._trajectory import (
    MemberFailure,
    NegativeState,
    Trajectory,
    find_negative_states,
    member_failures,
)
from .solvers import STATUS_MESSAGES, solver_code, solver_names

__all__ = ["Backend", "Method", "SolverOptions", "method_code", "simulate"]


class Backend(StrEnum):
    """Simulation backends."""

    COMPILED = "compiled"
    """Our engine: generated model code compiled by numba, solvers compiled once."""
    ROADRUNNER = "roadrunner"
    """libRoadRunner (CVODE), the reference and full-SBML fallback."""


class Method(StrEnum):
    """Integration method of the compiled backend."""

    AUTO = "auto"
    STIFF = "stiff"
    NONSTIFF = "nonstiff"


def method_code(method: Method | str) -> int:
    """The solver's integer code of ``method``, a registered name (for :meth:`CompiledModel.run`)."""
    return solver_code(str(method))


@dataclass(frozen=True, slots=True, kw_only=True)
class SolverOptions:
    """Options of the integrators.

    Attributes
    ----------
    rtol, atol : float
        Relative and absolute error tolerances.
    max_steps : int
        Maximum number of steps per simulation.
    method : Method or str
        Integration method of the compiled backend: a :class:`Method` or any registered solver
        name (``immunetwin.simulate.solvers.solver_names()``: ``"auto"``, ``"rodas5"``,
        ``"dopri5"``, ...).
    parallel : bool
        Run batches in parallel over the cores (compiled backend).
    """

    rtol: float = 1e-6
    atol: float = 1e-9
    max_steps: int = 100_000
    method: Method | str = Method.AUTO
    parallel: bool = True

    def __post_init__(self) -> None:
        if not (self.rtol > 0 and self.atol > 0):
            raise ValueError("SolverOptions: rtol and atol must be positive")
        if str(self.method) not in solver_names():
            raise ValueError(
                f"SolverOptions: unknown method {self.method!r}; registered: {solver_names()}"
            )
        if self.max_steps < 1:
            raise ValueError("SolverOptions: max_steps must be >= 1")


def simulate(
    spec: ModelSpec,
    times: Sequence[float] | np.ndarray[Any, Any],
    *,
    params: ParamsLike = None,
    initial: ParamsLike = None,
    backend: Backend | str = Backend.COMPILED,
    options: SolverOptions | SSAOptions | None = None,
    outputs: Sequence[str] | None = None,
    sensitivities: Sequence[str] | None = None,
    errors: Literal["raise", "report"] = "raise",
    on_negative: Literal["warn", "raise", "ignore"] = "warn",
    t0: float = 0.0,
    method: str | None = None,
    runs: int = 1,
    seed: int | None = None,
) -> Trajectory:
    """Simulate ``spec`` at the output ``times``.

    Parameters
    ----------
    spec
        The model.
    times
        Sorted output times (>= ``t0``).
    params
        Parameter (and compartment) values by id: one mapping, or a table of N sets (a DataFrame
        or a dict of equal-length arrays) simulated as one batch, in parallel.
    initial
        Species initial values by id (concentration unless the species has only substance
        units), one set or N sets.
    backend
        ``"compiled"`` (our engine) or ``"roadrunner"`` (libRoadRunner, the reference).
    options
        Solver options.
    outputs
        Extra ids to report besides species and observables: parameters, compartments,
        assignment-rule variables, reactions (their rates), or ``"amount(S)"``.
    sensitivities
        Parameter (or species initial value) ids; the result then holds ``d output / d param``.
        Compiled backend only.
    errors
        ``"raise"``: a failed member raises :class:`~immunetwin.errors.SimulationError`;
        ``"report"``: failed members are listed in :attr:`Trajectory.failures` (their rows are NaN).
    on_negative
        What to do when a species goes meaningfully negative (below ``-max(100 * atol,
        1e-6 * max |x|)``, ``max |x|`` over that species' trajectory, so round-off around zero
        does not count): ``"warn"`` issues a :class:`~immunetwin.errors.NegativeStateWarning`,
        ``"raise"`` raises :class:`~immunetwin.errors.NegativeStateError` (a
        :class:`~immunetwin.errors.SimulationError`), ``"ignore"`` only records them. In every
        case they are recorded in :attr:`Trajectory.negative_states`. Only species are checked;
        observables, parameters and other outputs may be negative.
    t0
        Start time.
    method
        ``"ssa"`` for exact stochastic simulation (Gillespie's direct method) of the reactions,
        ``"tau-leap"`` for approximate, faster tau-leaping when counts are large; ``None``
        (default) for the ODE backends. Stochastic results hold ``runs`` members per parameter
        set: ``traj["X"]`` has shape ``(runs, len(times))``, or ``(n * runs, len(times))`` for
        ``n`` parameter sets (member ``i`` is run ``i % runs`` of set ``i // runs``). Options:
        :class:`~immunetwin.simulate.SSAOptions`. Refused with
        :class:`~immunetwin.errors.UnsupportedFeature`: algebraic rules, delays, rate rules
        that are ODEs, propensities that change continuously in time.
    runs
        Number of stochastic runs per parameter set (stochastic methods only).
    seed
        Seed of the stochastic runs: the same seed gives the same result, whatever the
        parallelism (stochastic methods only; ``None`` draws fresh entropy).

    Returns
    -------
    Trajectory
    """
    if on_negative not in ("warn", "raise", "ignore"):
        raise ValueError(
            f"simulate: on_negative must be 'warn', 'raise' or 'ignore', not {on_negative!r}"
        )
    tout = np.asarray(times, dtype=float).ravel()
    if tout.size == 0 or np.any(np.diff(tout) < 0) or tout[0] < t0 or not np.all(np.isfinite(tout)):
        raise ValueError("simulate: times must be finite, sorted and >= t0")
    if method is not None or isinstance(options, SSAOptions):
        return _stochastic(spec, tout, method, runs, seed, params, initial, outputs, options,
                           errors, t0, sensitivities, backend)  # fmt: skip
    refuse_draws(spec)
    opts = options or SolverOptions()
    backend = Backend(backend)
    extra = tuple(outputs or ())
    if backend is Backend.ROADRUNNER:
        if sensitivities:
            raise UnsupportedFeature("sensitivities", None, backend="roadrunner")
        traj = _simulate_roadrunner(spec, tout, t0, params, initial, extra, opts, errors)
    else:
        traj = _simulate_compiled(
            spec, tout, t0, params, initial, extra, opts, errors, tuple(sensitivities or ())
        )
    negatives = find_negative_states(
        traj.values, traj.times, traj.names, traj.kinds, atol=opts.atol
    )
    if negatives:
        traj = dataclasses.replace(traj, negatives=negatives)
        if on_negative == "raise":
            raise _negative_error(traj)
        if on_negative == "warn":
            warnings.warn(_negative_message(traj), NegativeStateWarning, stacklevel=2)
    return traj


def _stochastic(
    spec: ModelSpec,
    tout: np.ndarray[Any, Any],
    method: str | None,
    runs: int,
    seed: int | None,
    params: ParamsLike,
    initial: ParamsLike,
    outputs: Sequence[str] | None,
    options: SolverOptions | SSAOptions | None,
    errors: Literal["raise", "report"],
    t0: float,
    sensitivities: Sequence[str] | None,
    backend: Backend | str,
) -> Trajectory:
    """The ``method="ssa"`` / ``"tau-leap"`` branch of :func:`simulate`."""
    if method not in STOCHASTIC_METHODS:
        raise ValueError(
            f"simulate: method must be one of {sorted(STOCHASTIC_METHODS)} or None, not {method!r}"
        )
    if sensitivities:
        raise UnsupportedFeature("sensitivities", None, backend="ssa")
    if Backend(backend) is not Backend.COMPILED:
        raise ValueError("simulate: stochastic methods run on the compiled backend only")
    opts = (
        options
        if isinstance(options, SSAOptions)
        else SSAOptions(parallel=options.parallel if options is not None else True)
    )
    return simulate_ssa(spec, tout, method=method, runs=runs, seed=seed, params=params,
                        initial=initial, outputs=tuple(outputs or ()), options=opts,
                        errors=errors, t0=t0)  # fmt: skip


def _worst_by_state(traj: Trajectory) -> list[tuple[NegativeState, int]]:
    """The most negative record of each negative species (output order), with its member count."""
    worst: dict[str, NegativeState] = {}
    count: dict[str, int] = {}
    for r in traj.negatives:
        count[r.state] = count.get(r.state, 0) + 1
        if r.state not in worst or r.value < worst[r.state].value:
            worst[r.state] = r
    return [(worst[n], count[n]) for n in traj.negative_states]


def _negative_summary(traj: Trajectory, limit: int = 5) -> str:
    batch = traj.n_members > 1
    parts = []
    for r, k in _worst_by_state(traj)[:limit]:
        where = ""
        if batch:
            where = f" (parameter set #{r.member}" + (f"; {k} sets negative)" if k > 1 else ")")
        parts.append(f"{r.state} reached {r.value:.6g} at t = {r.time:.6g}{where}")
    more = len(traj.negative_states) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _negative_message(traj: Trajectory) -> str:
    return (
        f"model '{traj.model}': species went negative: {_negative_summary(traj)} "
        "(pass on_negative='ignore' to silence, or 'raise' to fail)"
    )


def _negative_error(traj: Trajectory) -> NegativeStateError:
    first, _ = _worst_by_state(traj)[0]
    return NegativeStateError(
        f"species went negative: {_negative_summary(traj)}",
        states=traj.negative_states,
        value=first.value,
        model=traj.model,
        member=first.member if traj.n_members > 1 else None,
        time=first.time,
        params=dict(
            zip(traj.param_names, map(float, traj.param_values[first.member]), strict=True)
        ),
    )


def _simulate_compiled(
    spec: ModelSpec,
    tout: np.ndarray[Any, Any],
    t0: float,
    params: ParamsLike,
    initial: ParamsLike,
    extra: tuple[str, ...],
    opts: SolverOptions,
    errors: Literal["raise", "report"],
    sens_names: tuple[str, ...],
) -> Trajectory:
    cm = compile_model(spec, outputs=extra, sensitivities=bool(sens_names))
    ps, x0, table = _param_matrix(cm, spec, params, initial)
    slot_index = {s: j for j, s in enumerate(cm.slots)}
    for s in sens_names:
        if s not in slot_index:
            raise ModelError(
                f"model '{spec.id}': no parameter or species initial value '{s}' for sensitivities"
            )
    if sens_names and not bool(np.all(cm.ev_time_only)):
        bad = [e for e, ok in zip(cm.events, cm.ev_time_only, strict=True) if not ok]
        raise UnsupportedFeature("sensitivities across state-triggered events", ",".join(bad))
    sens_idx = np.asarray([slot_index[s] for s in sens_names], dtype=np.int64)
    y, dy, status, t_reached = cm.run(
        tout,
        ps,
        x0=x0,
        sens_idx=sens_idx,
        method=solver_code(str(opts.method)),
        rtol=opts.rtol,
        atol=opts.atol,
        max_steps=opts.max_steps,
        t0=float(t0),
        parallel=opts.parallel,
    )
    failures = member_failures(status, t_reached, STATUS_MESSAGES, unknown="solver status")
    traj = Trajectory(
        model=spec.id,
        times=tout,
        names=cm.outputs,
        values=y,
        param_names=table[0],
        param_values=table[1],
        sensitivity_params=sens_names,
        sensitivities=dy if sens_names else None,
        failures=failures,
        backend="compiled",
        kinds=cm.output_kinds,
    )
    if errors == "raise":
        traj.raise_on_failure()
    return traj


def _simulate_roadrunner(
    spec: ModelSpec,
    tout: np.ndarray[Any, Any],
    t0: float,
    params: ParamsLike,
    initial: ParamsLike,
    extra: tuple[str, ...],
    opts: SolverOptions,
    errors: Literal["raise", "report"],
) -> Trajectory:
    from ..model import to_sbml
    from ._flatten import flatten
    from ._roadrunner import run_roadrunner

    if spec.algebraic_rules:
        raise UnsupportedFeature("AlgebraicRule", spec.id, backend="roadrunner")
    flat = flatten(spec, extra_outputs=extra)
    n_p, pcols = _table(params, "parameter")
    n_i, icols = _table(initial, "initial value")
    n = max(n_p, n_i)
    param_sets = (
        [{k: float(v[i]) for k, v in pcols.items()} for i in range(n)]
        if pcols
        else [{} for _ in range(n)]
    )
    init_sets = (
        [{k: float(v[i]) for k, v in icols.items()} for i in range(n)]
        if icols
        else [{} for _ in range(n)]
    )
    known = {p.id for p in spec.parameters} | {c.id for c in spec.compartments}
    for k in pcols:
        if k not in known:
            raise ModelError(f"model '{spec.id}': unknown parameter '{k}'")
    values, fails = run_roadrunner(
        spec,
        to_sbml(spec),
        tout,
        t0,
        param_sets,
        init_sets,
        flat.outputs,
        flat.output_kinds,
        opts.rtol,
        opts.atol,
        opts.max_steps,
    )
    base = {p.id: p.value for p in spec.parameters} | {c.id: c.size for c in spec.compartments}
    names = tuple(base)
    table = (
        names,
        np.array([[{**base, **ps}[k] for k in names] for ps in param_sets], dtype=float),
    )
    traj = Trajectory(
        model=spec.id,
        times=tout,
        names=flat.outputs,
        values=values,
        param_names=table[0],
        param_values=table[1],
        failures=tuple(MemberFailure(m, r, t) for m, r, t in fails),
        backend="roadrunner",
        kinds=flat.output_kinds,
    )
    if errors == "raise":
        traj.raise_on_failure()
    return traj
