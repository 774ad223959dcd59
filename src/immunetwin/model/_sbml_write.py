"""Write a :class:`ModelSpec` as SBML Level 3 Version 2 (see :func:`immunetwin.model.to_sbml`).

The immunetwin annotation is a JSON object in an ``<immunetwin:spec>`` element of the model
annotation. Its keys: ``id``, ``name``, ``notes``, ``metadata``, ``units`` and the model's unit
fields (kept verbatim); ``compartments``, ``species``, ``parameters`` (per id, the fields that
SBML cannot hold: free-text units, bounds, priors, estimation flags, sources, annotations);
``observables`` (id, name, unit, noise kind, sigma, and the expression as MathML);
``stoichiometry_math`` (species references whose stoichiometry is an expression, written as an
assignment rule to the reference's id); and ``floats`` (exact values of doubles that libsbml
writes with only 15 significant digits).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from xml.sax.saxutils import escape

import libsbml
import sympy as sp

from ..errors import ModelError
from ._sbml_math import IMMUNETWIN_NS, MathWriter, float_key
from ._spec import ModelSpec, Parameter

__all__ = ["write_sbml"]

_TERM = r"(?:\((?P<m>[-+0-9.eE]+) \* 10\^(?P<s>-?\d+) \* (?P<k>[A-Za-z_]+)\)|(?P<k2>[A-Za-z_]+))(?:\^(?P<e>[-+0-9.eE]+))?"
_TERM_RE = re.compile(_TERM)


def _check(code: int, what: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise ModelError(
            f"libsbml could not set {what}: {libsbml.OperationReturnValue_toString(code)}"
        )


def _is_sid(text: str | None) -> bool:
    return bool(text) and bool(libsbml.SyntaxChecker.isValidSBMLSId(text))


def _parse_units(text: str) -> list[tuple[int, float, int, float]] | None:
    """(kind, exponent, scale, multiplier) for each term of a unit string, or None if unparsable."""
    out = []
    for term in _split_terms(text):
        m = _TERM_RE.fullmatch(term)
        if not m:
            return None
        kind_name = m.group("k") or m.group("k2")
        kind = libsbml.UnitKind_forName(kind_name)
        if kind == libsbml.UNIT_KIND_INVALID or not libsbml.UnitKind_isValidUnitKindString(
            kind_name, 3, 2
        ):
            return None
        try:
            exp = float(m.group("e")) if m.group("e") else 1.0
            scale = int(m.group("s")) if m.group("s") else 0
            mult = float(m.group("m")) if m.group("m") else 1.0
        except ValueError:
            return None
        out.append((kind, exp, scale, mult))
    return out


def _split_terms(text: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and text.startswith(" * ", i):
            terms.append(cur)
            cur, i = "", i + 3
            continue
        cur += ch
        i += 1
    terms.append(cur)
    return terms


class _Writer:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.floats: dict[str, str] = {}
        self.math = MathWriter(self.note)
        self.doc = libsbml.SBMLDocument(3, 2)
        self.m = self.doc.createModel()
        self.extras: dict[str, Any] = {}
        self.unit_ids: set[str] = set()

    def note(self, value: float) -> None:
        key = float_key(value)
        if float(key) != value:
            self.floats[key] = repr(value)

    def num(self, value: float) -> float:
        if math.isfinite(value):
            self.note(value)
        return value

    def ast(self, expr: sp.Basic, where: str) -> libsbml.ASTNode:
        return self.math.convert(expr, where)

    def unit_ok(self, unit: str | None) -> bool:
        if not unit or not _is_sid(unit):
            return False
        return unit in self.unit_ids or bool(libsbml.UnitKind_isValidUnitKindString(unit, 3, 2))

    # ------------------------------------------------------------------ parts
    def write(self) -> str:
        s, m = self.spec, self.m
        if _is_sid(s.id):
            _check(m.setId(s.id), "the model id")
        if s.name:
            m.setName(s.name)
        self._units()
        for key, setter in (
            ("time_unit", m.setTimeUnits),
            ("substance_unit", m.setSubstanceUnits),
            ("volume_unit", m.setVolumeUnits),
            ("extent_unit", m.setExtentUnits),
        ):
            value = getattr(s, key)
            if self.unit_ok(value):
                setter(value)
        if s.conversion_factor:
            m.setConversionFactor(s.conversion_factor)
        for f in s.functions:
            fd = m.createFunctionDefinition()
            _check(fd.setId(f.id), f"function id '{f.id}'")
            _check(fd.setMath(self.math.lambda_(f.args, f.body, f.id)), f"the math of '{f.id}'")
        comp_x: dict[str, Any] = {}
        for c in s.compartments:
            cc = m.createCompartment()
            _check(cc.setId(c.id), f"compartment id '{c.id}'")
            if c.name:
                cc.setName(c.name)
            if not math.isnan(c.size):
                cc.setSize(self.num(c.size))
            cc.setConstant(c.constant)
            cc.setSpatialDimensions(float(c.spatial_dimensions))
            if self.unit_ok(c.unit):
                cc.setUnits(c.unit)
            elif c.unit:
                comp_x[c.id] = {"unit": c.unit}
        species_x: dict[str, Any] = {}
        for sp_ in s.species:
            ss = m.createSpecies()
            _check(ss.setId(sp_.id), f"species id '{sp_.id}'")
            if sp_.name:
                ss.setName(sp_.name)
            ss.setCompartment(sp_.compartment)
            if sp_.initial is not None:
                if sp_.initial_is_amount:
                    ss.setInitialAmount(self.num(sp_.initial))
                else:
                    ss.setInitialConcentration(self.num(sp_.initial))
            ss.setHasOnlySubstanceUnits(sp_.has_only_substance_units)
            ss.setBoundaryCondition(sp_.boundary)
            ss.setConstant(sp_.constant)
            if sp_.conversion_factor:
                ss.setConversionFactor(sp_.conversion_factor)
            sx: dict[str, Any] = {}
            if self.unit_ok(sp_.unit):
                ss.setSubstanceUnits(sp_.unit)
            elif sp_.unit:
                sx["unit"] = sp_.unit
            if sp_.annotations:
                sx["annotations"] = list(sp_.annotations)
            if sp_.initial is None and sp_.initial_is_amount:
                sx["initial_is_amount"] = True
            if sx:
                species_x[sp_.id] = sx
        par_x = {p.id: px for p in s.parameters if (px := self._parameter(p))}
        self._reactions()
        for a in s.assignment_rules:
            rule = m.createAssignmentRule()
            rule.setVariable(a.variable)
            _check(
                rule.setMath(self.ast(a.expr, a.variable)),
                f"the math of the rule for '{a.variable}'",
            )
        for r in s.rate_rules:
            rule = m.createRateRule()
            rule.setVariable(r.variable)
            _check(
                rule.setMath(self.ast(r.expr, r.variable)),
                f"the math of the rate rule for '{r.variable}'",
            )
        for i, al in enumerate(s.algebraic_rules):
            _check(
                m.createAlgebraicRule().setMath(self.ast(al.expr, f"algebraic_rule[{i}]")),
                "an algebraic rule",
            )
        for ia in s.initial_assignments:
            node = m.createInitialAssignment()
            node.setSymbol(ia.variable)
            _check(
                node.setMath(self.ast(ia.expr, ia.variable)),
                f"the initial assignment of '{ia.variable}'",
            )
        self._events()
        self._annotation(comp_x, species_x, par_x)
        text: str = libsbml.writeSBMLToString(self.doc)
        return text

    def _units(self) -> None:
        for uid, definition in self.spec.units:
            parsed = _parse_units(definition) if _is_sid(uid) else None
            if parsed is None or libsbml.UnitKind_isValidUnitKindString(uid, 3, 2):
                continue
            ud = self.m.createUnitDefinition()
            ud.setId(uid)
            for kind, exp, scale, mult in parsed:
                u = ud.createUnit()
                u.setKind(kind)
                u.setExponent(exp)
                u.setScale(scale)
                u.setMultiplier(mult)
            self.unit_ids.add(uid)

    def _parameter(self, p: Parameter) -> dict[str, Any]:
        pp = self.m.createParameter()
        _check(pp.setId(p.id), f"parameter id '{p.id}'")
        if p.name:
            pp.setName(p.name)
        if not math.isnan(p.value):
            pp.setValue(self.num(p.value))
        pp.setConstant(p.constant)
        px: dict[str, Any] = {}
        if self.unit_ok(p.unit):
            pp.setUnits(p.unit)
        elif p.unit:
            px["unit"] = p.unit
        defaults = Parameter(id=p.id)
        for key in ("lower", "upper", "estimate", "log_scale", "source"):
            if getattr(p, key) != getattr(defaults, key):
                px[key] = getattr(p, key)
        if p.prior is not None:
            px["prior"] = {"kind": p.prior.kind, "a": p.prior.a, "b": p.prior.b}
        return px

    def _reactions(self) -> None:
        stoich_math: list[dict[str, Any]] = []
        taken = set(self.spec.ids())
        for r in self.spec.reactions:
            rr = self.m.createReaction()
            _check(rr.setId(r.id), f"reaction id '{r.id}'")
            if r.name:
                rr.setName(r.name)
            rr.setReversible(r.reversible)
            for side, refs in (("reactants", r.reactants), ("products", r.products)):
                for idx, ref in enumerate(refs):
                    sr = rr.createReactant() if side == "reactants" else rr.createProduct()
                    sr.setSpecies(ref.species)
                    ref_id = ref.id
                    if isinstance(ref.stoichiometry, sp.Basic):
                        if ref_id is None:
                            ref_id = f"{r.id}__{side}_{idx}_stoichiometry"
                            while ref_id in taken:
                                ref_id += "_"
                            taken.add(ref_id)
                        rule = self.m.createAssignmentRule()
                        rule.setVariable(ref_id)
                        _check(
                            rule.setMath(self.ast(ref.stoichiometry, r.id)),
                            f"the stoichiometry in '{r.id}'",
                        )
                        stoich_math.append(
                            {
                                "reaction": r.id,
                                "side": side,
                                "index": idx,
                                "keep_id": ref.id is not None,
                                "constant": ref.constant,
                            }
                        )
                        sr.setConstant(False)
                    else:
                        sr.setStoichiometry(self.num(float(ref.stoichiometry)))
                        sr.setConstant(ref.constant)
                    if ref_id is not None:
                        _check(sr.setId(ref_id), f"species reference id '{ref_id}'")
            for mod in r.modifiers:
                rr.createModifier().setSpecies(mod)
            kl = rr.createKineticLaw()
            _check(kl.setMath(self.ast(r.rate, r.id)), f"the kinetic law of '{r.id}'")
        if stoich_math:
            self.extras["stoichiometry_math"] = stoich_math

    def _events(self) -> None:
        for e in self.spec.events:
            ev = self.m.createEvent()
            _check(ev.setId(e.id), f"event id '{e.id}'")
            if e.name:
                ev.setName(e.name)
            ev.setUseValuesFromTriggerTime(e.use_values_from_trigger_time)
            trig = ev.createTrigger()
            trig.setInitialValue(e.initial_value)
            trig.setPersistent(e.persistent)
            _check(trig.setMath(self.ast(e.trigger, e.id)), f"the trigger of '{e.id}'")
            if e.delay is not None:
                _check(ev.createDelay().setMath(self.ast(e.delay, e.id)), f"the delay of '{e.id}'")
            if e.priority is not None:
                _check(
                    ev.createPriority().setMath(self.ast(e.priority, e.id)),
                    f"the priority of '{e.id}'",
                )
            for a in e.assignments:
                ea = ev.createEventAssignment()
                ea.setVariable(a.variable)
                _check(ea.setMath(self.ast(a.expr, e.id)), f"an assignment of '{e.id}'")

    def _annotation(
        self, comp_x: dict[str, Any], species_x: dict[str, Any], par_x: dict[str, Any]
    ) -> None:
        s, m = self.spec, self.m
        meta = dict(s.metadata)
        metaid = meta.get("sbml:metaid")
        if metaid and libsbml.SyntaxChecker.isValidXMLID(metaid):
            m.setMetaId(metaid)
        foreign = meta.get("sbml:annotation")
        if foreign:
            m.setAnnotation(foreign)
        if s.notes:
            notes = (
                s.notes
                if s.notes.lstrip().startswith("<")
                else (
                    f'<body xmlns="http://www.w3.org/1999/xhtml"><pre>{escape(s.notes)}</pre></body>'
                )
            )
            if m.setNotes(notes) != libsbml.LIBSBML_OPERATION_SUCCESS:
                m.unsetNotes()
        observables = []
        for o in s.observables:
            ast = self.ast(o.expr, o.id)
            mathml = libsbml.writeMathMLWithNamespaceToString(ast, self.doc.getSBMLNamespaces())
            sigma: float | str = o.noise.sigma
            if isinstance(sigma, float):
                self.num(sigma)
            observables.append(
                {
                    "id": o.id,
                    "name": o.name,
                    "unit": o.unit,
                    "noise": o.noise.kind.value,
                    "sigma": sigma,
                    "math": mathml,
                }
            )
        data: dict[str, Any] = {
            "format": 1,
            "id": s.id,
            "name": s.name,
            "notes": s.notes,
            "metadata": [list(kv) for kv in s.metadata],
            "units": [list(kv) for kv in s.units],
            "time_unit": s.time_unit,
            "substance_unit": s.substance_unit,
            "volume_unit": s.volume_unit,
            "extent_unit": s.extent_unit,
            "compartments": comp_x,
            "species": species_x,
            "parameters": par_x,
            "observables": observables,
            **self.extras,
            "floats": self.floats,
        }
        # no '&', '<' or '>' in the text: libsbml does not round-trip entity-like text exactly
        blob = (
            json.dumps(data, sort_keys=True)
            .replace("&", "\\u0026")
            .replace("<", "\\u003c")
            .replace(">", "\\u003e")
        )
        code = m.appendAnnotation(
            f'<immunetwin:spec xmlns:immunetwin="{IMMUNETWIN_NS}">{blob}</immunetwin:spec>'
        )
        _check(code, "the immunetwin annotation")


def write_sbml(spec: ModelSpec) -> str:
    """Implementation of :func:`immunetwin.model.to_sbml`."""
    return _Writer(spec).write()
