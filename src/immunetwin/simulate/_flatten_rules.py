"""The first steps of :func:`~._flatten.flatten`: inline functions, collect the rules, and lay out
which ids are states and which are constant slots."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import ModelError, UnsupportedFeature
from ..model import ModelSpec

__all__ = ["Expander", "Layout", "Rules", "collect_rules", "lay_out"]


class Expander:
    """Inlines user function calls, innermost first (so a boolean call can be a condition)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.model_id = spec.id
        self.funcs = {
            f.id: sp.Lambda(tuple(sp.Symbol(a, real=True) for a in f.args), f.body)
            for f in spec.functions
        }

    def __call__(self, expr: sp.Basic, depth: int = 0) -> sp.Basic:
        """``expr`` with every user function call inlined."""
        funcs = self.funcs
        if depth > 50:
            raise ModelError(
                f"model '{self.model_id}': function definitions nest too deeply (recursion?)"
            )
        if isinstance(expr, sp.Function) and expr.func.__name__ in funcs:
            args = [self(a, depth) for a in expr.args]
            return self(funcs[expr.func.__name__](*args), depth + 1)
        if not expr.args or not any(c.func.__name__ in funcs for c in expr.atoms(sp.Function)):
            return expr
        return expr.func(*[self(a, depth) for a in expr.args])


@dataclass
class Rules:
    """What determines each id: assignment and rate rules, initial assignments, event targets."""

    assigned: dict[str, sp.Basic]
    rated: dict[str, sp.Basic]
    initial_assign: dict[str, sp.Basic]
    event_targets: set[str]
    sref_value: dict[str, float] = field(default_factory=dict)
    """Species references with ids (stoichiometries that behave as variables)."""
    reaction_species: set[str] = field(default_factory=set)
    """Species changed by reactions."""


def collect_rules(spec: ModelSpec, expand: Expander) -> Rules:
    """The rules of ``spec`` (algebraic rules solved into assignments where they can be)."""
    rules = Rules(
        assigned={a.variable: expand(a.expr) for a in spec.assignment_rules},
        rated={r.variable: expand(r.expr) for r in spec.rate_rules},
        initial_assign={a.variable: expand(a.expr) for a in spec.initial_assignments},
        event_targets={ea.variable for e in spec.events for ea in e.assignments},
    )
    assigned, rated = rules.assigned, rules.rated
    if spec.algebraic_rules:
        assigned.update(
            solve_algebraic(
                spec,
                [expand(a.expr) for a in spec.algebraic_rules],
                assigned,
                rated,
                rules.event_targets,
            )
        )
    species = {s.id: s for s in spec.species}
    # stoichiometry sources: species references with ids behave as variables
    for r in spec.reactions:
        for ref in (*r.reactants, *r.products):
            if ref.id:
                st = ref.stoichiometry
                rules.sref_value[ref.id] = (
                    float(st) if not isinstance(st, sp.Basic) else float("nan")
                )
                if isinstance(st, sp.Basic) and ref.id not in assigned and ref.id not in rated:
                    # stoichiometryMath holds at all times (an assignment, not an initial value)
                    assigned[ref.id] = expand(st)
    for r in spec.reactions:
        for ref in (*r.reactants, *r.products):
            s = species[ref.species]
            if not s.boundary and not s.constant:
                if ref.species in assigned or ref.species in rated:
                    raise ModelError(
                        f"model '{spec.id}': species '{ref.species}' is changed both by reaction "
                        f"'{r.id}' and by a rule"
                    )
                rules.reaction_species.add(ref.species)
    return rules


@dataclass
class Layout:
    """Which ids are states (and of what kind) and which are constant slots."""

    states: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    """``"amount"`` (species amount) or ``"value"`` for each state."""
    slots: list[str] = field(default_factory=list)
    slot_values: list[float] = field(default_factory=list)
    slot_kinds: list[str] = field(default_factory=list)

    def add_slot(self, name: str, value: float, kind: str) -> None:
        """Append a constant slot."""
        self.slots.append(name)
        self.slot_values.append(value)
        self.slot_kinds.append(kind)


def lay_out(spec: ModelSpec, rules: Rules) -> Layout:
    """Classify every assignable id as a state, a slot, or both (a species' declared initial)."""
    out = Layout()
    assigned, rated, event_targets = rules.assigned, rules.rated, rules.event_targets
    species = {s.id: s for s in spec.species}
    comps = {c.id: c for c in spec.compartments}
    params = {p.id: p for p in spec.parameters}
    all_vars: list[tuple[str, str]] = (
        [(c.id, "compartment") for c in spec.compartments]
        + [(p.id, "parameter") for p in spec.parameters]
        + [(s.id, "species") for s in spec.species]
        + [(k, "species_reference") for k in rules.sref_value]
    )
    for vid, kind in all_vars:
        if vid in assigned:
            continue
        if kind == "species":
            s = species[vid]
            out.add_slot(
                vid, float("nan") if s.initial is None else float(s.initial), "species_initial"
            )
            if vid in rules.reaction_species or vid in rated or vid in event_targets:
                out.states.append(vid)
                # species keep their amount as state unless a rate rule drives their value
                out.kinds.append("value" if vid in rated else "amount")
            continue
        if kind == "compartment":
            number = comps[vid].size
        elif kind == "parameter":
            number = params[vid].value
        else:
            number = rules.sref_value[vid]
        out.add_slot(vid, float(number), kind)
        if vid in rated or vid in event_targets:
            out.states.append(vid)
            out.kinds.append("value")
    if not out.states:
        # a model with no differential state (rules only): integrate a silent clock state
        out.states.append("__clock")
        out.kinds.append("value")
        rated["__clock"] = sp.Integer(0)
        out.add_slot("__clock", 0.0, "internal")
    return out


def solve_algebraic(
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
