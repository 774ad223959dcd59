"""The frozen model specification.

A :class:`ModelSpec` says *what* the biology is: compartments, species, parameters, reactions,
rules, events and observables, with every piece of math held as a sympy expression whose free
symbols are model ids. It follows SBML's semantics, so that SBML round-trips without loss:

* a species symbol in math means its concentration (amount / compartment size) unless
  ``has_only_substance_units`` is true, in which case it means its amount;
* a reaction rate (kinetic law) is in substance per time; it changes species *amounts*;
* a rate rule gives the time derivative of the symbol's value (concentration for a species
  without only substance units);
* events fire when their trigger goes from false to true.

Specs are immutable; build one with :class:`~immunetwin.model.ModelBuilder` or
:func:`~immunetwin.model.from_sbml`, and derive changed copies with :meth:`ModelSpec.replace`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, TypeVar

import sympy as sp

from ..errors import ModelError
from ._distrib import DISTRIBUTIONS
from ._math import expr_to_str, free_names, function_names

__all__ = [
    "AlgebraicRule",
    "AssignmentRule",
    "Compartment",
    "Event",
    "EventAssignment",
    "FunctionDefinition",
    "InitialAssignment",
    "ModelSpec",
    "NoiseKind",
    "NoiseModel",
    "Observable",
    "Parameter",
    "Prior",
    "RateRule",
    "Reaction",
    "Species",
    "SpeciesReference",
]

_T = TypeVar("_T")
_FROZEN = {"frozen": True, "slots": True, "kw_only": True}


@dataclass(**_FROZEN)
class Compartment:
    """A compartment (volume) of the model."""

    id: str
    size: float = 1.0
    constant: bool = True
    spatial_dimensions: float = 3.0
    unit: str | None = None
    name: str = ""


@dataclass(**_FROZEN)
class Species:
    """A species (state) living in a compartment.

    ``initial`` is an amount when ``initial_is_amount`` is true, else a concentration. ``None``
    means the initial value comes from an initial assignment or rule.
    """

    id: str
    compartment: str
    initial: float | None = 0.0
    initial_is_amount: bool = False
    has_only_substance_units: bool = False
    boundary: bool = False
    constant: bool = False
    unit: str | None = None
    conversion_factor: str | None = None
    name: str = ""
    annotations: tuple[str, ...] = ()


@dataclass(**_FROZEN)
class Prior:
    """A prior distribution for a parameter.

    ``kind`` is one of ``"normal"``, ``"lognormal"``, ``"uniform"``, ``"loguniform"``; ``a`` and
    ``b`` are (mean, sd) for normal, (log-mean, log-sd) for lognormal, and (lower, upper) for the
    uniform kinds.
    """

    kind: str
    a: float
    b: float


@dataclass(**_FROZEN)
class Parameter:
    """A parameter: a constant (or rule/event-driven) number with unit, bounds and source."""

    id: str
    value: float = 0.0
    constant: bool = True
    unit: str | None = None
    lower: float | None = None
    upper: float | None = None
    prior: Prior | None = None
    estimate: bool = False
    log_scale: bool = True
    source: str = ""
    name: str = ""


@dataclass(**_FROZEN)
class SpeciesReference:
    """A reactant or product of a reaction.

    ``stoichiometry`` is a number or an expression; ``id`` is the species reference's own SBML id
    (it may be the target of rules, and appear in math as the stoichiometry's value).
    """

    species: str
    stoichiometry: float | sp.Basic = 1.0
    id: str | None = None
    constant: bool = True


@dataclass(**_FROZEN)
class Reaction:
    """A reaction; ``rate`` is the kinetic law in substance per time."""

    id: str
    rate: sp.Basic
    reactants: tuple[SpeciesReference, ...] = ()
    products: tuple[SpeciesReference, ...] = ()
    modifiers: tuple[str, ...] = ()
    reversible: bool = False
    name: str = ""


@dataclass(**_FROZEN)
class AssignmentRule:
    """``variable = expr`` at all times."""

    variable: str
    expr: sp.Basic


@dataclass(**_FROZEN)
class RateRule:
    """``d variable / dt = expr``."""

    variable: str
    expr: sp.Basic


@dataclass(**_FROZEN)
class AlgebraicRule:
    """``0 = expr`` (kept for SBML round trips; not simulated by the compiled engine)."""

    expr: sp.Basic


@dataclass(**_FROZEN)
class InitialAssignment:
    """``variable = expr`` at the initial time."""

    variable: str
    expr: sp.Basic


@dataclass(**_FROZEN)
class FunctionDefinition:
    """A user function ``id(args) = body``."""

    id: str
    args: tuple[str, ...]
    body: sp.Basic


@dataclass(**_FROZEN)
class EventAssignment:
    """``variable := expr`` when an event executes."""

    variable: str
    expr: sp.Basic


@dataclass(**_FROZEN)
class Event:
    """An event: when ``trigger`` becomes true, the assignments are executed (after ``delay``).

    Attributes follow SBML L3: ``initial_value`` is the trigger's value just before the start,
    ``persistent`` whether a delayed event still executes if its trigger turned false in the
    meantime, ``use_values_from_trigger_time`` whether assignments are evaluated when triggered
    (true) or when executed.
    """

    id: str
    trigger: sp.Basic
    assignments: tuple[EventAssignment, ...] = ()
    delay: sp.Basic | None = None
    priority: sp.Basic | None = None
    persistent: bool = True
    initial_value: bool = True
    use_values_from_trigger_time: bool = True
    name: str = ""


class NoiseKind(StrEnum):
    """The measurement noise model of an observable."""

    NORMAL = "normal"
    LOGNORMAL = "lognormal"
    LOG10NORMAL = "log10normal"


@dataclass(**_FROZEN)
class NoiseModel:
    """Noise of an observable: ``sigma`` a number or the id of a parameter."""

    kind: NoiseKind = NoiseKind.NORMAL
    sigma: float | str = 1.0


@dataclass(**_FROZEN)
class Observable:
    """A measurable output: an expression of states and parameters, with a noise model."""

    id: str
    expr: sp.Basic
    noise: NoiseModel = field(default_factory=NoiseModel)
    unit: str | None = None
    name: str = ""


def _canon(obj: Any) -> Any:
    """A JSON-able canonical form, used for hashing."""
    if isinstance(obj, sp.Basic):
        return expr_to_str(obj)
    if isinstance(obj, Enum):
        return obj.value
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            "__type__": type(obj).__name__,
            **{f.name: _canon(getattr(obj, f.name)) for f in dataclasses.fields(obj)},
        }
    if isinstance(obj, tuple | list):
        return [_canon(x) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): _canon(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, float):
        return repr(obj)
    return obj


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A complete, immutable model specification.

    Use :meth:`hash` for a stable content hash (sha256 hex) that identifies the model; it
    ignores nothing that changes the model's behaviour or its exchange format.
    """

    id: str
    name: str = ""
    compartments: tuple[Compartment, ...] = ()
    species: tuple[Species, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    reactions: tuple[Reaction, ...] = ()
    assignment_rules: tuple[AssignmentRule, ...] = ()
    rate_rules: tuple[RateRule, ...] = ()
    algebraic_rules: tuple[AlgebraicRule, ...] = ()
    initial_assignments: tuple[InitialAssignment, ...] = ()
    functions: tuple[FunctionDefinition, ...] = ()
    events: tuple[Event, ...] = ()
    observables: tuple[Observable, ...] = ()
    conversion_factor: str | None = None
    time_unit: str | None = None
    substance_unit: str | None = None
    volume_unit: str | None = None
    extent_unit: str | None = None
    units: tuple[tuple[str, str], ...] = ()
    """Unit definitions: (unit id, definition string such as ``"mole * litre^-1"``)."""
    notes: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    """Free metadata as (key, value) pairs (citation, DOI, licence, annotations...)."""

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ lookups
    def ids(self) -> dict[str, str]:
        """Map every id in the model's namespace to its kind."""
        out: dict[str, str] = {}
        groups: list[tuple[str, tuple[Any, ...]]] = [
            ("compartment", self.compartments),
            ("species", self.species),
            ("parameter", self.parameters),
            ("reaction", self.reactions),
            ("function", self.functions),
            ("event", self.events),
            ("observable", self.observables),
        ]
        for kind, items in groups:
            for item in items:
                if item.id in out:
                    raise ModelError(
                        f"model '{self.id}': duplicate id '{item.id}' ({out[item.id]} and {kind})"
                    )
                out[item.id] = kind
        for r in self.reactions:
            for ref in (*r.reactants, *r.products):
                if ref.id:
                    if ref.id in out:
                        raise ModelError(f"model '{self.id}': duplicate id '{ref.id}'")
                    out[ref.id] = "species_reference"
        return out

    def species_by_id(self, sid: str) -> Species:
        """The species with id ``sid``."""
        return _find(self.species, sid, "species", self.id)

    def parameter(self, pid: str) -> Parameter:
        """The parameter with id ``pid``."""
        return _find(self.parameters, pid, "parameter", self.id)

    def compartment(self, cid: str) -> Compartment:
        """The compartment with id ``cid``."""
        return _find(self.compartments, cid, "compartment", self.id)

    def observable(self, oid: str) -> Observable:
        """The observable with id ``oid``."""
        return _find(self.observables, oid, "observable", self.id)

    @property
    def parameter_values(self) -> dict[str, float]:
        """Nominal parameter values by id."""
        return {p.id: p.value for p in self.parameters}

    def metadata_dict(self) -> dict[str, str]:
        """The metadata as a dict."""
        return dict(self.metadata)

    def expressions(self) -> Iterator[tuple[str, sp.Basic]]:
        """Every expression in the model, with the element it belongs to."""
        for r in self.reactions:
            yield r.id, r.rate
            for ref in (*r.reactants, *r.products):
                if isinstance(ref.stoichiometry, sp.Basic):
                    yield r.id, ref.stoichiometry
        for a in self.assignment_rules:
            yield a.variable, a.expr
        for rr in self.rate_rules:
            yield rr.variable, rr.expr
        for i, al in enumerate(self.algebraic_rules):
            yield f"algebraic_rule[{i}]", al.expr
        for ia in self.initial_assignments:
            yield ia.variable, ia.expr
        for e in self.events:
            yield e.id, e.trigger
            if e.delay is not None:
                yield e.id, e.delay
            if e.priority is not None:
                yield e.id, e.priority
            for ea in e.assignments:
                yield e.id, ea.expr
        for o in self.observables:
            yield o.id, o.expr

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Check references and ids; raise :class:`ModelError` naming the element."""
        ids = self.ids()
        comps = {c.id for c in self.compartments}
        for s in self.species:
            if s.compartment not in comps:
                raise ModelError(
                    f"model '{self.id}': species '{s.id}' is in unknown compartment '{s.compartment}'"
                )
        species = {s.id for s in self.species}
        for r in self.reactions:
            for ref in (*r.reactants, *r.products):
                if ref.species not in species:
                    raise ModelError(
                        f"model '{self.id}': reaction '{r.id}' refers to unknown species '{ref.species}'"
                    )
            for m in r.modifiers:
                if m not in species:
                    raise ModelError(
                        f"model '{self.id}': reaction '{r.id}' has unknown modifier '{m}'"
                    )
        known = set(ids) | {"time", "avogadro"}
        funcs = {f.id for f in self.functions}
        for f in self.functions:
            extra = free_names(f.body) - set(f.args) - known
            if extra:
                raise ModelError(
                    f"model '{self.id}': function '{f.id}' uses unknown names {sorted(extra)}"
                )
        for where, expr in self.expressions():
            unknown = free_names(expr) - known
            if unknown:
                raise ModelError(
                    f"model '{self.id}': '{where}' uses unknown symbol(s) {sorted(unknown)}"
                )
            badf = function_names(expr) - funcs - {"rateOf", "delay"} - DISTRIBUTIONS
            if badf:
                raise ModelError(
                    f"model '{self.id}': '{where}' calls unknown function(s) {sorted(badf)}"
                )
        assignable = {
            k
            for k, v in ids.items()
            if v in ("compartment", "species", "parameter", "species_reference")
        }
        seen: dict[str, str] = {}
        for kind, targets in (
            ("assignment rule", [a.variable for a in self.assignment_rules]),
            ("rate rule", [r.variable for r in self.rate_rules]),
        ):
            for t in targets:
                if t not in assignable:
                    raise ModelError(
                        f"model '{self.id}': {kind} targets unknown or non-assignable id '{t}'"
                    )
                if t in seen:
                    raise ModelError(
                        f"model '{self.id}': '{t}' is the target of more than one rule"
                    )
                seen[t] = kind
        for ia in self.initial_assignments:
            if ia.variable not in assignable:
                raise ModelError(
                    f"model '{self.id}': initial assignment targets unknown id '{ia.variable}'"
                )
        for e in self.events:
            for ea in e.assignments:
                if ea.variable not in assignable:
                    raise ModelError(
                        f"model '{self.id}': event '{e.id}' assigns unknown id '{ea.variable}'"
                    )
        for o in self.observables:
            if isinstance(o.noise.sigma, str) and o.noise.sigma not in ids:
                raise ModelError(
                    f"model '{self.id}': observable '{o.id}' has unknown sigma parameter '{o.noise.sigma}'"
                )
        for p in self.parameters:
            if p.lower is not None and p.upper is not None and p.lower > p.upper:
                raise ModelError(
                    f"model '{self.id}': parameter '{p.id}' has lower bound > upper bound"
                )

    # ------------------------------------------------------------------ identity
    def to_canonical(self) -> dict[str, Any]:
        """A JSON-able canonical form of the whole spec."""
        out: dict[str, Any] = _canon(self)
        return out

    def hash(self) -> str:
        """Stable sha256 content hash (hex) of the specification (computed once, then memoised)."""
        cached: str | None = self.__dict__.get("_hash")
        if cached is None:
            blob = json.dumps(self.to_canonical(), sort_keys=True, separators=(",", ":"))
            cached = hashlib.sha256(blob.encode()).hexdigest()
            object.__setattr__(self, "_hash", cached)
        return cached

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_parameters(self, values: Mapping[str, float]) -> ModelSpec:
        """A copy with new nominal values for the named parameters."""
        known = {p.id for p in self.parameters}
        unknown = set(values) - known
        if unknown:
            raise ModelError(f"model '{self.id}': unknown parameter(s) {sorted(unknown)}")
        params = tuple(
            dataclasses.replace(p, value=float(values[p.id])) if p.id in values else p
            for p in self.parameters
        )
        return self.replace(parameters=params)

    def __repr__(self) -> str:
        return (
            f"ModelSpec(id={self.id!r}, species={len(self.species)}, parameters={len(self.parameters)}, "
            f"reactions={len(self.reactions)}, rules={len(self.assignment_rules) + len(self.rate_rules)}, "
            f"events={len(self.events)}, observables={len(self.observables)})"
        )


def _find(items: tuple[_T, ...], key: str, kind: str, model: str) -> _T:
    for it in items:
        if getattr(it, "id", None) == key:
            return it
    raise ModelError(f"model '{model}': no {kind} with id '{key}'")
