"""The frozen :class:`LogicalModelSpec`: a logical (Boolean or multi-valued) regulatory network.

It mirrors SBML-qual: qualitative species with a maximum level, transitions with inputs
(thresholds, signs), outputs and function terms (a result level under a condition) plus a
default term. A species that no transition sets is an *input*: it keeps its level.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelError
from ._logical_expr import QExpr, condition_refs, parse_condition

__all__ = [
    "FunctionTerm",
    "LogicalModelBuilder",
    "LogicalModelSpec",
    "QualSpecies",
    "Transition",
    "TransitionInput",
    "TransitionOutput",
]

SIGNS = ("positive", "negative", "dual", "unknown")


@dataclass(frozen=True, slots=True, kw_only=True)
class QualSpecies:
    """A qualitative species: levels ``0..max_level`` (``max_level`` 1 is Boolean).

    ``max_level`` and ``initial_level`` are ``None`` when the SBML file leaves them unset
    (the maximum then counts as 1). ``terms`` are MIRIAM annotations as (qualifier, URI).
    """

    id: str
    name: str = ""
    compartment: str = ""
    max_level: int | None = 1
    initial_level: int | None = None
    constant: bool = False
    terms: tuple[tuple[str, str], ...] = ()

    @property
    def levels(self) -> int:
        """The number of levels (``max_level + 1``)."""
        return (1 if self.max_level is None else self.max_level) + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionInput:
    """A regulator of a transition; ``threshold`` is the level its id stands for in conditions."""

    species: str
    id: str = ""
    sign: str = "unknown"
    effect: str = "none"
    threshold: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionOutput:
    """The species a transition sets (``effect`` ``"assignmentLevel"``)."""

    species: str
    id: str = ""
    effect: str = "assignmentLevel"
    level: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionTerm:
    """``result`` is the target level when ``condition`` holds."""

    result: int
    condition: QExpr


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """The logical function of one species: the first term whose condition holds, else ``default``."""

    id: str
    inputs: tuple[TransitionInput, ...]
    outputs: tuple[TransitionOutput, ...]
    terms: tuple[FunctionTerm, ...]
    default: int = 0
    name: str = ""

    @property
    def output(self) -> str:
        """The (single) species this transition sets."""
        return self.outputs[0].species


def _canon(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"_": type(obj).__name__} | {
            f.name: _canon(getattr(obj, f.name)) for f in dataclasses.fields(obj)
        }
    if isinstance(obj, tuple | list):
        return [_canon(x) for x in obj]
    return obj


@dataclass(frozen=True, slots=True, kw_only=True)
class LogicalModelSpec:
    """A complete, immutable logical model (the SBML-qual content plus FAIR metadata).

    Attributes
    ----------
    id, name
        Model identifier and title.
    species
        The qualitative species, in a fixed order (the order of state vectors).
    transitions
        One transition per non-input species.
    compartments
        Compartment ids (SBML-qual species live in compartments).
    notes
        Free text (XHTML notes of the SBML file).
    metadata
        Free metadata as (key, value) pairs (citation, DOI, licence...), as in ``ModelSpec``.
    terms
        Model-level MIRIAM annotations as (qualifier, URI).
    """

    id: str
    name: str = ""
    species: tuple[QualSpecies, ...] = ()
    transitions: tuple[Transition, ...] = ()
    compartments: tuple[str, ...] = ()
    notes: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    terms: tuple[tuple[str, str], ...] = ()
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({s.id: i for i, s in enumerate(self.species)})
        self.validate()

    # ------------------------------------------------------------------ lookups
    @property
    def species_ids(self) -> tuple[str, ...]:
        """Species ids in state-vector order."""
        return tuple(s.id for s in self.species)

    @property
    def max_levels(self) -> tuple[int, ...]:
        """Maximum level of each species (state-vector order)."""
        return tuple(s.levels - 1 for s in self.species)

    @property
    def is_boolean(self) -> bool:
        """True when every species is Boolean."""
        return all(m == 1 for m in self.max_levels)

    def index(self, species: str) -> int:
        """Position of ``species`` in state vectors."""
        try:
            return self._index[species]
        except KeyError:
            raise ModelError(f"logical model '{self.id}': no species '{species}'") from None

    def transition_of(self, species: str) -> Transition | None:
        """The transition that sets ``species`` (``None`` for an input)."""
        self.index(species)
        for t in self.transitions:
            if t.output == species:
                return t
        return None

    @property
    def inputs(self) -> tuple[str, ...]:
        """Species that no transition sets: they keep their level."""
        set_ = {t.output for t in self.transitions}
        return tuple(s.id for s in self.species if s.id not in set_)

    def metadata_dict(self) -> dict[str, str]:
        """Metadata as a dict."""
        return dict(self.metadata)

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Check ids, references and levels; raise :class:`ModelError` naming the element."""
        where = f"logical model '{self.id}'"
        if len(self._index) != len(self.species):
            ids = [s.id for s in self.species]
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ModelError(f"{where}: duplicate species id '{dup}'")
        for s in self.species:
            if s.max_level is not None and s.max_level < 1:
                raise ModelError(f"{where}: species '{s.id}' has max level {s.max_level} < 1")
            if s.initial_level is not None and not 0 <= s.initial_level < s.levels:
                raise ModelError(f"{where}: species '{s.id}' initial level out of range")
        outs: set[str] = set()
        tids: set[str] = set()
        for t in self.transitions:
            self._validate_transition(t, outs, tids)

    def _validate_transition(self, t: Transition, outs: set[str], tids: set[str]) -> None:
        where = f"logical model '{self.id}', transition '{t.id}'"
        if t.id in tids:
            raise ModelError(f"{where}: duplicate transition id")
        tids.add(t.id)
        if len(t.outputs) != 1:
            raise ModelError(f"{where}: exactly one output is supported, got {len(t.outputs)}")
        out = t.output
        if out not in self._index:
            raise ModelError(f"{where}: output '{out}' is not a species")
        if out in outs:
            raise ModelError(f"{where}: species '{out}' is set by two transitions")
        outs.add(out)
        if t.outputs[0].effect != "assignmentLevel":
            raise ModelError(f"{where}: output effect '{t.outputs[0].effect}' is not supported")
        names = set()
        for i in t.inputs:
            if i.species not in self._index:
                raise ModelError(f"{where}: input '{i.species}' is not a species")
            if i.sign not in SIGNS:
                raise ModelError(f"{where}: input '{i.species}' has unknown sign '{i.sign}'")
            names.add(i.species)
            if i.id:
                names.add(i.id)
        top = self.species[self._index[out]].levels - 1
        for level in (t.default, *(ft.result for ft in t.terms)):
            if not 0 <= level <= top:
                raise ModelError(f"{where}: result level {level} outside 0..{top} of '{out}'")
        for ft in t.terms:
            for name in condition_refs(ft.condition):
                if name not in names and name not in self._index:
                    raise ModelError(f"{where}: condition uses '{name}', which is not a species")

    # ------------------------------------------------------------------ identity
    def to_canonical(self) -> dict[str, Any]:
        """A JSON-able canonical form of everything that defines the model."""
        out: dict[str, Any] = _canon(self)
        out.pop("_index", None)
        return out

    def hash(self) -> str:
        """Stable sha256 content hash (hex)."""
        blob = json.dumps(self.to_canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def __hash__(self) -> int:
        return hash(self.hash())

    def replace(self, **changes: Any) -> LogicalModelSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def mutate(self, levels: Mapping[str, int]) -> LogicalModelSpec:
        """A mutant: each named species is fixed at its level (0 = knock-out, max = knock-in).

        The species' transition is replaced by a constant one (``<id>_mutant``, no inputs, no
        terms, default = level); an input species gets such a transition too.
        """
        fixed = dict(levels)
        for sid, lvl in fixed.items():
            top = self.species[self.index(sid)].levels - 1
            if not 0 <= int(lvl) <= top:
                raise ModelError(
                    f"logical model '{self.id}': mutant level {lvl} of '{sid}' outside 0..{top}"
                )
        kept = tuple(t for t in self.transitions if t.output not in fixed)
        const = tuple(
            Transition(
                id=f"{sid}_mutant",
                inputs=(),
                outputs=(TransitionOutput(species=sid),),
                terms=(),
                default=int(lvl),
            )
            for sid, lvl in fixed.items()
        )
        return self.replace(transitions=kept + const)

    def __repr__(self) -> str:
        kind = "Boolean" if self.is_boolean else "multi-valued"
        return (
            f"LogicalModelSpec(id={self.id!r}, {kind}, species={len(self.species)}, "
            f"transitions={len(self.transitions)}, inputs={len(self.inputs)})"
        )


class LogicalModelBuilder:
    """Build a :class:`LogicalModelSpec` by explicit calls, then :meth:`build` it.

    >>> b = LogicalModelBuilder("toy")
    >>> b.species("A"); b.species("B", max_level=2)
    >>> b.rule("B", {2: "A", 1: "!A & B"})
    >>> spec = b.build()
    """

    def __init__(self, model_id: str, *, name: str = "") -> None:
        self._id = model_id
        self._name = name
        self._species: dict[str, QualSpecies] = {}
        self._rules: dict[str, tuple[dict[int, str], dict[str, str]]] = {}
        self._metadata: list[tuple[str, str]] = []

    def species(
        self, sid: str, *, max_level: int = 1, name: str = "", initial_level: int | None = None
    ) -> None:
        """Add a species with levels ``0..max_level``."""
        if sid in self._species:
            raise ModelError(f"logical model '{self._id}': duplicate species '{sid}'")
        self._species[sid] = QualSpecies(
            id=sid, name=name, compartment="cell", max_level=max_level, initial_level=initial_level
        )

    def rule(
        self,
        target: str,
        terms: str | Mapping[int, str],
        *,
        signs: Mapping[str, str] | None = None,
    ) -> None:
        """Set the function of ``target``: ``{level: condition}`` (or one condition for level 1).

        Conditions use the text form of :func:`parse_condition`; terms are tried from the
        highest level down; when none holds the level is 0.
        """
        if target not in self._species:
            raise ModelError(f"logical model '{self._id}': rule for unknown species '{target}'")
        if target in self._rules:
            raise ModelError(f"logical model '{self._id}': second rule for '{target}'")
        table = {1: terms} if isinstance(terms, str) else dict(terms)
        self._rules[target] = (table, dict(signs or {}))

    def meta(self, key: str, value: str) -> None:
        """Add a metadata pair."""
        self._metadata.append((key, value))

    def build(self) -> LogicalModelSpec:
        """Freeze the model."""
        transitions = []
        for target, (table, signs) in self._rules.items():
            fts = tuple(
                FunctionTerm(result=lvl, condition=parse_condition(table[lvl]))
                for lvl in sorted(table, reverse=True)
            )
            used: list[str] = []
            for ft in fts:
                used.extend(n for n in condition_refs(ft.condition) if n not in used)
            inputs = tuple(
                TransitionInput(species=n, id=f"tr_{target}_in_{n}", sign=signs.get(n, "unknown"))
                for n in used
            )
            transitions.append(
                Transition(
                    id=f"tr_{target}",
                    inputs=inputs,
                    outputs=(TransitionOutput(species=target, id=f"tr_{target}_out"),),
                    terms=fts,
                    default=0,
                )
            )
        return LogicalModelSpec(
            id=self._id,
            name=self._name,
            species=tuple(self._species.values()),
            transitions=tuple(transitions),
            compartments=("cell",),
            metadata=tuple(self._metadata),
        )
