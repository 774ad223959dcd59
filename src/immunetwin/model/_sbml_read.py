"""Read SBML (Level 1 to 3 core) into a :class:`ModelSpec` (see :func:`immunetwin.model.from_sbml`)."""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import libsbml
import sympy as sp

from ..errors import SBMLError, UnsupportedSBMLFeature
from ._sbml_math import IMMUNETWIN_NS, RESERVED_IDS, MathReader, restore_float
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

__all__ = ["read_sbml", "unit_definition_string"]


_SID_TYPES = frozenset(
    {
        libsbml.SBML_COMPARTMENT,
        libsbml.SBML_SPECIES,
        libsbml.SBML_PARAMETER,
        libsbml.SBML_REACTION,
        libsbml.SBML_SPECIES_REFERENCE,
        libsbml.SBML_FUNCTION_DEFINITION,
        libsbml.SBML_EVENT,
    }
)
"""Elements whose ids live in the model's namespace of math symbols."""


def _load(source: str | os.PathLike[str]) -> tuple[libsbml.SBMLDocument, str]:
    text = os.fspath(source)
    if text.lstrip().startswith("<"):
        return libsbml.readSBMLFromString(text), "<string>"
    path = Path(text)
    if not path.is_file():
        raise SBMLError(f"SBML file not found: {path}", source=str(path))
    return libsbml.readSBMLFromFile(str(path)), str(path)


def _check_document(doc: libsbml.SBMLDocument, name: str) -> None:
    errors = []
    graphics = _graphics_packages(doc)
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        if any(f"Package {g} " in err.getMessage() for g in graphics):
            continue  # a malformed diagram does not change the model
        if err.isError() or err.isFatal():
            errors.append(
                f"line {err.getLine()}: [{err.getCategoryAsString()} {err.getErrorId()}] {err.getMessage().strip()}"
            )
    packages = sorted(
        {doc.getPlugin(i).getPackageName() for i in range(doc.getNumPlugins())}
        - {"l3v2extendedmath", "distrib"}  # distrib: draws in math (see _distrib.py)
        - set(_graphics_packages(doc))
        if doc.getLevel() >= 3
        else set()
    )
    unknown = [doc.getUnknownPackageURI(i) for i in range(doc.getNumUnknownPackages())]
    if doc.getModel() is not None and "qual" in packages:
        raise UnsupportedSBMLFeature(
            "SBML-qual (a logical model): read it with immunetwin.model.from_sbml_qual",
            doc.getModel().getId() or None,
            source=name,
        )
    if doc.getModel() is not None and (packages or unknown):
        raise UnsupportedSBMLFeature(
            f"SBML package(s) {', '.join(packages + unknown)}",
            doc.getModel().getId() or None,
            source=name,
        )
    if errors:
        raise SBMLError(
            "libsbml could not read the SBML document", source=name, messages=tuple(errors)
        )
    if doc.getModel() is None:
        raise SBMLError("the SBML document has no model", source=name)


_GRAPHICS = frozenset({"layout", "render"})


def _graphics_packages(doc: libsbml.SBMLDocument) -> list[str]:
    """Optional diagram-only packages (layout, render): they do not change the model's meaning.

    Their content is not simulated; their names are kept in the spec's metadata
    (``sbml:ignored_packages``) so the loss is visible.
    """
    if doc.getLevel() < 3:
        return []
    names = {doc.getPlugin(i).getPackageName() for i in range(doc.getNumPlugins())}
    return sorted(n for n in names & _GRAPHICS if not doc.getPackageRequired(n))


def unit_definition_string(ud: libsbml.UnitDefinition) -> str:
    """``"mole * litre^-1"``-style text of a unit definition; scaled units read ``(m * 10^s * kind)``."""
    terms = []
    for i in range(ud.getNumUnits()):
        u = ud.getUnit(i)
        kind = libsbml.UnitKind_toString(u.getKind())
        scale, mult, exp = u.getScale(), u.getMultiplier(), u.getExponentAsDouble()
        base = kind if scale == 0 and mult == 1.0 else f"({_num(mult)} * 10^{scale} * {kind})"
        terms.append(base if exp == 1.0 else f"{base}^{_num(exp)}")
    return " * ".join(terms) if terms else "dimensionless"


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else repr(x)


