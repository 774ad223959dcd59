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
from ..model import AVOGADRO_VALUE, DELAY, RATE_OF, TIME, ModelSpec

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


def flatten(spec: ModelSpec, *, extra_outputs: tuple[str, ...] = ()) -> FlatModel:  # noqa: C901
    """Flatten ``spec``; raise :class:`UnsupportedFeature` for what the engine cannot simulate."""
    for where, expr in spec.expressions():
        if expr.has(DELAY):
            raise UnsupportedFeature("the delay() function", where)
    funcs = {
        f.id: sp.Lambda(tuple(sp.Symbol(a, real=True) for a in f.args), f.body)
        for f in spec.functions
    }

    def expand(expr: sp.Basic, depth: int = 0) -> sp.Basic:
        """Inline user function calls, innermost first (so a boolean call can be a condition)."""
        if depth > 50:
            raise ModelError(
                f"model '{spec.id}': function definitions nest too deeply (recursion?)"
            )
        if isinstance(expr, sp.Function) and expr.func.__name__ in funcs:
            args = [expand(a, depth) for a in expr.args]
            return expand(funcs[expr.func.__name__](*args), depth + 1)
        if not expr.args or not any(c.func.__name__ in funcs for c in expr.atoms(sp.Function)):
            return expr
        return expr.func(*[expand(a, depth) for a in expr.args])

    assigned = {a.variable: expand(a.expr) for a in spec.assignment_rules}
    rated = {r.variable: expand(r.expr) for r in spec.rate_rules}
    initial_assign = {a.variable: expand(a.expr) for a in spec.initial_assignments}
    event_targets = {ea.variable for e in spec.events for ea in e.assignments}
    if spec.algebraic_rules:
        assigned.update(
            _solve_algebraic(
                spec, [expand(a.expr) for a in spec.algebraic_rules], assigned, rated, event_targets
            )
        )
    species = {s.id: s for s in spec.species}
    comps = {c.id: c for c in spec.compartments}
    params = {p.id: p for p in spec.parameters}
    reactions = {r.id: r for r in spec.reactions}

    # stoichiometry sources: species references with ids behave as variables
    sref_value: dict[str, float] = {}
    for r in spec.reactions:
        for ref in (*r.reactants, *r.products):
            if ref.id:
                st = ref.stoichiometry
                sref_value[ref.id] = float(st) if not isinstance(st, sp.Basic) else float("nan")
                if isinstance(st, sp.Basic) and ref.id not in assigned and ref.id not in rated:
                    # stoichiometryMath holds at all times (an assignment, not an initial value)
                    assigned[ref.id] = expand(st)

    reaction_species: set[str] = set()
    for r in spec.reactions:
        for ref in (*r.reactants, *r.products):
            s = species[ref.species]
            if not s.boundary and not s.constant:
                if ref.species in assigned or ref.species in rated:
                    raise ModelError(
                        f"model '{spec.id}': species '{ref.species}' is changed both by reaction "
                        f"'{r.id}' and by a rule"
                    )
                reaction_species.add(ref.species)

    # --- classify every assignable id
    states: list[str] = []
    kinds: list[str] = []
    slots: list[str] = []
    slot_values: list[float] = []
    slot_kinds: list[str] = []

    def add_slot(name: str, value: float, kind: str) -> None:
        slots.append(name)
        slot_values.append(value)
        slot_kinds.append(kind)

    all_vars: list[tuple[str, str]] = (
        [(c.id, "compartment") for c in spec.compartments]
        + [(p.id, "parameter") for p in spec.parameters]
        + [(s.id, "species") for s in spec.species]
        + [(k, "species_reference") for k in sref_value]
    )
    for vid, kind in all_vars:
        if vid in assigned:
            continue
        if kind == "species":
            s = species[vid]
            add_slot(
                vid, float("nan") if s.initial is None else float(s.initial), "species_initial"
            )
            if vid in reaction_species or vid in rated or vid in event_targets:
                states.append(vid)
                # species keep their amount as state unless a rate rule drives their value
                kinds.append("value" if vid in rated else "amount")
            continue
        if kind == "compartment":
            number = comps[vid].size
        elif kind == "parameter":
            number = params[vid].value
        else:
            number = sref_value[vid]
        add_slot(vid, float(number), kind)
        if vid in rated or vid in event_targets:
            states.append(vid)
            kinds.append("value")

    if not states:
        # a model with no differential state (rules only): integrate a silent clock state
        states.append("__clock")
        kinds.append("value")
        rated["__clock"] = sp.Integer(0)
        add_slot("__clock", 0.0, "internal")
    xs = tuple(_sym("x", i) for i in range(len(states)))
    ps = tuple(_sym("p", j) for j in range(len(slots)))
    state_index = {s: i for i, s in enumerate(states)}
    slot_index = {s: j for j, s in enumerate(slots)}

    # --- value expressions (for math at time t)
    value_of: dict[str, sp.Basic] = {}
    resolving: set[str] = set()

    def size_of(cid: str) -> sp.Basic:
        return value(cid)

    def value(vid: str) -> sp.Basic:
        if vid in value_of:
            return value_of[vid]
        if vid in resolving:
            raise ModelError(f"model '{spec.id}': assignment rules form a cycle through '{vid}'")
        resolving.add(vid)
        try:
            if vid in assigned:
                out = resolve(assigned[vid])
            elif vid in state_index:
                xi = xs[state_index[vid]]
                if (
                    kinds[state_index[vid]] == "amount"
                    and not species[vid].has_only_substance_units
                ):
                    out = xi / size_of(species[vid].compartment)
                else:
                    out = xi
            elif vid in species:
                s = species[vid]
                # a species nothing changes keeps its amount (its concentration follows its
                # compartment's size when that varies)
                comp = s.compartment
                if s.has_only_substance_units or (comp not in state_index and comp not in assigned):
                    out = init_value(vid)
                else:
                    out = init_value(vid) * init_value(comp) / value(comp)
            elif vid in reactions:
                out = resolve(reactions[vid].rate)  # a reaction id in math is its rate
            elif vid in initial_assign:
                # a constant set by an initial assignment keeps its initial value
                out = init_value(vid)
            elif vid in slot_index:
                out = ps[slot_index[vid]]
            else:
                raise ModelError(f"model '{spec.id}': unknown id '{vid}'")
        finally:
            resolving.discard(vid)
        value_of[vid] = out
        return out

    def resolve(expr: sp.Basic) -> sp.Basic:
        expr = pre_rate(expand(expr))
        subs = {
            s: value(s.name)
            for s in expr.free_symbols
            if isinstance(s, sp.Symbol) and s.name not in ("time", "avogadro")
        }
        out = expr.xreplace(subs) if subs else expr
        return out.xreplace({sp.Symbol("avogadro", real=True): sp.Float(AVOGADRO_VALUE)})

    # --- initial values (at t0): every id's value at the start, from slots only
    init_of: dict[str, sp.Basic] = {}
    init_resolving: set[str] = set()

    def init_value(vid: str) -> sp.Basic:
        if vid in init_of:
            return init_of[vid]
        if vid in init_resolving:
            raise ModelError(f"model '{spec.id}': initial assignments form a cycle through '{vid}'")
        init_resolving.add(vid)
        try:
            if vid in initial_assign:
                out = init_resolve(initial_assign[vid])
            elif vid in assigned:
                out = init_resolve(assigned[vid])
            elif vid in species:
                s = species[vid]
                declared = ps[slot_index[vid]]
                if s.initial is None and vid not in initial_assign:
                    raise ModelError(f"model '{spec.id}': species '{vid}' has no initial value")
                if s.initial_is_amount and not s.has_only_substance_units:
                    out = declared / init_value(s.compartment)
                elif not s.initial_is_amount and s.has_only_substance_units:
                    out = declared * init_value(s.compartment)
                else:
                    out = declared
            elif vid in slot_index:
                out = ps[slot_index[vid]]
            elif vid in reactions:
                out = init_resolve(reactions[vid].rate)
            else:
                raise ModelError(f"model '{spec.id}': unknown id '{vid}'")
        finally:
            init_resolving.discard(vid)
        init_of[vid] = out
        return out

    def init_resolve(expr: sp.Basic) -> sp.Basic:
        expr = expand(expr)
        subs = {
            s: init_value(s.name)
            for s in expr.free_symbols
            if isinstance(s, sp.Symbol) and s.name not in ("time", "avogadro")
        }
        out = expr.xreplace(subs) if subs else expr
        if out.has(RATE_OF):
            raise UnsupportedFeature("rateOf in initial assignments", spec.id)
        return out.xreplace({sp.Symbol("avogadro", real=True): sp.Float(AVOGADRO_VALUE)})

    # --- right-hand side
    cf_model = spec.conversion_factor
    state_rhs: dict[str, sp.Basic] = {}
    rates_cache: dict[str, sp.Basic] = {}

    def reaction_rate(rid: str, expr: sp.Basic) -> sp.Basic:
        if rid not in rates_cache:
            rate = resolve(expr)
            if not isinstance(rate, sp.Expr):
                raise UnsupportedFeature("a boolean used as a number (kinetic law)", rid)
            rates_cache[rid] = rate
        return rates_cache[rid]

    def stoich_value(ref_st: float | sp.Basic, ref_id: str | None) -> sp.Basic:
        if ref_id:
            return value(ref_id)
        return resolve(ref_st) if isinstance(ref_st, sp.Basic) else sp.Float(ref_st)

    def rhs_of(vid: str) -> sp.Basic:
        if vid in state_rhs:
            return state_rhs[vid]
        i = state_index[vid]
        if kinds[i] == "amount":
            total: sp.Basic = sp.Integer(0)
            s = species[vid]
            cf_id = s.conversion_factor or cf_model
            for r in spec.reactions if vid in reaction_species else ():
                for sign, refs in ((-1, r.reactants), (1, r.products)):
                    for ref in refs:
                        if ref.species == vid:
                            total += (
                                sign
                                * stoich_value(ref.stoichiometry, ref.id)
                                * reaction_rate(r.id, r.rate)
                            )
            if cf_id:
                total = total * value(cf_id)
            out = total
        elif vid in rated:
            out = resolve(rated[vid])
        else:
            out = sp.Integer(0)
        state_rhs[vid] = out
        return out

    # resolve rateOf in math lazily: keep rateOf(value(id)) by constructing from ids
    def rate_of_id(vid: str) -> sp.Basic:
        if vid in state_index:
            d = rhs_of(vid)
            i = state_index[vid]
            if kinds[i] == "amount" and not species[vid].has_only_substance_units:
                comp = species[vid].compartment
                vol = value(comp)
                dvol = rhs_of(comp) if comp in state_index else sp.Integer(0)
                return d / vol - xs[i] * dvol / vol**2
            return d
        if vid in assigned:
            raise UnsupportedFeature("rateOf of an assignment-rule variable", vid)
        return sp.Integer(0)

    # pre-substitute rateOf(symbol) by id before value substitution
    def pre_rate(expr: sp.Basic) -> sp.Basic:
        if not expr.has(RATE_OF):
            return expr
        return expr.replace(
            lambda e: (
                isinstance(e, sp.Function)
                and e.func == RATE_OF
                and isinstance(e.args[0], sp.Symbol)
            ),
            lambda e: sp.Function("__rateof_" + e.args[0].name)(TIME),
        )

    def demark(expr: sp.Basic) -> sp.Basic:
        """Replace rateOf markers by the derivatives they stand for (which may hold markers)."""
        for _ in range(20):
            markers = [
                f for f in expr.atoms(sp.Function) if f.func.__name__.startswith("__rateof_")
            ]
            if not markers:
                return expr
            expr = expr.xreplace(
                {f: rate_of_id(f.func.__name__[len("__rateof_") :]) for f in markers}
            )
        raise UnsupportedFeature("rateOf cycle", spec.id)

    def finish(expr: sp.Basic) -> sp.Basic:
        """Resolve an expression that may contain rateOf(id)."""
        return demark(resolve(pre_rate(expand(expr))))

    for k in list(assigned):
        assigned[k] = pre_rate(assigned[k])
    for k in list(rated):
        rated[k] = pre_rate(rated[k])
    rhs = [demark(rhs_of(vid)) for vid in states]

    # --- initial state
    init = []
    scale = []
    for i, vid in enumerate(states):
        if kinds[i] == "amount" and not species[vid].has_only_substance_units:
            comp = species[vid].compartment
            init.append(init_value(vid) * init_value(comp))
            scale.append(value(comp))
        else:
            init.append(init_value(vid))
            scale.append(sp.Integer(1))

    # --- outputs
    outputs: list[str] = []
    out_kinds: list[str] = []
    out_exprs: list[sp.Basic] = []
    for s in spec.species:
        outputs.append(s.id)
        out_kinds.append("species")
        out_exprs.append(demark(value(s.id)))
    for o in spec.observables:
        outputs.append(o.id)
        out_kinds.append("observable")
        out_exprs.append(finish(o.expr))
    ids = spec.ids()
    for name in extra_outputs:
        if name in outputs:
            continue
        if name.startswith("amount(") and name.endswith(")"):
            sid = name[7:-1]
            if sid not in species:
                raise ModelError(f"model '{spec.id}': no species '{sid}' for output '{name}'")
            v = value(sid)
            expr = (
                v if species[sid].has_only_substance_units else v * value(species[sid].compartment)
            )
            outputs.append(name)
            out_kinds.append("amount")
            out_exprs.append(demark(expr))
            continue
        if name not in ids or ids[name] in ("reaction", "function", "event"):
            if name in ids and ids[name] == "reaction":
                r = next(r for r in spec.reactions if r.id == name)
                outputs.append(name)
                out_kinds.append("reaction")
                out_exprs.append(finish(r.rate))
                continue
            raise ModelError(
                f"model '{spec.id}': cannot report '{name}' (not a species, parameter or compartment)"
            )
        outputs.append(name)
        out_kinds.append("rule" if name in assigned else ids[name])
        out_exprs.append(demark(value(name)))

    # --- events
    fevents = []
    state_syms = set(xs)
    for e in spec.events:
        trig = finish(e.trigger)
        targets: list[int] = []
        vals: list[sp.Basic] = []
        for ea in e.assignments:
            if ea.variable in assigned:
                raise ModelError(
                    f"model '{spec.id}': event '{e.id}' assigns '{ea.variable}', which has an assignment rule"
                )
            i = state_index[ea.variable]
            v = finish(ea.expr)
            if kinds[i] == "amount" and not species[ea.variable].has_only_substance_units:
                # concentration -> amount
                # (in the compartment's size before the event, even if the event changes it)
                v = v * value(species[ea.variable].compartment)
            targets.append(i)
            vals.append(v)
        # a compartment resized by the event keeps the amounts of its species: a species whose
        # state is its concentration (rate rule) is rescaled by old size / new size
        new_size = {ea.variable: finish(ea.expr) for ea in e.assignments if ea.variable in comps}
        for a, (j, v) in enumerate(zip(targets, vals, strict=True)):
            sp_ = species.get(states[j])
            if (
                sp_ is not None
                and kinds[j] == "value"
                and not sp_.has_only_substance_units
                and sp_.compartment in new_size
            ):
                # the assigned concentration fixes the amount in the old size
                vals[a] = v * value(sp_.compartment) / new_size[sp_.compartment]
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
                vals.append(xs[j] * value(sp_.compartment) / new_size[sp_.compartment])
        delay = None if e.delay is None else finish(e.delay)
        prio = None if e.priority is None else finish(e.priority)
        time_only = not (trig.free_symbols & state_syms) and (
            delay is None or not (delay.free_symbols & state_syms)
        )
        fevents.append(
            FlatEvent(
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
        )

    fevents.extend(_discontinuities(rhs, set(ps)))
    return FlatModel(
        model_id=spec.id,
        states=tuple(states),
        state_kinds=tuple(kinds),
        slots=tuple(slots),
        slot_values=tuple(slot_values),
        slot_kinds=tuple(slot_kinds),
        x=xs,
        p=ps,
        rhs=tuple(rhs),
        init=tuple(init),
        outputs=tuple(outputs),
        output_kinds=tuple(out_kinds),
        output_exprs=tuple(out_exprs),
        events=tuple(fevents),
        value_of=value_of,
        state_scale=tuple(scale),
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


def _solve_algebraic(
    spec: ModelSpec,
    exprs: list[sp.Basic],
    assigned: dict[str, sp.Basic],
    rated: dict[str, sp.Basic],
    event_targets: set[str],
) -> dict[str, sp.Basic]:
    """Turn algebraic rules ``0 = f(...)`` into assignment rules where they solve explicitly.

    The variables an algebraic rule determines are those that nothing else determines: not
    constant, no rule, no reaction, no event. When the rules solve uniquely for them (sympy),
    the solutions become assignment rules; otherwise the model needs a DAE solver, which the
    compiled engine does not have.
    """
    reaction_species = {ref.species for r in spec.reactions for ref in (*r.reactants, *r.products)}
    free: set[str] = set()
    for p in spec.parameters:
        if not p.constant:
            free.add(p.id)
    for c in spec.compartments:
        if not c.constant:
            free.add(c.id)
    for s_ in spec.species:
        if not s_.constant and (s_.boundary or s_.id not in reaction_species):
            free.add(s_.id)
    for r in spec.reactions:
        for ref in (*r.reactants, *r.products):
            if ref.id and not ref.constant:
                free.add(ref.id)
    free -= set(assigned) | set(rated) | event_targets
    names: set[str] = set()
    for e in exprs:
        names |= {s.name for s in e.free_symbols if isinstance(s, sp.Symbol)} & free
    unknowns = sorted(names)
    if len(unknowns) != len(exprs):
        raise UnsupportedFeature("AlgebraicRule (not explicitly solvable: a DAE)", spec.id)
    syms = [sp.Symbol(n, real=True) for n in unknowns]
    try:
        sols = sp.solve(exprs, syms, dict=True)
    except Exception:  # noqa: BLE001 - sympy's solvers raise many unrelated error types
        sols = []
    if len(sols) != 1 or any(sym not in sols[0] for sym in syms):
        raise UnsupportedFeature("AlgebraicRule (no unique explicit solution)", spec.id)
    return {n: sols[0][sym] for n, sym in zip(unknowns, syms, strict=True)}
