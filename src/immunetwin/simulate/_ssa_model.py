"""What the stochastic simulator needs to know about a model: jumps, propensities, clocks.

:func:`ssa_model` flattens a :class:`ModelSpec` (the same flattening as the ODE engine) and
sorts it for exact stochastic simulation (Gillespie's direct method):

* species changed by reactions hold their *amounts* (molecule counts); each reaction firing
  changes them by its stoichiometry (times the conversion factor);
* the propensity of a reaction is its kinetic law in substance per time, with species symbols
  meaning what SBML says (amount / compartment size unless only substance units), which is the
  stochastic reading of SBML kinetic laws used by the SBML Test Suite;
* rate-rule variables are *clocks*: their rate must stay constant between reactions and events
  (it may depend on molecule counts and parameters, not on time or another rate-rule variable),
  so they grow linearly and exactly;
* a propensity may depend on time or on a clock only through conditions (a switch such as
  ``piecewise(k, time < 5, 0)``): the simulator stops exactly where such a condition flips;
* draws from distributions (SBML ``distrib``) are allowed in event assignments and initial
  values only.

What breaks exactness is refused with :class:`~immunetwin.errors.UnsupportedFeature` naming the
element: algebraic rules, ``delay()``, rate rules that are ODEs, propensities that change
continuously in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.core.relational import Relational

from ..errors import ModelError, UnsupportedFeature
from ..model import TIME, ModelSpec, distrib_draws
from ._flatten import FlatModel, flatten

__all__ = ["SSAModel", "ssa_model"]

BACKEND = "ssa"


@dataclass(frozen=True)
class SSAModel:
    """A flattened model sorted for the stochastic simulator.

    Attributes
    ----------
    flat
        The flattened model (states, slots, outputs, events in ``x``/``p``/``time`` symbols).
    reactions
        Reaction ids, in propensity order.
    propensities
        The propensity of each reaction.
    deltas
        For each reaction, ``(state index, change)`` pairs (changes may be expressions).
    clocks
        Indices of the states driven by rate rules, and their (piecewise constant) rates.
    conditions
        The relational atoms that may flip between reactions (they depend on time or a clock).
    events
        Indices into ``flat.events`` of the model's own events (the ODE engine's silent switch
        events are dropped: conditions do their job here).
    reactant_order
        For each state, the highest order of a reaction it is a reactant of, and its highest
        stoichiometry as a reactant in such a reaction (for tau-leaping's step selection).
    """

    flat: FlatModel
    reactions: tuple[str, ...]
    propensities: tuple[sp.Basic, ...]
    deltas: tuple[tuple[tuple[int, sp.Basic], ...], ...]
    clocks: tuple[tuple[int, sp.Basic], ...]
    conditions: tuple[sp.Basic, ...]
    events: tuple[int, ...]
    reactant_order: tuple[tuple[int, int], ...]

    @property
    def constant_stoichiometry(self) -> bool:
        """Whether every state change is a number (needed by tau-leaping)."""
        return all(d.is_number for rd in self.deltas for _, d in rd)


def _smooth_symbols(expr: sp.Basic) -> set[sp.Basic]:
    """Free symbols of ``expr`` outside relational atoms (what it depends on continuously)."""
    if isinstance(expr, Relational):
        return set()
    if isinstance(expr, sp.Symbol):
        return {expr}
    out: set[sp.Basic] = set()
    for a in expr.args:
        out |= _smooth_symbols(a)
    return out


def _check_draws(
    flat: FlatModel,
    props: list[sp.Basic],
    reactions: tuple[str, ...],
    clocks: list[tuple[int, sp.Basic]],
) -> None:
    """Draws are allowed in event assignments and initial values only."""
    places: list[tuple[str, str, sp.Basic]] = [
        ("a kinetic law", rid, e) for rid, e in zip(reactions, props, strict=True)
    ]
    places += [("a rate rule", flat.states[i], f) for i, f in clocks]
    places += [
        ("an output or rule", n, e) for n, e in zip(flat.outputs, flat.output_exprs, strict=True)
    ]
    for ev in flat.events:
        places.append(("an event trigger", ev.id, ev.trigger))
        for what, e in (("an event delay", ev.delay), ("an event priority", ev.priority)):
            if e is not None:
                places.append((what, ev.id, e))
    for what, element, e in places:
        if distrib_draws(e):
            raise UnsupportedFeature(
                f"a random draw (distrib) in {what}; draws are allowed in event assignments "
                "and initial values",
                element,
                backend=BACKEND,
            )


def _check_initial_draws(spec: ModelSpec, states: tuple[str, ...]) -> None:
    """A draw in an initial value must be drawn once: its target must be a state (held), and
    no other initial value may use it (the flattened initial values would draw it again)."""
    drawn = {ia.variable for ia in spec.initial_assignments if distrib_draws(ia.expr)}
    for ia in spec.initial_assignments:
        names = {s.name for s in ia.expr.free_symbols if isinstance(s, sp.Symbol)}
        used = sorted(names & drawn)
        if used:
            raise UnsupportedFeature(
                f"an initial value that uses the random initial value of '{used[0]}'",
                ia.variable,
                backend=BACKEND,
            )
    for v in sorted(drawn - set(states)):
        raise UnsupportedFeature(
            "a random draw in the initial value of a constant (it would be drawn again "
            "wherever it is used)",
            v,
            backend=BACKEND,
        )


def _deltas(
    spec: ModelSpec, flat: FlatModel
) -> tuple[tuple[tuple[tuple[int, sp.Basic], ...], ...], tuple[tuple[int, int], ...]]:
    """State changes of each reaction, and each state's highest reactant order."""
    index = {s: i for i, s in enumerate(flat.states)}
    slot = dict(zip(flat.slots, flat.p, strict=True))
    species = {s.id: s for s in spec.species}

    def value(name: str, rid: str) -> sp.Basic:
        if name in flat.value_of:
            return flat.value_of[name]
        if name in slot:
            return slot[name]
        raise UnsupportedFeature(f"stoichiometry that refers to '{name}'", rid, backend=BACKEND)

    def number(expr: sp.Basic, rid: str) -> sp.Basic:
        names = {s.name for s in expr.free_symbols if isinstance(s, sp.Symbol)} - {"time"}
        return expr.xreplace({sp.Symbol(n, real=True): value(n, rid) for n in names})

    out = []
    order = [(0, 0)] * len(flat.states)
    for r in spec.reactions:
        change: dict[int, sp.Basic] = {}
        for sign, refs in ((-1, r.reactants), (1, r.products)):
            for ref in refs:
                s = species[ref.species]
                if s.boundary or s.constant or ref.species not in index:
                    continue
                st = ref.stoichiometry
                if ref.id:
                    coef = value(ref.id, r.id)
                elif isinstance(st, sp.Basic):
                    coef = number(st, r.id)
                else:
                    coef = sp.Integer(int(st)) if st == int(st) else sp.Float(st)
                cf = s.conversion_factor or spec.conversion_factor
                d = sign * coef * (value(cf, r.id) if cf else 1)
                i = index[ref.species]
                change[i] = change.get(i, sp.Integer(0)) + d
        out.append(tuple((i, d) for i, d in sorted(change.items()) if d != 0))
        numeric = [ref for ref in r.reactants if not isinstance(ref.stoichiometry, sp.Basic)]
        total = int(round(sum(float(ref.stoichiometry) for ref in numeric)))
        for ref in numeric:
            if ref.species in index:
                k = index[ref.species]
                order[k] = max(order[k], (total, int(round(float(ref.stoichiometry)))))
    return tuple(out), tuple(order)


def ssa_model(spec: ModelSpec, *, outputs: tuple[str, ...] = ()) -> SSAModel:
    """Flatten ``spec`` for the stochastic simulator (see the module docstring)."""
    if spec.algebraic_rules:
        raise UnsupportedFeature("AlgebraicRule", f"{spec.id}: algebraic_rule[0]", backend=BACKEND)
    reactions = tuple(r.id for r in spec.reactions)
    try:
        flat = flatten(spec, extra_outputs=(*outputs, *reactions))
    except UnsupportedFeature as exc:
        raise UnsupportedFeature(exc.construct, exc.element, backend=BACKEND) from exc
    props = [flat.output_exprs[flat.outputs.index(rid)] for rid in reactions]
    _check_initial_draws(spec, flat.states)
    # the reported outputs: those asked for (and species, observables), not the rate helpers
    keep = len(flat.outputs) - len([r for r in reactions if r not in outputs])
    rated = {r.variable for r in spec.rate_rules} | ({"__clock"} & set(flat.states))
    clock_idx = [i for i, s in enumerate(flat.states) if s in rated]
    clock_syms = {flat.x[i] for i in clock_idx} | {TIME}
    clocks = []
    for i in clock_idx:
        rate = flat.rhs[i]
        if _smooth_symbols(rate) & clock_syms:
            raise UnsupportedFeature(
                "a rate rule whose rate changes between reactions (an ODE; exact stochastic "
                "simulation needs piecewise-constant rates)",
                flat.states[i],
                backend=BACKEND,
            )
        if rate != 0:
            clocks.append((i, rate))
    for rid, a in zip(reactions, props, strict=True):
        if _smooth_symbols(a) & clock_syms:
            raise UnsupportedFeature(
                "a propensity that changes continuously in time (the kinetic law depends on "
                "time or a rate-rule variable outside a condition)",
                rid,
                backend=BACKEND,
            )
    _check_draws(flat, props, reactions, clocks)
    deltas, order = _deltas(spec, flat)
    events = tuple(k for k, e in enumerate(flat.events) if not e.id.startswith("__switch"))
    conds: list[sp.Basic] = []
    sources = [*props, *(r for _, r in clocks)] + [flat.events[k].trigger for k in events]
    for expr in sources:
        for rel in expr.atoms(Relational):
            if rel.free_symbols & clock_syms and rel not in conds:
                conds.append(rel)
    if len(flat.outputs) != keep:
        flat = _drop_outputs(flat, keep)
    if any(d.has(TIME) for rd in deltas for _, d in rd):
        raise ModelError(f"model '{spec.id}': a stoichiometry depends on time")
    return SSAModel(
        flat=flat,
        reactions=reactions,
        propensities=tuple(props),
        deltas=deltas,
        clocks=tuple(clocks),
        conditions=tuple(conds),
        events=events,
        reactant_order=order,
    )


def _drop_outputs(flat: FlatModel, keep: int) -> FlatModel:
    """``flat`` without its last outputs (the reaction rates added for the propensities)."""
    import dataclasses

    return dataclasses.replace(
        flat,
        outputs=flat.outputs[:keep],
        output_kinds=flat.output_kinds[:keep],
        output_exprs=flat.output_exprs[:keep],
    )
