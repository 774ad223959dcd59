"""Write models as Python code: an explicit builder with no global state.

Example
-------
>>> from immunetwin.model import ModelBuilder
>>> b = ModelBuilder("tiv", name="target cell limited model")
>>> _ = b.parameter("beta", 2.7e-5, unit="1/(TCID50/mL)/d", lower=1e-8, upper=1e-2)
>>> _ = b.parameter("delta", 4.0, unit="1/d")
>>> _ = b.parameter("p", 1.2e-2, unit="TCID50/mL/d")
>>> _ = b.parameter("c", 3.0, unit="1/d")
>>> _ = b.state("T", 4e8, "-beta*T*V")
>>> _ = b.state("I", 0.0, "beta*T*V - delta*I")
>>> _ = b.state("V", 0.1, "p*I - c*V")
>>> _ = b.observable("log10V", "log10(V)", noise="normal", sigma=0.5)
>>> spec = b.build()
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import sympy as sp

from ..errors import ModelError
from ._math import as_expr
from ._spec import (
    AlgebraicRule,
    AssignmentRule,
    Compartment,
    Event,
    EventAssignment,
    FunctionDefinition,
    InitialAssignment,
    ModelSpec,
    NoiseKind,
    NoiseModel,
    Observable,
    Parameter,
    Prior,
    RateRule,
    Reaction,
    Species,
    SpeciesReference,
)

__all__ = ["ModelBuilder"]

ExprLike: TypeAlias = str | float | int | sp.Basic

_SIDE = re.compile(r"^\s*(?:(\d+(?:\.\d*)?)\s*\*?\s*)?([A-Za-z_]\w*)\s*$")


class ModelBuilder:
    """Accumulates the parts of a model; :meth:`build` freezes them into a :class:`ModelSpec`.

    Every method returns ``self`` so calls can be chained. Names are model ids; expressions are
    strings in Python syntax (``^`` allowed), numbers or sympy expressions.
    """

    DEFAULT_COMPARTMENT = "default"
    NEVER = 1.0e6
    """Default of an intervention start time: later than any simulation."""

    def __init__(self, model_id: str, *, name: str = "", time_unit: str | None = "day") -> None:
        if not re.fullmatch(r"[A-Za-z_]\w*", model_id):
            raise ModelError(f"model id {model_id!r} is not a valid identifier")
        self._id = model_id
        self._name = name
        self._time_unit = time_unit
        self._compartments: list[Compartment] = []
        self._species: list[Species] = []
        self._parameters: list[Parameter] = []
        self._reactions: list[Reaction] = []
        self._assignments: list[AssignmentRule] = []
        self._rates: list[RateRule] = []
        self._algebraic: list[AlgebraicRule] = []
        self._initials: list[InitialAssignment] = []
        self._functions: list[FunctionDefinition] = []
        self._events: list[Event] = []
        self._observables: list[Observable] = []
        self._units: dict[str, str] = {}
        self._metadata: dict[str, str] = {}
        self._notes = ""

    # ------------------------------------------------------------------ parts
    def compartment(
        self,
        cid: str,
        size: float = 1.0,
        *,
        unit: str | None = None,
        constant: bool = True,
        spatial_dimensions: float = 3.0,
        name: str = "",
    ) -> ModelBuilder:
        """Add a compartment."""
        self._compartments.append(
            Compartment(
                id=cid,
                size=float(size),
                unit=unit,
                constant=constant,
                spatial_dimensions=spatial_dimensions,
                name=name,
            )
        )
        return self

    def _default_compartment(self) -> str:
        if not any(c.id == self.DEFAULT_COMPARTMENT for c in self._compartments):
            self._compartments.append(
                Compartment(id=self.DEFAULT_COMPARTMENT, size=1.0, name="default compartment")
            )
        return self.DEFAULT_COMPARTMENT

    def species(
        self,
        sid: str,
        initial: float | None = 0.0,
        *,
        compartment: str | None = None,
        unit: str | None = None,
        amount: bool = False,
        only_substance: bool = False,
        boundary: bool = False,
        constant: bool = False,
        name: str = "",
        annotations: Iterable[str] = (),
    ) -> ModelBuilder:
        """Add a species; ``initial`` is an amount if ``amount`` else a concentration."""
        comp = compartment or self._default_compartment()
        self._species.append(
            Species(
                id=sid,
                compartment=comp,
                initial=None if initial is None else float(initial),
                initial_is_amount=amount,
                has_only_substance_units=only_substance,
                boundary=boundary,
                constant=constant,
                unit=unit,
                name=name,
                annotations=tuple(annotations),
            )
        )
        return self

    def state(
        self,
        sid: str,
        initial: float,
        rate: ExprLike,
        *,
        unit: str | None = None,
        name: str = "",
        annotations: Iterable[str] = (),
    ) -> ModelBuilder:
        """Add an ODE state ``d sid/dt = rate`` (a species in the default compartment with a rate rule)."""
        self.species(sid, initial, unit=unit, name=name, annotations=annotations)
        self._rates.append(RateRule(variable=sid, expr=as_expr(rate, where=sid)))
        return self

    def parameter(
        self,
        pid: str,
        value: float,
        *,
        unit: str | None = None,
        lower: float | None = None,
        upper: float | None = None,
        prior: Prior | None = None,
        estimate: bool = False,
        log_scale: bool = True,
        source: str = "",
        constant: bool = True,
        name: str = "",
    ) -> ModelBuilder:
        """Add a parameter with its unit, bounds, prior and the source of its value."""
        self._parameters.append(
            Parameter(
                id=pid,
                value=float(value),
                unit=unit,
                lower=lower,
                upper=upper,
                prior=prior,
                estimate=estimate,
                log_scale=log_scale,
                source=source,
                constant=constant,
                name=name,
            )
        )
        return self

    def start_time(
        self,
        pid: str,
        *,
        unit: str | None = None,
        source: str = "intervention input (default never)",
        name: str = "",
    ) -> ModelBuilder:
        """Add the start time of an intervention: a parameter in ``[0, NEVER]`` whose default
        :attr:`NEVER` (1e6) means the intervention does not happen in a simulation."""
        return self.parameter(
            pid,
            self.NEVER,
            unit=unit,
            lower=0.0,
            upper=self.NEVER,
            log_scale=False,
            source=source,
            name=name,
        )

    def fraction(
        self,
        pid: str,
        *,
        source: str = "intervention input",
        name: str = "",
    ) -> ModelBuilder:
        """Add a dimensionless fraction in ``[0, 1]`` (a drug's efficacy, a depleted fraction),
        default 0 (no effect), on the linear scale."""
        return self.parameter(
            pid,
            0.0,
            unit="dimensionless",
            lower=0.0,
            upper=1.0,
            log_scale=False,
            source=source,
            name=name,
        )

    def reaction(
        self,
        rid: str,
        equation: str,
        rate: ExprLike,
        *,
        modifiers: Iterable[str] = (),
        reversible: bool = False,
        name: str = "",
    ) -> ModelBuilder:
        """Add a reaction written as ``"A + 2 B -> C"`` (``"-> A"`` or ``"A ->"`` for sources and sinks)."""
        if "->" not in equation:
            raise ModelError(f"reaction '{rid}': equation {equation!r} has no '->'")
        lhs, rhs = equation.split("->", 1)
        self._reactions.append(
            Reaction(
                id=rid,
                rate=as_expr(rate, where=rid),
                reactants=_side(lhs, rid),
                products=_side(rhs, rid),
                modifiers=tuple(modifiers),
                reversible=reversible,
                name=name,
            )
        )
        return self

    def assign(self, variable: str, expr: ExprLike) -> ModelBuilder:
        """Add an assignment rule ``variable = expr``; undeclared variables become parameters."""
        self._ensure_variable(variable)
        self._assignments.append(
            AssignmentRule(variable=variable, expr=as_expr(expr, where=variable))
        )
        return self

    def rate(self, variable: str, expr: ExprLike) -> ModelBuilder:
        """Add a rate rule ``d variable/dt = expr`` for an existing species or parameter."""
        self._rates.append(RateRule(variable=variable, expr=as_expr(expr, where=variable)))
        return self

    def initial(self, variable: str, expr: ExprLike) -> ModelBuilder:
        """Add an initial assignment ``variable(t0) = expr``."""
        self._initials.append(
            InitialAssignment(variable=variable, expr=as_expr(expr, where=variable))
        )
        return self

    def function(self, fid: str, args: Iterable[str], body: ExprLike) -> ModelBuilder:
        """Add a function definition."""
        self._functions.append(
            FunctionDefinition(id=fid, args=tuple(args), body=as_expr(body, where=fid))
        )
        return self

    def event(
        self,
        eid: str,
        trigger: ExprLike,
        assignments: Mapping[str, ExprLike],
        *,
        delay: ExprLike | None = None,
        priority: ExprLike | None = None,
        persistent: bool = True,
        initial_value: bool = False,
        use_values_from_trigger_time: bool = True,
    ) -> ModelBuilder:
        """Add an event: when ``trigger`` turns true, do ``variable := expr`` for each assignment."""
        self._events.append(
            Event(
                id=eid,
                trigger=as_expr(trigger, where=eid),
                assignments=tuple(
                    EventAssignment(variable=k, expr=as_expr(v, where=eid))
                    for k, v in assignments.items()
                ),
                delay=None if delay is None else as_expr(delay, where=eid),
                priority=None if priority is None else as_expr(priority, where=eid),
                persistent=persistent,
                initial_value=initial_value,
                use_values_from_trigger_time=use_values_from_trigger_time,
            )
        )
        return self

    def bolus(self, eid: str, target: str, amount: ExprLike, at: float) -> ModelBuilder:
        """Add an instantaneous dose: ``target += amount`` at time ``at``."""
        return self.event(eid, f"time >= {float(at)!r}", {target: f"{target} + ({amount})"})

    def observable(
        self,
        oid: str,
        expr: ExprLike,
        *,
        noise: NoiseKind | str = NoiseKind.NORMAL,
        sigma: float | str = 1.0,
        unit: str | None = None,
        name: str = "",
    ) -> ModelBuilder:
        """Add an observable with its noise model."""
        self._observables.append(
            Observable(
                id=oid,
                expr=as_expr(expr, where=oid),
                noise=NoiseModel(kind=NoiseKind(noise), sigma=sigma),
                unit=unit,
                name=name,
            )
        )
        return self

    def unit(self, uid: str, definition: str) -> ModelBuilder:
        """Define a unit, e.g. ``unit("per_day", "day^-1")``."""
        self._units[uid] = definition
        return self

    def meta(self, **items: Any) -> ModelBuilder:
        """Attach metadata (citation, doi, licence, ...)."""
        self._metadata.update({k: str(v) for k, v in items.items()})
        return self

    def notes(self, text: str) -> ModelBuilder:
        """Attach free-text notes."""
        self._notes = text
        return self

    def _ensure_variable(self, variable: str) -> None:
        known = (
            {s.id for s in self._species}
            | {p.id for p in self._parameters}
            | {c.id for c in self._compartments}
        )
        if variable not in known:
            self._parameters.append(Parameter(id=variable, value=0.0, constant=False))

    # ------------------------------------------------------------------ freeze
    def build(self) -> ModelSpec:
        """Freeze into a validated :class:`ModelSpec`."""
        params = tuple(
            Parameter(**{**_fields(p), "constant": False})
            if p.id in self._assigned_or_rated() and p.constant
            else p
            for p in self._parameters
        )
        return ModelSpec(
            id=self._id,
            name=self._name,
            compartments=tuple(self._compartments),
            species=tuple(self._species),
            parameters=params,
            reactions=tuple(self._reactions),
            assignment_rules=tuple(self._assignments),
            rate_rules=tuple(self._rates),
            algebraic_rules=tuple(self._algebraic),
            initial_assignments=tuple(self._initials),
            functions=tuple(self._functions),
            events=tuple(self._events),
            observables=tuple(self._observables),
            time_unit=self._time_unit,
            units=tuple(self._units.items()),
            notes=self._notes,
            metadata=tuple(self._metadata.items()),
        )

    def _assigned_or_rated(self) -> set[str]:
        out = {a.variable for a in self._assignments} | {r.variable for r in self._rates}
        for e in self._events:
            out |= {a.variable for a in e.assignments}
        return out


def _fields(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}


def _side(text: str, rid: str) -> tuple[SpeciesReference, ...]:
    text = text.strip()
    if not text or text in ("0", "∅"):
        return ()
    out = []
    for term in text.split("+"):
        m = _SIDE.match(term)
        if not m:
            raise ModelError(f"reaction '{rid}': cannot read term {term.strip()!r}")
        out.append(SpeciesReference(species=m.group(2), stoichiometry=float(m.group(1) or 1.0)))
    return tuple(out)