def _extras(model: libsbml.Model, name: str) -> dict[str, Any]:
    """The immunetwin annotation (a JSON object), or an empty dict."""
    if not model.isSetAnnotation():
        return {}
    try:
        root = ET.fromstring(model.getAnnotationString())
    except ET.ParseError:
        return {}
    node = root.find(f"{{{IMMUNETWIN_NS}}}spec")
    if node is None or not node.text:
        return {}
    try:
        data = json.loads(node.text)
    except json.JSONDecodeError as exc:
        raise SBMLError(f"malformed immunetwin annotation: {exc}", source=name) from exc
    return data if isinstance(data, dict) else {}


def _foreign_annotation(model: libsbml.Model) -> str:
    """The model annotation without the immunetwin part."""
    if not model.isSetAnnotation():
        return ""
    ann = model.getAnnotation().clone()
    for i in reversed(range(ann.getNumChildren())):
        if ann.getChild(i).getURI() == IMMUNETWIN_NS:
            ann.removeChild(i)
    if ann.getNumChildren() == 0:
        return ""
    text: str = ann.toXMLString()
    return text


def _cv_resources(sbase: libsbml.SBase) -> tuple[str, ...]:
    out: list[str] = []
    terms = sbase.getCVTerms()
    if terms is None:
        return ()
    for term in terms:
        res = term.getResources()
        out.extend(res.getValue(j) for j in range(res.getLength()))
    return tuple(out)


