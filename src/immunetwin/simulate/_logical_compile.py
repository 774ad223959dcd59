"""Compile a :class:`LogicalModelSpec` into truth tables and into a Boolean (van Ham) encoding.

* :class:`LogicalNetwork`: per species, its regulators and a flat truth table of target levels,
  so the targets of many states are computed at once with NumPy (and in numba kernels).
* :func:`booleanize`: the multi-valued network as Boolean formulas over bits ``X_k`` meaning
  ``level(X) >= k`` (van Ham's mapping, as bioLQM's booleanization). The fixpoints of the
  Boolean network are exactly the images of the multi-valued fixpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError, UnsupportedFeature
from ..model import (
    LogicalModelSpec,
    QCmp,
    QConst,
    QExpr,
    QRef,
    Transition,
    condition_refs,
    evaluate_condition,
)

__all__ = ["LogicalNetwork", "bit_name", "booleanize", "compile_network", "decode_bits"]

MAX_TABLE = 1 << 22
"""Largest truth table (entries) of one species."""

I8 = NDArray[np.int8]


@dataclass(frozen=True, eq=False)
class LogicalNetwork:
    """Truth tables of a logical model (immutable arrays).

    Attributes
    ----------
    spec
        The model.
    maxes
        Maximum level per species.
    regulators
        Concatenated regulator indices; species ``i`` uses ``regulators[reg_ptr[i]:reg_ptr[i+1]]``.
    strides
        Mixed-radix stride of each regulator in the species' table.
    tables
        Concatenated tables; species ``i`` uses ``tables[tab_ptr[i]:tab_ptr[i+1]]``.
    """

    spec: LogicalModelSpec
    maxes: I8
    reg_ptr: NDArray[np.int64]
    regulators: NDArray[np.int64]
    strides: NDArray[np.int64]
    tab_ptr: NDArray[np.int64]
    tables: I8

    @property
    def n(self) -> int:
        """Number of species."""
        return int(self.maxes.size)

    def targets(self, states: NDArray[np.integer]) -> I8:
        """Target level of every species for each row of ``states`` (shape ``(m, n)``)."""
        x = np.asarray(states, dtype=np.int64)
        out = np.empty(x.shape, dtype=np.int8)
        for i in range(self.n):
            regs = self.regulators[self.reg_ptr[i] : self.reg_ptr[i + 1]]
            idx = x[:, regs] @ self.strides[self.reg_ptr[i] : self.reg_ptr[i + 1]]
            out[:, i] = self.tables[self.tab_ptr[i] + idx]
        return out

    def state(self, levels: Mapping[str, int], *, default: int = 0) -> I8:
        """A state vector from ``{species: level}`` (others at ``default`` or their initial level)."""
        x = np.array(
            [
                s.initial_level if s.initial_level is not None else default
                for s in self.spec.species
            ],
            dtype=np.int8,
        )
        for sid, lvl in levels.items():
            i = self.spec.index(sid)
            if not 0 <= int(lvl) <= int(self.maxes[i]):
                raise ModelError(f"state: level {lvl} of '{sid}' outside 0..{self.maxes[i]}")
            x[i] = int(lvl)
        return x

    def as_dict(self, state: NDArray[np.integer]) -> dict[str, int]:
        """``{species: level}`` of a state vector."""
        return {sid: int(v) for sid, v in zip(self.spec.species_ids, state, strict=True)}


def _names(t: Transition, species: tuple[str, ...] = ()) -> dict[str, int | str]:
    """Map each name a condition may use to a species id or a threshold constant.

    Besides the transition's inputs (and their ids), any species of the model may be named.
    """
    out: dict[str, int | str] = {sid: sid for sid in species}
    for i in t.inputs:
        out[i.species] = i.species
    for i in t.inputs:
        if i.id:
            out[i.id] = i.threshold if i.threshold is not None else i.species
    return out


def _eval_np(
    expr: QExpr, cols: Mapping[str, NDArray[np.int64]], names: Mapping[str, int | str]
) -> NDArray[np.int64]:
    if isinstance(expr, QConst):
        return np.asarray(expr.value, dtype=np.int64)
    if isinstance(expr, QRef):
        what = names[expr.name]
        return np.asarray(what, dtype=np.int64) if isinstance(what, int) else cols[what]
    if isinstance(expr, QCmp):
        a, b = _eval_np(expr.left, cols, names), _eval_np(expr.right, cols, names)
        ops = {
            "eq": np.equal,
            "neq": np.not_equal,
            "lt": np.less,
            "leq": np.less_equal,
            "gt": np.greater,
            "geq": np.greater_equal,
        }
        return ops[expr.op](a, b).astype(np.int64)
    vals = [_eval_np(a, cols, names) != 0 for a in expr.args]
    out: NDArray[np.int64]
    if expr.op == "and":
        out = np.logical_and.reduce(vals).astype(np.int64)
    elif expr.op == "or":
        out = np.logical_or.reduce(vals).astype(np.int64)
    elif expr.op == "xor":
        out = (np.sum(vals, axis=0) % 2).astype(np.int64)
    else:
        out = (~vals[0]).astype(np.int64)
    return out


def _table(spec: LogicalModelSpec, t: Transition) -> tuple[list[int], NDArray[np.int64], I8]:
    names = _names(t, spec.species_ids)
    used = [names[r] for ft in t.terms for r in condition_refs(ft.condition)]
    regs = list(
        dict.fromkeys(
            [spec.index(i.species) for i in t.inputs]
            + [spec.index(u) for u in used if isinstance(u, str)]
        )
    )
    sizes = [spec.species[r].levels for r in regs]
    total = int(np.prod(sizes, dtype=np.int64)) if regs else 1
    if total > MAX_TABLE:
        raise UnsupportedFeature(
            f"a truth table of {total} entries (over {MAX_TABLE})", t.id, backend="logical"
        )
    strides = np.ones(len(regs), dtype=np.int64)
    for k in range(len(regs) - 2, -1, -1):
        strides[k] = strides[k + 1] * sizes[k + 1]
    idx = np.arange(total, dtype=np.int64)
    cols = {spec.species[r].id: (idx // strides[k]) % sizes[k] for k, r in enumerate(regs)}
    table = np.full(total, t.default, dtype=np.int8)
    decided = np.zeros(total, dtype=bool)
    for ft in t.terms:
        hit = (_eval_np(ft.condition, cols, names) != 0) & ~decided
        table[np.broadcast_to(hit, (total,))] = ft.result
        decided |= np.broadcast_to(hit, (total,))
    return regs, strides, table


def compile_network(spec: LogicalModelSpec) -> LogicalNetwork:
    """Truth tables of ``spec``; an input species keeps its level (identity table).

    Function terms are tried in order; the first one whose condition holds gives the level
    (SBML-qual requires them to be exclusive; GINsim and bioLQM exports are).
    """
    reg_ptr = [0]
    tab_ptr = [0]
    regulators: list[int] = []
    strides: list[NDArray[np.int64]] = []
    tables: list[I8] = []
    by_out = {t.output: t for t in spec.transitions}
    for i, s in enumerate(spec.species):
        t = by_out.get(s.id)
        if t is None:
            regs, st, tab = [i], np.ones(1, dtype=np.int64), np.arange(s.levels, dtype=np.int8)
        else:
            regs, st, tab = _table(spec, t)
        regulators.extend(regs)
        strides.append(st)
        tables.append(tab)
        reg_ptr.append(len(regulators))
        tab_ptr.append(tab_ptr[-1] + tab.size)
    net = LogicalNetwork(
        spec=spec,
        maxes=np.array(spec.max_levels, dtype=np.int8),
        reg_ptr=np.array(reg_ptr, dtype=np.int64),
        regulators=np.array(regulators, dtype=np.int64),
        strides=np.concatenate(strides) if strides else np.zeros(0, np.int64),
        tab_ptr=np.array(tab_ptr, dtype=np.int64),
        tables=np.concatenate(tables) if tables else np.zeros(0, np.int8),
    )
    for a in (net.maxes, net.reg_ptr, net.regulators, net.strides, net.tab_ptr, net.tables):
        a.setflags(write=False)
    return net


# ------------------------------------------------------------------ booleanization
def bit_name(spec: LogicalModelSpec, species: str, k: int) -> str:
    """Name of the Boolean variable ``level(species) >= k`` (the species id when Boolean)."""
    return species if spec.species[spec.index(species)].levels == 2 else f"{species}_b{k}"


def _geq(spec: LogicalModelSpec, sid: str, c: int) -> str:
    top = spec.species[spec.index(sid)].levels - 1
    if c <= 0:
        return "1"
    if c > top:
        return "0"
    return bit_name(spec, sid, c)


def _bool(expr: QExpr, spec: LogicalModelSpec, names: Mapping[str, int | str]) -> str:
    if isinstance(expr, QConst):
        return "1" if expr.value else "0"
    if isinstance(expr, QRef):
        what = names[expr.name]
        return ("1" if what else "0") if isinstance(what, int) else _geq(spec, what, 1)
    if isinstance(expr, QCmp):
        return _cmp(expr, spec, names)
    parts = [_bool(a, spec, names) for a in expr.args]
    if expr.op == "not":
        return f"!({parts[0]})"
    if expr.op == "xor":
        a, b = parts[0], parts[1] if len(parts) == 2 else None
        if b is None:
            raise UnsupportedFeature("xor with more than two operands", backend="logical")
        return f"(({a}) & !({b}) | !({a}) & ({b}))"
    return "(" + (" & " if expr.op == "and" else " | ").join(f"({p})" for p in parts) + ")"


def _cmp(expr: QCmp, spec: LogicalModelSpec, names: Mapping[str, int | str]) -> str:
    left, right, op = expr.left, expr.right, expr.op
    flip = {"lt": "gt", "gt": "lt", "leq": "geq", "geq": "leq", "eq": "eq", "neq": "neq"}
    side = [names[x.name] if isinstance(x, QRef) else x.value for x in (left, right)]
    if isinstance(side[0], int) and isinstance(side[1], str):
        side = [side[1], side[0]]
        op = flip[op]
    sid, c = side
    if isinstance(sid, int) or not isinstance(c, int):
        if isinstance(sid, int) and isinstance(c, int):
            return "1" if evaluate_condition(QCmp(op, QConst(sid), QConst(c)), {}) else "0"
        raise UnsupportedFeature("a comparison of two species levels", backend="logical")
    ge = {
        "geq": _geq(spec, sid, c),
        "gt": _geq(spec, sid, c + 1),
        "leq": f"!({_geq(spec, sid, c + 1)})",
        "lt": f"!({_geq(spec, sid, c)})",
    }
    if op in ge:
        return ge[op]
    eq = f"(({_geq(spec, sid, c)}) & !({_geq(spec, sid, c + 1)}))"
    return eq if op == "eq" else f"!{eq}"


def booleanize(spec: LogicalModelSpec) -> dict[str, str]:
    """Boolean formulas (mpbn/minibn syntax) of the van Ham encoding of ``spec``.

    Species with maximum level ``m > 1`` become bits ``<id>_b1 .. <id>_bm``; the bit ``k`` is on
    when the target level is ``>= k``. Inputs keep their level (``X_bk = X_bk | X_b(k+1) ...``,
    which also rules out non-admissible fixpoints).
    """
    by_out = {t.output: t for t in spec.transitions}
    out: dict[str, str] = {}
    for s in spec.species:
        top = s.levels - 1
        t = by_out.get(s.id)
        for k in range(1, top + 1):
            name = bit_name(spec, s.id, k)
            if t is None:
                out[name] = " | ".join(bit_name(spec, s.id, j) for j in range(k, top + 1))
                continue
            names = _names(t, spec.species_ids)
            conds = [_bool(ft.condition, spec, names) for ft in t.terms]
            clauses = []
            for i, ft in enumerate(t.terms):
                if ft.result >= k:
                    # an earlier term that also gives >= k only adds to the disjunction
                    lower = [c for c, e in zip(conds[:i], t.terms[:i], strict=True) if e.result < k]
                    earlier = "".join(f" & !({c})" for c in lower)
                    clauses.append(f"({conds[i]}){earlier}")
            if t.default >= k:
                clauses.append(" & ".join(f"!({c})" for c in conds) or "1")
            out[name] = " | ".join(f"({c})" for c in clauses) if clauses else "0"
    return out


def decode_bits(spec: LogicalModelSpec, bits: Mapping[str, int | str]) -> dict[str, int | None]:
    """Multi-valued levels from a (possibly partial, ``'*'``) Boolean configuration.

    A species whose bits are all fixed gets its level (the number of bits on); one with a free
    bit gets ``None`` (free in a trap space).
    """
    out: dict[str, int | None] = {}
    for s in spec.species:
        vals = [bits[bit_name(spec, s.id, k)] for k in range(1, s.levels)]
        out[s.id] = None if any(v not in (0, 1) for v in vals) else int(sum(int(v) for v in vals))
    return out
