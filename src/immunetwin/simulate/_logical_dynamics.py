"""Discrete dynamics of logical models: synchronous, asynchronous and most-permissive.

A species moves one level at a time towards its target level (GINsim's unitary updates; for a
Boolean species this is the ordinary update). Synchronous: every species that can move does.
Asynchronous: one species, chosen uniformly at random (seeded) among those that can move.
Most permissive (Paulevé et al. 2020): reachability and attractors are answered by mpbn on the
van Ham booleanization.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from ..model import LogicalModelSpec
from ._logical_compile import LogicalNetwork, bit_name, compile_network, decode_bits
from ._logical_fixpoints import TrapSpaceResult, _mpbn

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["LogicalTrajectory", "mp_attractors", "reachable", "run_logical"]

MODES = ("sync", "async")


@dataclass(frozen=True, eq=False)
class LogicalTrajectory:
    """A labelled, immutable trajectory of a discrete logical simulation.

    Attributes
    ----------
    model, species, mode, seed
        What was simulated, and how.
    states
        Levels, shape ``(steps + 1, len(species))`` (read-only).
    stopped
        ``"fixpoint"``, ``"cycle"`` (synchronous only: the state repeats) or ``"max_steps"``.
    cycle_start
        Step at which the repeated state first occurred (``stopped == "cycle"``).
    """

    model: str
    species: tuple[str, ...]
    mode: str
    seed: int | None
    states: NDArray[np.int8]
    stopped: str
    cycle_start: int | None = None

    @property
    def final(self) -> dict[str, int]:
        """The last state as ``{species: level}``."""
        return {s: int(v) for s, v in zip(self.species, self.states[-1], strict=True)}

    def to_pandas(self) -> pd.DataFrame:
        """One row per step, one column per species (index ``step``)."""
        import pandas as pd

        df = pd.DataFrame(np.asarray(self.states), columns=list(self.species))
        df.index.name = "step"
        return df

    def plot(self, ax: Axes | None = None, *, species: tuple[str, ...] | None = None) -> Axes:
        """A species-by-step heat map of levels."""
        import matplotlib.pyplot as plt

        names = species or self.species
        cols = [self.species.index(s) for s in names]
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.25 * len(names) + 1.5))
        ax.imshow(
            np.asarray(self.states)[:, cols].T, aspect="auto", interpolation="nearest", cmap="Greys"
        )
        ax.set_yticks(range(len(names)), labels=list(names))
        ax.set_xlabel("step")
        ax.set_title(f"{self.model}: {self.mode} ({self.stopped})")
        return ax


def _step_towards(x: NDArray[np.int8], t: NDArray[np.int8]) -> NDArray[np.int8]:
    return (x + np.sign(t.astype(np.int16) - x.astype(np.int16))).astype(np.int8)


def run_logical(
    spec: LogicalModelSpec,
    initial: Mapping[str, int] | None = None,
    *,
    mode: str = "sync",
    max_steps: int = 1000,
    seed: int | None = None,
) -> LogicalTrajectory:
    """Simulate ``spec`` from ``initial`` (missing species: their initial level, else 0).

    Parameters
    ----------
    mode
        ``"sync"`` or ``"async"`` (for most-permissive dynamics see :func:`reachable` and
        :func:`mp_attractors`).
    max_steps
        Stop after this many updates.
    seed
        Seed of the random order (asynchronous mode).
    """
    if mode not in MODES:
        raise ModelError(f"run_logical: unknown mode '{mode}' (sync, async)")
    net = compile_network(spec)
    x = net.state(initial or {})
    rng = np.random.default_rng(seed)
    seen: dict[bytes, int] = {x.tobytes(): 0}
    rows = [x]
    stopped, cycle = "max_steps", None
    for step in range(1, max_steps + 1):
        t = net.targets(x[None, :])[0]
        movable = np.flatnonzero(t != x)
        if movable.size == 0:
            stopped = "fixpoint"
            break
        if mode == "sync":
            x = _step_towards(x, t)
        else:
            i = int(rng.choice(movable))
            x = x.copy()
            x[i] += 1 if t[i] > x[i] else -1
        rows.append(x)
        if mode == "sync":
            key = x.tobytes()
            if key in seen:
                stopped, cycle = "cycle", seen[key]
                break
            seen[key] = step
    states = np.array(rows, dtype=np.int8)
    states.setflags(write=False)
    return LogicalTrajectory(spec.id, spec.species_ids, mode, seed, states, stopped, cycle)


def _bits(spec: LogicalModelSpec, levels: Mapping[str, int]) -> dict[str, int]:
    out = {}
    for sid, lvl in levels.items():
        top = spec.species[spec.index(sid)].levels - 1
        if not 0 <= int(lvl) <= top:
            raise ModelError(f"state: level {lvl} of '{sid}' outside 0..{top}")
        for k in range(1, top + 1):
            out[bit_name(spec, sid, k)] = int(int(lvl) >= k)
    return out


def reachable(
    spec: LogicalModelSpec,
    initial: Mapping[str, int],
    phenotype: Mapping[str, int],
    *,
    mode: str = "mp",
    max_states: int = 1_000_000,
) -> bool:
    """Whether a state matching ``phenotype`` (partial levels) is reachable from ``initial``.

    ``mode="mp"``: most-permissive reachability (mpbn; ``initial`` may be partial too).
    ``mode="async"``: exhaustive search of the asynchronous state graph from the full initial
    state (missing species at their initial level, else 0), up to ``max_states`` states.
    """
    if mode == "mp":
        net = compile_network(spec)
        full = net.as_dict(net.state(initial))
        return bool(_mpbn(spec).reachability(_bits(spec, full), _bits(spec, phenotype)))
    if mode != "async":
        raise ModelError(f"reachable: unknown mode '{mode}' (mp, async)")
    return _async_reach(compile_network(spec), initial, phenotype, max_states)


def _async_reach(
    net: LogicalNetwork, initial: Mapping[str, int], phenotype: Mapping[str, int], max_states: int
) -> bool:
    idx = np.array([net.spec.index(s) for s in phenotype], dtype=np.int64)
    want = np.array(list(phenotype.values()), dtype=np.int8)
    start = net.state(initial)
    seen = {start.tobytes()}
    queue = deque([start])
    while queue:
        x = queue.popleft()
        if np.array_equal(x[idx], want):
            return True
        t = net.targets(x[None, :])[0]
        for i in np.flatnonzero(t != x):
            y = x.copy()
            y[i] += 1 if t[i] > x[i] else -1
            key = y.tobytes()
            if key not in seen:
                if len(seen) >= max_states:
                    raise ModelError(
                        f"reachable: more than {max_states} asynchronous states; use mode='mp'"
                    )
                seen.add(key)
                queue.append(y)
    return False


def mp_attractors(
    spec: LogicalModelSpec, initial: Mapping[str, int], *, max_count: int = 1000
) -> TrapSpaceResult:
    """Most-permissive attractors (minimal trap spaces) reachable from ``initial``."""
    net = compile_network(spec)
    cfg = _bits(spec, net.as_dict(net.state(initial)))
    spaces = []
    attractors: Any = _mpbn(spec).attractors(reachable_from=cfg, limit=max_count + 1)
    for a in attractors:
        levels = decode_bits(spec, a)
        spaces.append(tuple(levels[s] for s in spec.species_ids))
    return TrapSpaceResult(
        spec.id, spec.species_ids, tuple(spaces[:max_count]), len(spaces) <= max_count
    )
