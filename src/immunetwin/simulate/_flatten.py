"""Flatten a :class:`ModelSpec` into a plain ODE system ``dx/dt = f(t, x, p)`` with events.

Every id of the model gets a *value expression* in the symbols ``x_i`` (states), ``p_j``
(constant slots) and ``time``:

* constant parameters and compartments, and the declared initial values of species, are slots
  of ``p`` (named by their ids);
* species changed by reactions are states holding their *amount*; their value in math is
  ``amount / size`` unless they have only substance units;
* rate-rule variables and variables changed by events are states holding their value;
* assignment-rule variables are substituted by their (recursively flattened) expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import ModelError, UnsupportedFeature
from ..model import DELAY, TIME, Event, ModelSpec
from ._flatten_rules import Expander, collect_rules, lay_out
from ._flatten_values import Resolver

__all__ = ["FlatEvent", "FlatModel", "flatten"]


@dataclass(frozen=True)
class FlatEvent:
    """An event in state/slot symbols."""

    id: str
    trigger: sp.Basic
    targets: tuple[int, ...]
    values: tuple[sp.Basic, ...]
    delay: sp.Basic | None
    priority: sp.Basic | None
    persistent: bool
    initial_value: bool
    from_trigger_time: bool
    time_only: bool


@dataclass(frozen=True)
class FlatModel:
    """A flattened model: symbols, right-hand side, initial state, outputs, events."""

    model_id: str
    states: tuple[str, ...]
    state_kinds: tuple[str, ...]
    """``"amount"`` (species amount) or ``"value"`` for each state."""
    slots: tuple[str, ...]
    slot_values: tuple[float, ...]
    slot_kinds: tuple[str, ...]
    x: tuple[sp.Symbol, ...]
    p: tuple[sp.Symbol, ...]
    rhs: tuple[sp.Basic, ...]
    init: tuple[sp.Basic, ...]
    outputs: tuple[str, ...]
    output_kinds: tuple[str, ...]
    output_exprs: tuple[sp.Basic, ...]
    events: tuple[FlatEvent, ...]
    value_of: dict[str, sp.Basic] = field(repr=False)
    """The value expression of every id (in x, p and time)."""
    state_scale: tuple[sp.Basic, ...] = ()
    """For each state, the factor from reported value to state value (compartment size for amounts)."""


def _sym(prefix: str, i: int) -> sp.Symbol:
    return sp.Symbol(f"{prefix}{i}", real=True)


def flatten(spec: ModelSpec, *, extra_outputs: tuple[str, ...] = ()) -> FlatModel:
    """Flatten ``spec``; raise :class:`UnsupportedFeature` for what the engine cannot simulate."""
    for where, expr in spec.expressions():
        if expr.has(DELAY):
            raise UnsupportedFeature("the delay() function", where)
    expand = Expander(spec)
    rules = collect_rules(spec, expand)
    layout = lay_out(spec, rules)
    states, kinds = layout.states, layout.kinds
    xs = tuple(_sym("x", i) for i in range(len(states)))
    ps = tuple(_sym("p", j) for j in range(len(layout.slots)))
    r = Resolver(spec, expand, rules, layout, xs, ps)
    for k in list(rules.assigned):
        rules.assigned[k] = r.pre_rate(rules.assigned[k])
    for k in list(rules.rated):
        rules.rated[k] = r.pre_rate(rules.rated[k])
    rhs = [r.demark(r.rhs_of(vid)) for vid in states]

    # --- initial state
    init = []
    scale = []
    for i, vid in enumerate(states):
        if kinds[i] == "amount" and not r.species[vid].has_only_substance_units:
            comp = r.species[vid].compartment
            init.append(r.init_value(vid) * r.init_value(comp))
            scale.append(r.value(comp))
        else:
            init.append(r.init_value(vid))
            scale.append(sp.Integer(1))

    outputs, out_kinds, out_exprs = _outputs(spec, r, extra_outputs)
    fevents = [_event(spec, r, e, states) for e in spec.events]
    fevents.extend(_discontinuities(rhs, set(ps)))
    return FlatModel(
        model_id=spec.id,
        states=tuple(states),
        state_kinds=tuple(kinds),
        slots=tuple(layout.slots),
        slot_values=tuple(layout.slot_values),
        slot_kinds=tuple(layout.slot_kinds),
        x=xs,
        p=ps,
        rhs=tuple(rhs),
        init=tuple(init),
        outputs=tuple(outputs),
        output_kinds=tuple(out_kinds),
        output_exprs=tuple(out_exprs),
        events=tuple(fevents),
        value_of=r.value_of,
        state_scale=tuple(scale),
    )


def _outputs(
    spec: ModelSpec, r: Resolver, extra_outputs: tuple[str, ...]
) -> tuple[list[str], list[str], list[sp.Basic]]:
    """Species, observables, then the extra outputs asked for: names, kinds and expressions."""
    species = r.species
    outputs: list[str] = []
    out_kinds: list[str] = []
    out_exprs: list[sp.Basic] = []
    for s in spec.species:
        outputs.append(s.id)
        out_kinds.append("species")
        out_exprs.append(r.demark(r.value(s.id)))
    for o in spec.observables:
        outputs.append(o.id)
        out_kinds.append("observable")
        out_exprs.append(r.finish(o.expr))
    ids = spec.ids()
    for name in extra_outputs:
        if name in outputs:
            continue
        if name.startswith("amount(") and name.endswith(")"):
            sid = name[7:-1]
            if sid not in species:
                raise ModelError(f"model '{spec.id}': no species '{sid}' for output '{name}'")
            v = r.value(sid)
            expr = (
                v
                if species[sid].has_only_substance_units
                else v * r.value(species[sid].compartment)
            )
            outputs.append(name)
            out_kinds.append("amount")
            out_exprs.append(r.demark(expr))
            continue
        if name not in ids or ids[name] in ("reaction", "function", "event"):
            if name in ids and ids[name] == "reaction":
                rx = next(rx for rx in spec.reactions if rx.id == name)
                outputs.append(name)
                out_kinds.append("reaction")
                out_exprs.append(r.finish(rx.rate))
                continue
            raise ModelError(
                f"model '{spec.id}': cannot report '{name}' (not a species, parameter or compartment)"
            )
        outputs.append(name)
        out_kinds.append("rule" if name in r.assigned else ids[name])
        out_exprs.append(r.demark(r.value(name)))
    return outputs, out_kinds, out_exprs


def _event(spec: ModelSpec, r: Resolver, e: Event, states: list[str]) -> FlatEvent:
    """One event in state/slot symbols (concentrations assigned to amount states converted)."""
    species, kinds, xs = r.species, r.kinds, r.xs
    comps = {c.id for c in spec.compartments}
    trig = r.finish(e.trigger)
    targets: list[int] = []
    vals: list[sp.Basic] = []
    for ea in e.assignments:
        if ea.variable in r.assigned:
            raise ModelError(
                f"model '{spec.id}': event '{e.id}' assigns '{ea.variable}', which has an assignment rule"
            )
        i = r.state_index[ea.variable]
        v = r.finish(ea.expr)
        if kinds[i] == "amount" and not species[ea.variable].has_only_substance_units:
            # concentration -> amount
            # (in the compartment's size before the event, even if the event changes it)
            v = v * r.value(species[ea.variable].compartment)
        targets.append(i)
        vals.append(v)
    # a compartment resized by the event keeps the amounts of its species: a species whose
    # state is its concentration (rate rule) is rescaled by old size / new size
    new_size = {ea.variable: r.finish(ea.expr) for ea in e.assignments if ea.variable in comps}
    for a, (j, v) in enumerate(zip(targets, vals, strict=True)):
        sp_ = species.get(states[j])
        if (
            sp_ is not None
            and kinds[j] == "value"
            and not sp_.has_only_substance_units
            and sp_.compartment in new_size
        ):
            # the assigned concentration fixes the amount in the old size
            vals[a] = v * r.value(sp_.compartment) / new_size[sp_.compartment]
    for j, sid in enumerate(states):
        sp_ = species.get(sid)
        if (
            sp_ is not None
            and kinds[j] == "value"
            and not sp_.has_only_substance_units
            and sp_.compartment in new_size
            and j not in targets
        ):
            targets.append(j)
            vals.append(xs[j] * r.value(sp_.compartment) / new_size[sp_.compartment])
    delay = None if e.delay is None else r.finish(e.delay)
    prio = None if e.priority is None else r.finish(e.priority)
    state_syms = set(xs)
    time_only = not (trig.free_symbols & state_syms) and (
        delay is None or not (delay.free_symbols & state_syms)
    )
    return FlatEvent(
        id=e.id,
        trigger=trig,
        targets=tuple(targets),
        values=tuple(vals),
        delay=delay,
        priority=prio,
        persistent=e.persistent,
        initial_value=e.initial_value,
        from_trigger_time=e.use_values_from_trigger_time,
        time_only=bool(time_only),
    )


def _discontinuities(rhs: list[sp.Basic], constants: set[sp.Symbol]) -> list[FlatEvent]:
    """Stop-and-restart points for switches in time inside the right-hand side.

    A ``piecewise`` whose condition depends on time and constants only (a therapy start day, a
    dosing window) makes the right-hand side jump. Each such condition becomes a pair of silent
    events (no assignments) so the solver stops exactly at the switch and restarts there,
    instead of stepping across it with a large local error.
    """
    allowed = constants | {TIME}
    conds: list[sp.Basic] = []
    for f in rhs:
        for rel in f.atoms(sp.core.relational.Relational):
            if TIME in rel.free_symbols and rel.free_symbols <= allowed and rel not in conds:
                conds.append(rel)
    out = []
    for i, rel in enumerate(conds):
        for tag, trig in (("on", rel), ("off", sp.Not(rel))):
            out.append(
                FlatEvent(
                    id=f"__switch{i}_{tag}",
                    trigger=trig,
                    targets=(),
                    values=(),
                    delay=None,
                    priority=None,
                    persistent=True,
                    initial_value=True,
                    from_trigger_time=True,
                    time_only=True,
                )
            )
    return out
