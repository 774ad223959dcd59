"""The value expressions of :func:`~._flatten.flatten`: every id's value in the state and slot
symbols at time t, its value at the start, the right-hand side of every state, and ``rateOf``."""

from __future__ import annotations

import sympy as sp

from ..errors import ModelError, UnsupportedFeature
from ..model import AVOGADRO_VALUE, RATE_OF, TIME, ModelSpec
from ._flatten_rules import Expander, Layout, Rules

__all__ = ["Resolver"]

_AVOGADRO = sp.Symbol("avogadro", real=True)


class Resolver:
    """Resolves ids and expressions of one model into ``x_i`` (states), ``p_j`` (slots) and time.

    Values are memoised (:attr:`value_of`, :attr:`init_of`); cycles of assignment rules or of
    initial assignments are errors.
    """

    def __init__(
        self,
        spec: ModelSpec,
        expand: Expander,
        rules: Rules,
        layout: Layout,
        xs: tuple[sp.Symbol, ...],
        ps: tuple[sp.Symbol, ...],
    ) -> None:
        self.spec = spec
        self.expand = expand
        self.assigned = rules.assigned
        self.rated = rules.rated
        self.initial_assign = rules.initial_assign
        self.reaction_species = rules.reaction_species
        self.kinds = layout.kinds
        self.xs = xs
        self.ps = ps
        self.species = {s.id: s for s in spec.species}
        self.reactions = {r.id: r for r in spec.reactions}
        self.state_index = {s: i for i, s in enumerate(layout.states)}
        self.slot_index = {s: j for j, s in enumerate(layout.slots)}
        self.value_of: dict[str, sp.Basic] = {}
        self.init_of: dict[str, sp.Basic] = {}
        self._resolving: set[str] = set()
        self._init_resolving: set[str] = set()
        self._state_rhs: dict[str, sp.Basic] = {}
        self._rates: dict[str, sp.Basic] = {}

    # ------------------------------------------------------------------ values at time t
    def value(self, vid: str) -> sp.Basic:
        """The value of ``vid`` at time t."""
        if vid in self.value_of:
            return self.value_of[vid]
        if vid in self._resolving:
            raise ModelError(
                f"model '{self.spec.id}': assignment rules form a cycle through '{vid}'"
            )
        self._resolving.add(vid)
        try:
            out = self._value(vid)
        finally:
            self._resolving.discard(vid)
        self.value_of[vid] = out
        return out

    def _value(self, vid: str) -> sp.Basic:
        species, state_index = self.species, self.state_index
        if vid in self.assigned:
            return self.resolve(self.assigned[vid])
        if vid in state_index:
            xi = self.xs[state_index[vid]]
            if (
                self.kinds[state_index[vid]] == "amount"
                and not species[vid].has_only_substance_units
            ):
                return xi / self.value(species[vid].compartment)
            return xi
        if vid in species:
            s = species[vid]
            # a species nothing changes keeps its amount (its concentration follows its
            # compartment's size when that varies)
            comp = s.compartment
            if s.has_only_substance_units or (
                comp not in state_index and comp not in self.assigned
            ):
                return self.init_value(vid)
            return self.init_value(vid) * self.init_value(comp) / self.value(comp)
        if vid in self.reactions:
            return self.resolve(self.reactions[vid].rate)  # a reaction id in math is its rate
        if vid in self.initial_assign:
            # a constant set by an initial assignment keeps its initial value
            return self.init_value(vid)
        if vid in self.slot_index:
            return self.ps[self.slot_index[vid]]
        raise ModelError(f"model '{self.spec.id}': unknown id '{vid}'")

    def resolve(self, expr: sp.Basic) -> sp.Basic:
        """``expr`` in states, slots and time."""
        expr = self.pre_rate(self.expand(expr))
        subs = {
            s: self.value(s.name)
            for s in expr.free_symbols
            if isinstance(s, sp.Symbol) and s.name not in ("time", "avogadro")
        }
        out = expr.xreplace(subs) if subs else expr
        return out.xreplace({_AVOGADRO: sp.Float(AVOGADRO_VALUE)})

    # ------------------------------------------------------------------ values at t0
    def init_value(self, vid: str) -> sp.Basic:
        """The value of ``vid`` at the start, from slots only."""
        if vid in self.init_of:
            return self.init_of[vid]
        if vid in self._init_resolving:
            raise ModelError(
                f"model '{self.spec.id}': initial assignments form a cycle through '{vid}'"
            )
        self._init_resolving.add(vid)
        try:
            out = self._init_value(vid)
        finally:
            self._init_resolving.discard(vid)
        self.init_of[vid] = out
        return out

    def _init_value(self, vid: str) -> sp.Basic:
        if vid in self.initial_assign:
            return self.init_resolve(self.initial_assign[vid])
        if vid in self.assigned:
            return self.init_resolve(self.assigned[vid])
        if vid in self.species:
            s = self.species[vid]
            declared = self.ps[self.slot_index[vid]]
            if s.initial is None and vid not in self.initial_assign:
                raise ModelError(f"model '{self.spec.id}': species '{vid}' has no initial value")
            if s.initial_is_amount and not s.has_only_substance_units:
                return declared / self.init_value(s.compartment)
            if not s.initial_is_amount and s.has_only_substance_units:
                return declared * self.init_value(s.compartment)
            return declared
        if vid in self.slot_index:
            return self.ps[self.slot_index[vid]]
        if vid in self.reactions:
            return self.init_resolve(self.reactions[vid].rate)
        raise ModelError(f"model '{self.spec.id}': unknown id '{vid}'")

    def init_resolve(self, expr: sp.Basic) -> sp.Basic:
        """``expr`` at the start, in slots only."""
        expr = self.expand(expr)
        subs = {
            s: self.init_value(s.name)
            for s in expr.free_symbols
            if isinstance(s, sp.Symbol) and s.name not in ("time", "avogadro")
        }
        out = expr.xreplace(subs) if subs else expr
        if out.has(RATE_OF):
            raise UnsupportedFeature("rateOf in initial assignments", self.spec.id)
        return out.xreplace({_AVOGADRO: sp.Float(AVOGADRO_VALUE)})

    # ------------------------------------------------------------------ right-hand side
    def reaction_rate(self, rid: str, expr: sp.Basic) -> sp.Basic:
        """The (memoised) rate of reaction ``rid``."""
        if rid not in self._rates:
            rate = self.resolve(expr)
            if not isinstance(rate, sp.Expr):
                raise UnsupportedFeature("a boolean used as a number (kinetic law)", rid)
            self._rates[rid] = rate
        return self._rates[rid]

    def _stoich_value(self, ref_st: float | sp.Basic, ref_id: str | None) -> sp.Basic:
        if ref_id:
            return self.value(ref_id)
        return self.resolve(ref_st) if isinstance(ref_st, sp.Basic) else sp.Float(ref_st)

    def rhs_of(self, vid: str) -> sp.Basic:
        """d(state)/dt of state ``vid`` (may hold rateOf markers)."""
        if vid in self._state_rhs:
            return self._state_rhs[vid]
        i = self.state_index[vid]
        if self.kinds[i] == "amount":
            total: sp.Basic = sp.Integer(0)
            s = self.species[vid]
            cf_id = s.conversion_factor or self.spec.conversion_factor
            for r in self.spec.reactions if vid in self.reaction_species else ():
                for sign, refs in ((-1, r.reactants), (1, r.products)):
                    for ref in refs:
                        if ref.species == vid:
                            total += (
                                sign
                                * self._stoich_value(ref.stoichiometry, ref.id)
                                * self.reaction_rate(r.id, r.rate)
                            )
            if cf_id:
                total = total * self.value(cf_id)
            out = total
        elif vid in self.rated:
            out = self.resolve(self.rated[vid])
        else:
            out = sp.Integer(0)
        self._state_rhs[vid] = out
        return out

    # ------------------------------------------------------------------ rateOf
    def _rate_of_id(self, vid: str) -> sp.Basic:
        if vid in self.state_index:
            d = self.rhs_of(vid)
            i = self.state_index[vid]
            if self.kinds[i] == "amount" and not self.species[vid].has_only_substance_units:
                comp = self.species[vid].compartment
                vol = self.value(comp)
                dvol = self.rhs_of(comp) if comp in self.state_index else sp.Integer(0)
                return d / vol - self.xs[i] * dvol / vol**2
            return d
        if vid in self.assigned:
            raise UnsupportedFeature("rateOf of an assignment-rule variable", vid)
        return sp.Integer(0)

    @staticmethod
    def pre_rate(expr: sp.Basic) -> sp.Basic:
        """Mark ``rateOf(symbol)`` by id (a function of time) before values are substituted."""
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

    def demark(self, expr: sp.Basic) -> sp.Basic:
        """Replace rateOf markers by the derivatives they stand for (which may hold markers)."""
        for _ in range(20):
            markers = [
                f for f in expr.atoms(sp.Function) if f.func.__name__.startswith("__rateof_")
            ]
            if not markers:
                return expr
            expr = expr.xreplace(
                {f: self._rate_of_id(f.func.__name__[len("__rateof_") :]) for f in markers}
            )
        raise UnsupportedFeature("rateOf cycle", self.spec.id)

    def finish(self, expr: sp.Basic) -> sp.Basic:
        """Resolve an expression that may contain rateOf(id)."""
        return self.demark(self.resolve(self.pre_rate(self.expand(expr))))
