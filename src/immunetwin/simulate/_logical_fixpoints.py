"""Stable states (fixpoints) and minimal trap spaces of logical models.

Three exact methods for fixpoints, chosen by ``method``:

``"mpbn"``
    The van Ham booleanization solved by mpbn (answer-set programming with clingo); scales to
    models of hundreds of nodes. The default when mpbn is installed.
``"search"``
    Our own depth-first search over species levels with propagation (a species whose
    regulators are all set has one possible level): exact, multi-valued natively, no
    dependency; fast on sparse networks of tens of nodes.
``"brute"``
    Enumerates every state (only for small state spaces, at most 2^24 states); the reference.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ModelError, UnsupportedFeature
from ..model import LogicalModelSpec
from ._logical_compile import (
    LogicalNetwork,
    bit_name,
    booleanize,
    compile_network,
    decode_bits,
)

__all__ = ["FixpointResult", "TrapSpaceResult", "apply_conditions", "fixpoints", "trap_spaces"]

BRUTE_LIMIT = 1 << 24


@dataclass(frozen=True, slots=True)
class FixpointResult:
    """The stable states of a model: levels in the order of ``species``.

    ``complete`` is false when the listing was capped at ``max_count``.
    """

    model: str
    species: tuple[str, ...]
    states: tuple[tuple[int, ...], ...]
    complete: bool
    method: str

    def __len__(self) -> int:
        return len(self.states)

    def as_dicts(self) -> list[dict[str, int]]:
        """Each fixpoint as ``{species: level}``."""
        return [dict(zip(self.species, s, strict=True)) for s in self.states]

    def to_json(self) -> dict[str, Any]:
        """``{"fixpoints": [{species: level}, ...], "complete": bool}``."""
        return {"fixpoints": self.as_dicts(), "complete": self.complete}


@dataclass(frozen=True, slots=True)
class TrapSpaceResult:
    """Minimal trap spaces: per species its fixed level, or ``None`` when it is free."""

    model: str
    species: tuple[str, ...]
    spaces: tuple[tuple[int | None, ...], ...]
    complete: bool

    def as_dicts(self) -> list[dict[str, int | None]]:
        """Each trap space as ``{species: level or None}``."""
        return [dict(zip(self.species, s, strict=True)) for s in self.spaces]

    @property
    def cyclic(self) -> tuple[int, ...]:
        """Indices of the trap spaces with a free species (candidate cyclic attractors)."""
        return tuple(i for i, s in enumerate(self.spaces) if any(v is None for v in s))


def apply_conditions(
    spec: LogicalModelSpec,
    *,
    inputs: Mapping[str, int] | None = None,
    mutations: Mapping[str, int] | None = None,
) -> LogicalModelSpec:
    """The model under fixed input levels and mutations (knock-out 0, knock-in max level)."""
    inputs = dict(inputs or {})
    free = set(spec.inputs)
    for sid in inputs:
        if sid not in free:
            raise ModelError(f"logical model '{spec.id}': '{sid}' is not an input species")
    fixed = {**inputs, **dict(mutations or {})}
    return spec.mutate(fixed) if fixed else spec


def fixpoints(
    spec: LogicalModelSpec,
    *,
    method: str = "auto",
    max_count: int = 10_000,
    inputs: Mapping[str, int] | None = None,
    mutations: Mapping[str, int] | None = None,
) -> FixpointResult:
    """Every stable state of ``spec`` (inputs free unless fixed), up to ``max_count``.

    Parameters
    ----------
    spec
        The logical model.
    method
        ``"auto"`` (mpbn when installed, else ``"search"``), ``"mpbn"``, ``"search"`` or ``"brute"``.
    max_count
        Cap on the listing; when reached, ``complete`` is false.
    inputs, mutations
        Fixed input levels and mutant levels (see :func:`apply_conditions`).
    """
    if max_count < 1:
        raise ModelError(f"fixpoints: max_count must be >= 1, got {max_count}")
    model = apply_conditions(spec, inputs=inputs, mutations=mutations)
    if method == "auto":
        method = "mpbn" if importlib.util.find_spec("mpbn") else "search"
    if method == "mpbn":
        states = _mpbn_fixpoints(model, max_count + 1)
    elif method == "search":
        states = _search(compile_network(model), max_count + 1)
    elif method == "brute":
        states = _brute(compile_network(model), max_count + 1)
    else:
        raise ModelError(f"fixpoints: unknown method '{method}' (auto, mpbn, search, brute)")
    complete = len(states) <= max_count
    states = sorted(states)[:max_count]
    return FixpointResult(spec.id, spec.species_ids, tuple(states), complete, method)


# ------------------------------------------------------------------ mpbn
def _mpbn(spec: LogicalModelSpec) -> Any:
    try:
        import mpbn
    except ImportError:  # pragma: no cover - depends on the environment
        raise UnsupportedFeature(
            "stable states without mpbn (pip install 'immunetwin[logical]')", backend="mpbn"
        ) from None
    return mpbn.MPBooleanNetwork(booleanize(spec))


def _mpbn_fixpoints(spec: LogicalModelSpec, limit: int) -> list[tuple[int, ...]]:
    bn = _mpbn(spec)
    layout = [
        [bit_name(spec, s.id, k) for k in range(1, s.levels)] for s in spec.species
    ]  # the bits of each species, in state order
    out = []
    for cfg in bn.fixedpoints(limit=limit):
        out.append(tuple(sum(cfg[b] for b in bits) for bits in layout))
    return out


def trap_spaces(spec: LogicalModelSpec, *, max_count: int = 10_000) -> TrapSpaceResult:
    """Minimal trap spaces (the attractors of most-permissive dynamics), via mpbn.

    For a multi-valued model they are computed on its booleanization; a species with any free
    bit is reported free (``None``).
    """
    bn = _mpbn(spec)
    spaces = []
    for cfg in bn.attractors(limit=max_count + 1):
        levels = decode_bits(spec, cfg)
        spaces.append(tuple(levels[s] for s in spec.species_ids))
    complete = len(spaces) <= max_count
    return TrapSpaceResult(spec.id, spec.species_ids, tuple(spaces[:max_count]), complete)


# ------------------------------------------------------------------ brute force
def _brute(net: LogicalNetwork, limit: int) -> list[tuple[int, ...]]:
    sizes = net.maxes.astype(np.int64) + 1
    total = int(np.prod(sizes))
    if total > BRUTE_LIMIT:
        raise UnsupportedFeature(
            f"brute force over {total} states (limit {BRUTE_LIMIT})", backend="brute"
        )
    strides = np.ones(net.n, dtype=np.int64)
    for k in range(net.n - 2, -1, -1):
        strides[k] = strides[k + 1] * sizes[k + 1]
    out: list[tuple[int, ...]] = []
    chunk = 1 << 16
    for start in range(0, total, chunk):
        idx = np.arange(start, min(total, start + chunk), dtype=np.int64)
        states = ((idx[:, None] // strides[None, :]) % sizes[None, :]).astype(np.int8)
        fixed = np.all(net.targets(states) == states, axis=1)
        out.extend(tuple(int(v) for v in row) for row in states[fixed])
        if len(out) >= limit:
            break
    return out[:limit]


# ------------------------------------------------------------------ depth-first search
def _order(net: LogicalNetwork) -> list[int]:
    """Branch on a greedy feedback vertex set; every other species is then forced in turn."""
    regs = [
        set(net.regulators[net.reg_ptr[i] : net.reg_ptr[i + 1]].tolist()) - {i}
        for i in range(net.n)
    ]
    targets: list[set[int]] = [set() for _ in range(net.n)]
    for i, r in enumerate(regs):
        for j in r:
            targets[j].add(i)
    done: set[int] = set()
    order: list[int] = []
    while len(order) < net.n:
        ready = [i for i in range(net.n) if i not in done and regs[i] <= done]
        if ready:
            pick = ready[0]
        else:
            pick = max(
                (i for i in range(net.n) if i not in done),
                key=lambda i: (
                    len(targets[i] - done) * len(regs[i] - done),
                    len(targets[i] - done),
                ),
            )
        order.append(pick)
        done.add(pick)
    return order


def _search(net: LogicalNetwork, limit: int) -> list[tuple[int, ...]]:
    order = _order(net)
    pos = {v: p for p, v in enumerate(order)}
    regs = [net.regulators[net.reg_ptr[i] : net.reg_ptr[i + 1]].tolist() for i in range(net.n)]
    strides = [net.strides[net.reg_ptr[i] : net.reg_ptr[i + 1]].tolist() for i in range(net.n)]
    tables = [net.tables[net.tab_ptr[i] : net.tab_ptr[i + 1]].tolist() for i in range(net.n)]
    # species whose condition f_i(x) == x_i can be checked once order[:p+1] is set
    checks: list[list[int]] = [[] for _ in range(net.n)]
    for i in range(net.n):
        checks[max(pos[j] for j in [*regs[i], i])].append(i)
    forced = [all(pos[j] < pos[i] for j in regs[i]) for i in range(net.n)]
    x = [0] * net.n
    out: list[tuple[int, ...]] = []

    def f(i: int) -> int:
        return int(tables[i][sum(x[j] * s for j, s in zip(regs[i], strides[i], strict=True))])

    def dfs(p: int) -> Iterator[None]:
        if p == net.n:
            yield None
            return
        i = order[p]
        candidates = [f(i)] if forced[i] else range(int(net.maxes[i]) + 1)
        for v in candidates:
            x[i] = v
            if all(f(c) == x[c] for c in checks[p]):
                yield from dfs(p + 1)

    for _ in dfs(0):
        out.append(tuple(x))
        if len(out) >= limit:
            break
    return out
