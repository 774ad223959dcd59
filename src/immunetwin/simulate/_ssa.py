"""Exact stochastic simulation: ``simulate(spec, times, method="ssa", runs=N, seed=S)``.

The result is a :class:`~immunetwin.simulate.Trajectory` whose members are the runs: for one
parameter set, ``traj["X"]`` has shape ``(runs, len(times))``; for ``n`` parameter sets (a
``params=`` table) it has shape ``(n * runs, len(times))``, member ``i`` being run ``i % runs``
of parameter set ``i // runs`` (``traj["X"].reshape(n, runs, -1)`` separates them), and
:attr:`~immunetwin.simulate.Trajectory.param_values` repeats each set ``runs`` times.

Species are reported as the ODE engine reports them (concentration unless the species has only
substance units); ask for ``outputs=["amount(S)"]`` to get molecule counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import UnsupportedFeature
from ..model import ModelSpec, distrib_draws
from ._params import _param_matrix
from ._ssa_codegen import compile_ssa
from ._ssa_kernels import DIRECT, STATUS_MESSAGES, TAU_LEAP, run_batch
from ._trajectory import Trajectory, member_failures

__all__ = ["STOCHASTIC_METHODS", "SSAOptions", "refuse_draws", "simulate_ssa"]

STOCHASTIC_METHODS = {"ssa": DIRECT, "tau-leap": TAU_LEAP}
"""Names of the stochastic methods accepted by ``simulate(..., method=...)``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SSAOptions:
    """Options of the stochastic simulator.

    Attributes
    ----------
    max_steps : int
        Maximum number of steps (reactions, leaps and stops) per run.
    tau_epsilon : float
        Tau-leaping's bound on the relative change of propensities over one leap (Cao,
        Gillespie and Petzold 2006); smaller is more accurate and slower.
    parallel : bool
        Run the runs in parallel over the cores (results are the same either way).
    """

    max_steps: int = 100_000_000
    tau_epsilon: float = 0.03
    parallel: bool = True

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError("SSAOptions: max_steps must be >= 1")
        if not 0.0 < self.tau_epsilon < 1.0:
            raise ValueError("SSAOptions: tau_epsilon must be in (0, 1)")


_DRAWS: dict[str, str | None] = {}


def refuse_draws(spec: ModelSpec) -> None:
    """Raise :class:`UnsupportedFeature` when ``spec`` draws random numbers (SBML distrib).

    The deterministic backends cannot simulate draws; the answer is memoised by spec hash.
    """
    key = spec.hash()
    if key not in _DRAWS:
        _DRAWS[key] = next((w for w, e in spec.expressions() if distrib_draws(e)), None)
    where = _DRAWS[key]
    if where is not None:
        raise UnsupportedFeature("random draws (SBML distrib); use method='ssa'", where)


def _key(seed: int | None) -> int:
    """A 64-bit key for the run generators (fresh entropy when ``seed`` is None)."""
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0
    ):
        raise ValueError(f"simulate: seed must be a non-negative integer or None, not {seed!r}")
    ss = np.random.SeedSequence(None if seed is None else int(seed))
    return int(ss.generate_state(1, np.uint64)[0])


def simulate_ssa(
    spec: ModelSpec,
    tout: np.ndarray[Any, Any],
    *,
    method: str,
    runs: int,
    seed: int | None,
    params: Any,
    initial: Any,
    outputs: tuple[str, ...],
    options: SSAOptions,
    errors: Literal["raise", "report"],
    t0: float,
) -> Trajectory:
    """Simulate ``runs`` stochastic runs of ``spec`` per parameter set (see the module doc)."""
    if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or runs < 1:
        raise ValueError(f"simulate: runs must be a positive integer, not {runs!r}")
    code = STOCHASTIC_METHODS[method]
    cm = compile_ssa(spec, outputs=outputs)
    if code == TAU_LEAP and not cm.constant_stoichiometry:
        raise UnsupportedFeature(
            "tau-leaping with a stoichiometry that is an expression", spec.id, backend="ssa"
        )
    # CompiledSSA has the slot attributes _param_matrix reads (slots, slot_kinds, slot_values)
    ps, _, table = _param_matrix(cm, spec, params, initial)  # type: ignore[arg-type]
    y, status, t_reached = run_batch(  # type: ignore[no-untyped-call]
        cm,
        tout,
        ps,
        runs=int(runs),
        key=_key(seed),
        t0=float(t0),
        method=code,
        eps=options.tau_epsilon,
        max_steps=options.max_steps,
        parallel=options.parallel,
    )
    failures = member_failures(status, t_reached, STATUS_MESSAGES, unknown="status")
    traj = Trajectory(
        model=spec.id,
        times=tout,
        names=cm.outputs,
        values=y,
        param_names=table[0],
        param_values=np.repeat(table[1], int(runs), axis=0),
        failures=failures,
        backend=method,
        kinds=cm.output_kinds,
    )
    if errors == "raise":
        traj.raise_on_failure()
    return traj