class _Reader:
    def __init__(self, model: libsbml.Model, level: int, version: int, name: str) -> None:
        self.m = model
        self.level = level
        self.version = version
        self.name = name
        self.extras = _extras(model, name)
        self.fixes: dict[str, str] = dict(self.extras.get("floats", {}))
        self.math = MathReader(self.fixes, source=name)

    def num(self, value: float) -> float:
        return restore_float(float(value), self.fixes)

    def expr(self, node: libsbml.ASTNode | None, element: str) -> sp.Basic:
        return self.math.convert(node, element)

    # ------------------------------------------------------------------ parts
    def read(self) -> ModelSpec:
        m = self.m
        self._check_ids()
        targets = self._targets()
        functions = tuple(
            self._function(m.getFunctionDefinition(i)) for i in range(m.getNumFunctionDefinitions())
        )
        compartments = tuple(
            self._compartment(m.getCompartment(i), targets) for i in range(m.getNumCompartments())
        )
        species = tuple(self._species(m.getSpecies(i)) for i in range(m.getNumSpecies()))
        parameters = [self._parameter(m.getParameter(i)) for i in range(m.getNumParameters())]
        taken = {x.getId() for x in m.getListOfAllElements() if x.isSetId()}
        reactions = tuple(
            self._reaction(m.getReaction(i), parameters, taken) for i in range(m.getNumReactions())
        )
        assignment: list[AssignmentRule] = []
        rate: list[RateRule] = []
        algebraic: list[AlgebraicRule] = []
        for i in range(m.getNumRules()):
            r = m.getRule(i)
            if r.isAlgebraic():
                algebraic.append(
                    AlgebraicRule(expr=self.expr(r.getMath(), f"algebraic_rule[{len(algebraic)}]"))
                )
            elif r.isAssignment():
                assignment.append(
                    AssignmentRule(
                        variable=r.getVariable(), expr=self.expr(r.getMath(), r.getVariable())
                    )
                )
            elif r.isRate():
                rate.append(
                    RateRule(variable=r.getVariable(), expr=self.expr(r.getMath(), r.getVariable()))
                )
            else:  # pragma: no cover - libsbml knows no other rule
                raise UnsupportedSBMLFeature(
                    f"rule type {r.getElementName()}", r.getVariable() or None, source=self.name
                )
        initials = tuple(
            InitialAssignment(variable=ia.getSymbol(), expr=self.expr(ia.getMath(), ia.getSymbol()))
            for ia in (m.getInitialAssignment(i) for i in range(m.getNumInitialAssignments()))
        )
        events = self._events(taken)
        meta = self._metadata()
        spec_fields: dict[str, Any] = {
            "id": m.getId() or m.getName() or "model",
            "name": m.getName(),
            "compartments": compartments,
            "species": species,
            "parameters": tuple(parameters),
            "reactions": reactions,
            "assignment_rules": tuple(assignment),
            "rate_rules": tuple(rate),
            "algebraic_rules": tuple(algebraic),
            "initial_assignments": initials,
            "functions": functions,
            "events": events,
            "conversion_factor": m.getConversionFactor() or None if self.level >= 3 else None,
            "units": tuple(
                (ud.getId(), unit_definition_string(ud))
                for ud in (m.getUnitDefinition(i) for i in range(m.getNumUnitDefinitions()))
            ),
            "notes": m.getNotesString() if m.isSetNotes() else "",
            "metadata": meta,
        }
        if self.level >= 3:
            for key, attr in (
                ("time_unit", "TimeUnits"),
                ("substance_unit", "SubstanceUnits"),
                ("volume_unit", "VolumeUnits"),
                ("extent_unit", "ExtentUnits"),
            ):
                spec_fields[key] = getattr(m, f"get{attr}")() or None
        self._apply_extras(spec_fields)
        return ModelSpec(**spec_fields)

    def _check_ids(self) -> None:
        for el in self.m.getListOfAllElements():
            if el.getTypeCode() in _SID_TYPES and el.isSetId() and el.getId() in RESERVED_IDS:
                raise UnsupportedSBMLFeature(
                    f"id '{el.getId()}' that clashes with a reserved symbol",
                    el.getId(),
                    source=self.name,
                )

    def _targets(self) -> set[str]:
        out = {
            self.m.getInitialAssignment(i).getSymbol()
            for i in range(self.m.getNumInitialAssignments())
        }
        out |= {
            self.m.getRule(i).getVariable()
            for i in range(self.m.getNumRules())
            if not self.m.getRule(i).isAlgebraic()
        }
        return out

    def _function(self, fd: libsbml.FunctionDefinition) -> FunctionDefinition:
        args = tuple(fd.getArgument(i).getName() for i in range(fd.getNumArguments()))
        if not fd.isSetMath() or fd.getBody() is None:
            raise UnsupportedSBMLFeature(
                "function definition without a body", fd.getId(), source=self.name
            )
        return FunctionDefinition(
            id=fd.getId(), args=args, body=self.expr(fd.getBody(), fd.getId())
        )

    def _compartment(self, c: libsbml.Compartment, targets: set[str]) -> Compartment:
        if c.isSetSize():
            size = self.num(c.getSize())
        else:
            size = math.nan if c.getId() in targets else 1.0
        dims = (
            c.getSpatialDimensionsAsDouble()
            if (self.level < 3 or c.isSetSpatialDimensions())
            else 3.0
        )
        return Compartment(
            id=c.getId(),
            size=size,
            constant=bool(c.getConstant()),
            spatial_dimensions=float(dims),
            unit=c.getUnits() or None,
            name=c.getName(),
        )

    def _species(self, s: libsbml.Species) -> Species:
        if s.isSetInitialAmount():
            initial: float | None = self.num(s.getInitialAmount())
            is_amount = True
        elif s.isSetInitialConcentration():
            initial, is_amount = self.num(s.getInitialConcentration()), False
        else:
            initial, is_amount = None, False
        conv = s.getConversionFactor() or None if self.level >= 3 else None
        unit = s.getSubstanceUnits() or None
        return Species(
            id=s.getId(),
            compartment=s.getCompartment(),
            initial=initial,
            initial_is_amount=is_amount,
            has_only_substance_units=bool(s.getHasOnlySubstanceUnits()),
            boundary=bool(s.getBoundaryCondition()),
            constant=bool(s.getConstant()),
            unit=unit,
            conversion_factor=conv,
            name=s.getName(),
            annotations=_cv_resources(s),
        )

    def _parameter(self, p: libsbml.Parameter) -> Parameter:
        value = self.num(p.getValue()) if p.isSetValue() else math.nan
        return Parameter(
            id=p.getId(),
            value=value,
            constant=bool(p.getConstant()),
            unit=p.getUnits() or None,
            name=p.getName(),
        )

    def _reaction(
        self, r: libsbml.Reaction, parameters: list[Parameter], taken: set[str]
    ) -> Reaction:
        rid = r.getId()
        if r.isSetFast() and r.getFast():
            raise UnsupportedSBMLFeature("fast reaction", rid, source=self.name)
        kl = r.getKineticLaw()
        if kl is None or not kl.isSetMath():
            rate: sp.Basic = sp.Integer(0)
        else:
            local = kl.getListOfLocalParameters() if self.level >= 3 else kl.getListOfParameters()
            renames: dict[str, str] = {}
            for j in range(local.size()):
                lp = local.get(j)
                new = f"{rid}__{lp.getId()}"
                k = 2
                while new in taken:
                    new, k = f"{rid}__{lp.getId()}_{k}", k + 1
                taken.add(new)
                value = self.num(lp.getValue()) if lp.isSetValue() else math.nan
                parameters.append(
                    Parameter(
                        id=new,
                        value=value,
                        constant=True,
                        unit=lp.getUnits() or None,
                        name=lp.getName(),
                    )
                )
                renames[lp.getId()] = new
            rate = self.math.convert(kl.getMath(), rid, renames)
        return Reaction(
            id=rid,
            rate=rate,
            reactants=tuple(self._ref(r.getReactant(j), rid) for j in range(r.getNumReactants())),
            products=tuple(self._ref(r.getProduct(j), rid) for j in range(r.getNumProducts())),
            modifiers=tuple(r.getModifier(j).getSpecies() for j in range(r.getNumModifiers())),
            reversible=bool(r.getReversible()),
            name=r.getName(),
        )

    def _ref(self, sr: libsbml.SpeciesReference, rid: str) -> SpeciesReference:
        ref_id = sr.getId() if sr.isSetId() else None
        if self.level < 3 and sr.isSetStoichiometryMath():
            sm = sr.getStoichiometryMath()
            stoich: float | sp.Basic = self.expr(
                sm.getMath() if sm.isSetMath() else None, ref_id or rid
            )
            return SpeciesReference(
                species=sr.getSpecies(), stoichiometry=stoich, id=ref_id, constant=False
            )
        if self.level < 3 and sr.getDenominator() != 1:
            raise UnsupportedSBMLFeature("stoichiometry denominator", rid, source=self.name)
        value = (
            self.num(sr.getStoichiometry()) if (self.level < 3 or sr.isSetStoichiometry()) else 1.0
        )
        constant = bool(sr.getConstant()) if self.level >= 3 else True
        return SpeciesReference(
            species=sr.getSpecies(), stoichiometry=value, id=ref_id, constant=constant
        )

    def _events(self, taken: set[str]) -> tuple[Event, ...]:
        out = []
        for i in range(self.m.getNumEvents()):
            ev = self.m.getEvent(i)
            eid = ev.getId() if ev.isSetId() else ""
            if not eid:
                eid, k = f"event_{i}", 1
                while eid in taken:
                    eid, k = f"event_{i}_{k}", k + 1
                taken.add(eid)
            trig = ev.getTrigger()
            if trig is None:
                raise UnsupportedSBMLFeature("event without a trigger", eid, source=self.name)
            l3 = self.level >= 3
            delay = self.expr(ev.getDelay().getMath(), eid) if ev.isSetDelay() else None
            priority = (
                self.expr(ev.getPriority().getMath(), eid) if l3 and ev.isSetPriority() else None
            )
            uvftt = (
                bool(ev.getUseValuesFromTriggerTime())
                if (self.level, self.version) >= (2, 4)
                else True
            )
            assignments = tuple(
                EventAssignment(variable=ea.getVariable(), expr=self.expr(ea.getMath(), eid))
                for ea in (ev.getEventAssignment(j) for j in range(ev.getNumEventAssignments()))
            )
            out.append(
                Event(
                    id=eid,
                    trigger=self.expr(trig.getMath(), eid),
                    assignments=assignments,
                    delay=delay,
                    priority=priority,
                    persistent=bool(trig.getPersistent()) if l3 else True,
                    initial_value=bool(trig.getInitialValue()) if l3 else True,
                    use_values_from_trigger_time=uvftt,
                    name=ev.getName(),
                )
            )
        return tuple(out)

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        m = self.m
        meta = [("sbml:level", str(self.level)), ("sbml:version", str(self.version))]
        if m.isSetMetaId():
            meta.append(("sbml:metaid", m.getMetaId()))
        ann = _foreign_annotation(m)
        if ann:
            meta.append(("sbml:annotation", ann))
        resources = _cv_resources(m)
        if resources:
            meta.append(("miriam", " ".join(resources)))
        return tuple(meta)

    # ------------------------------------------------------------------ immunetwin annotation
    def _apply_extras(self, f: dict[str, Any]) -> None:
        x = self.extras
        if not x:
            return
        for key in (
            "id",
            "name",
            "notes",
            "time_unit",
            "substance_unit",
            "volume_unit",
            "extent_unit",
        ):
            if key in x:
                f[key] = x[key]
        if "metadata" in x:
            f["metadata"] = tuple((str(k), str(v)) for k, v in x["metadata"])
        if "units" in x:
            f["units"] = tuple((str(k), str(v)) for k, v in x["units"])
        comp_x: dict[str, Any] = x.get("compartments", {})
        f["compartments"] = tuple(
            replace(c, **comp_x[c.id]) if c.id in comp_x else c for c in f["compartments"]
        )
        spec_x: dict[str, Any] = x.get("species", {})
        f["species"] = tuple(
            replace(
                s, **{k: (tuple(v) if k == "annotations" else v) for k, v in spec_x[s.id].items()}
            )
            if s.id in spec_x
            else s
            for s in f["species"]
        )
        par_x: dict[str, Any] = x.get("parameters", {})
        params = []
        for p in f["parameters"]:
            px = dict(par_x.get(p.id, {}))
            if "prior" in px and px["prior"] is not None:
                px["prior"] = Prior(**px["prior"])
            params.append(replace(p, **px) if px else p)
        f["parameters"] = tuple(params)
        self._restore_stoichiometry(f, x.get("stoichiometry_math", []))
        f["observables"] = tuple(self._observable(o) for o in x.get("observables", []))

    def _restore_stoichiometry(self, f: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        rules = {a.variable: a for a in f["assignment_rules"]}
        reactions = {r.id: r for r in f["reactions"]}
        dropped: set[str] = set()
        for e in entries:
            r = reactions[e["reaction"]]
            side = "reactants" if e["side"] == "reactants" else "products"
            refs = list(getattr(r, side))
            ref = refs[e["index"]]
            rule = rules[str(ref.id)]
            dropped.add(rule.variable)
            refs[e["index"]] = replace(
                ref,
                stoichiometry=rule.expr,
                id=ref.id if e["keep_id"] else None,
                constant=bool(e["constant"]),
            )
            reactions[r.id] = replace(r, **{side: tuple(refs)})
        f["reactions"] = tuple(reactions[r.id] for r in f["reactions"])
        f["assignment_rules"] = tuple(a for a in f["assignment_rules"] if a.variable not in dropped)

    def _observable(self, o: dict[str, Any]) -> Observable:
        ast = libsbml.readMathMLFromString(o["math"])
        if ast is None:
            raise SBMLError(
                f"malformed MathML of observable '{o.get('id')}' in the immunetwin annotation",
                source=self.name,
            )
        sigma = o["sigma"]
        return Observable(
            id=o["id"],
            expr=self.expr(ast, o["id"]),
            noise=NoiseModel(
                kind=NoiseKind(o["noise"]), sigma=sigma if isinstance(sigma, str) else float(sigma)
            ),
            unit=o.get("unit"),
            name=o.get("name", ""),
        )


def read_sbml(source: str | os.PathLike[str]) -> ModelSpec:
    """Implementation of :func:`immunetwin.model.from_sbml`."""
    doc, name = _load(source)
    _check_document(doc, name)
    spec = _Reader(doc.getModel(), doc.getLevel(), doc.getVersion(), name).read()
    ignored = _graphics_packages(doc)
    if ignored:
        spec = spec.replace(metadata=(*spec.metadata, ("sbml:ignored_packages", ",".join(ignored))))
    return spec
