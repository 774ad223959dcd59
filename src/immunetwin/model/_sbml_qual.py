"""SBML-qual (Level 3 ``qual`` package) import and export of :class:`LogicalModelSpec`.

Everything that defines a logical model travels both ways: qualitative species (compartment,
maximum and initial levels, constant flag), transitions (input ids, thresholds, signs and
effects; outputs; function terms with their MathML conditions; the default term), compartments,
the model's notes and the MIRIAM annotations of the model and its species. Layout and render
packages (diagrams only) are dropped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import libsbml

from ..errors import SBMLError, UnsupportedSBMLFeature
from ._logical_expr import QCmp, QConst, QExpr, QLogic, QRef
from ._logical_spec import (
    FunctionTerm,
    LogicalModelSpec,
    QualSpecies,
    Transition,
    TransitionInput,
    TransitionOutput,
)

__all__ = ["from_sbml_qual", "is_sbml_qual", "to_sbml_qual"]

_NS = "https://immunetwin.org/ns/logical/1"
"""Namespace of the annotation that carries the spec's metadata pairs."""

_SIGN = {
    libsbml.INPUT_SIGN_POSITIVE: "positive",
    libsbml.INPUT_SIGN_NEGATIVE: "negative",
    libsbml.INPUT_SIGN_DUAL: "dual",
    libsbml.INPUT_SIGN_UNKNOWN: "unknown",
}
_IN_EFFECT = {
    libsbml.INPUT_TRANSITION_EFFECT_NONE: "none",
    libsbml.INPUT_TRANSITION_EFFECT_CONSUMPTION: "consumption",
}
_OUT_EFFECT = {
    libsbml.OUTPUT_TRANSITION_EFFECT_ASSIGNMENT_LEVEL: "assignmentLevel",
    libsbml.OUTPUT_TRANSITION_EFFECT_PRODUCTION: "production",
}
_AST_CMP = {
    libsbml.AST_RELATIONAL_EQ: "eq",
    libsbml.AST_RELATIONAL_NEQ: "neq",
    libsbml.AST_RELATIONAL_LT: "lt",
    libsbml.AST_RELATIONAL_LEQ: "leq",
    libsbml.AST_RELATIONAL_GT: "gt",
    libsbml.AST_RELATIONAL_GEQ: "geq",
}
_AST_LOGIC = {
    libsbml.AST_LOGICAL_AND: "and",
    libsbml.AST_LOGICAL_OR: "or",
    libsbml.AST_LOGICAL_XOR: "xor",
    libsbml.AST_LOGICAL_NOT: "not",
}


def _load(source: str | os.PathLike[str]) -> tuple[libsbml.SBMLDocument, str]:
    text = os.fspath(source)
    if text.lstrip().startswith("<"):
        return libsbml.readSBMLFromString(text), "<string>"
    path = Path(text)
    if not path.is_file():
        raise SBMLError(f"SBML-qual file not found: {path}", source=str(path))
    return libsbml.readSBMLFromFile(str(path)), str(path)


def is_sbml_qual(source: str | os.PathLike[str]) -> bool:
    """True when ``source`` (a path or SBML text) declares the SBML-qual package."""
    doc, _ = _load(source)
    return doc.getLevel() >= 3 and doc.getPlugin("qual") is not None


def _check(doc: libsbml.SBMLDocument, name: str) -> libsbml.Model:
    errors = []
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        if err.isError() or err.isFatal():
            msg = err.getMessage().strip()
            if "layout" in msg.lower() or "render" in msg.lower():
                continue
            errors.append(f"line {err.getLine()}: [{err.getErrorId()}] {msg}")
    if errors:
        raise SBMLError(
            "libsbml could not read the SBML-qual document", source=name, messages=tuple(errors)
        )
    model = doc.getModel()
    if model is None:
        raise SBMLError("the SBML document has no model", source=name)
    if doc.getPlugin("qual") is None or model.getPlugin("qual") is None:
        raise SBMLError("not an SBML-qual document (no 'qual' package); use from_sbml", source=name)
    if model.getNumReactions() or model.getNumRules() or model.getNumEvents():
        raise UnsupportedSBMLFeature(
            "core reactions, rules or events in an SBML-qual model", model.getId(), source=name
        )
    return model


def _terms(sbase: libsbml.SBase, dropped: list[str]) -> tuple[tuple[str, str], ...]:
    """MIRIAM terms as (qualifier, URI); terms with an unknown qualifier go to ``dropped``.

    libsbml cannot write a term whose qualifier is not in the BioModels lists
    (``bqbiol:unknownQualifier``), so such terms are not kept in the spec; their count is
    recorded in the spec's metadata (``sbml:dropped_unknown_qualifier_terms``).
    """
    out: list[tuple[str, str]] = []
    for i in range(sbase.getNumCVTerms()):
        cv = sbase.getCVTerm(i)
        if cv.getQualifierType() == libsbml.MODEL_QUALIFIER:
            name = libsbml.ModelQualifierType_toString(cv.getModelQualifierType())
            q = f"bqmodel:{name}"
        else:
            name = libsbml.BiolQualifierType_toString(cv.getBiologicalQualifierType())
            q = f"bqbiol:{name}"
        if not name:
            dropped.extend(cv.getResourceURI(j) for j in range(cv.getNumResources()))
            continue
        out.extend((q, cv.getResourceURI(j)) for j in range(cv.getNumResources()))
    return tuple(out)


def _expr(node: libsbml.ASTNode, where: str) -> QExpr:
    t = node.getType()
    if t in _AST_CMP:
        if node.getNumChildren() != 2:
            raise UnsupportedSBMLFeature(f"comparison with {node.getNumChildren()} operands", where)
        left, right = (_expr(node.getChild(i), where) for i in range(2))
        if not isinstance(left, QConst | QRef) or not isinstance(right, QConst | QRef):
            raise UnsupportedSBMLFeature("comparison of non-level operands", where)
        return QCmp(_AST_CMP[t], left, right)
    if t in _AST_LOGIC:
        return QLogic(
            _AST_LOGIC[t],
            tuple(_expr(node.getChild(i), where) for i in range(node.getNumChildren())),
        )
    if t == libsbml.AST_INTEGER:
        return QConst(int(node.getInteger()))
    if t == libsbml.AST_REAL and float(node.getReal()).is_integer():
        return QConst(int(node.getReal()))
    if t == libsbml.AST_NAME:
        return QRef(node.getName())
    if t in (libsbml.AST_CONSTANT_TRUE, libsbml.AST_CONSTANT_FALSE):
        return QConst(int(t == libsbml.AST_CONSTANT_TRUE), boolean=True)
    raise UnsupportedSBMLFeature(
        f"MathML '{libsbml.formulaToL3String(node)}' in a function term", where
    )


def _transition(tr: libsbml.Transition) -> Transition:
    where = tr.getId()
    inputs = tuple(
        TransitionInput(
            species=i.getQualitativeSpecies(),
            id=i.getId(),
            sign=_SIGN.get(i.getSign(), "") if i.isSetSign() else "",
            effect=_IN_EFFECT.get(i.getTransitionEffect(), "none"),
            threshold=i.getThresholdLevel() if i.isSetThresholdLevel() else None,
        )
        for i in tr.getListOfInputs()
    )
    outputs = tuple(
        TransitionOutput(
            species=o.getQualitativeSpecies(),
            id=o.getId(),
            effect=_OUT_EFFECT.get(o.getTransitionEffect(), "unknown"),
            level=o.getOutputLevel() if o.isSetOutputLevel() else None,
        )
        for o in tr.getListOfOutputs()
    )
    terms = []
    default = tr.getDefaultTerm().getResultLevel() if tr.isSetDefaultTerm() else 0
    for ft in tr.getListOfFunctionTerms():
        if not ft.isSetMath():
            raise SBMLError(f"transition '{where}': a function term has no math")
        terms.append(FunctionTerm(result=ft.getResultLevel(), condition=_expr(ft.getMath(), where)))
    return Transition(
        id=where,
        name=tr.getName(),
        inputs=inputs,
        outputs=outputs,
        terms=tuple(terms),
        default=default,
    )


def from_sbml_qual(source: str | os.PathLike[str]) -> LogicalModelSpec:
    """Read an SBML-qual file (path) or document (text) into a :class:`LogicalModelSpec`.

    Raises
    ------
    SBMLError
        The document cannot be read or is not SBML-qual (names the file).
    UnsupportedSBMLFeature
        MathML outside the SBML-qual subset, core reactions/rules/events (names the element).
    """
    doc, name = _load(source)
    model = _check(doc, name)
    qm = model.getPlugin("qual")
    dropped: list[str] = []
    species = tuple(
        QualSpecies(
            id=q.getId(),
            name=q.getName(),
            compartment=q.getCompartment(),
            max_level=q.getMaxLevel() if q.isSetMaxLevel() else None,
            initial_level=q.getInitialLevel() if q.isSetInitialLevel() else None,
            constant=bool(q.getConstant()),
            terms=_terms(q, dropped),
        )
        for q in qm.getListOfQualitativeSpecies()
    )
    model_terms = _terms(model, dropped)
    meta = _read_metadata(model)
    if dropped:
        meta = (*meta, ("sbml:dropped_unknown_qualifier_terms", str(len(dropped))))
    try:
        transitions = tuple(_transition(t) for t in qm.getListOfTransitions())
        return LogicalModelSpec(
            id=model.getId(),
            name=model.getName(),
            species=species,
            transitions=transitions,
            compartments=tuple(c.getId() for c in model.getListOfCompartments()),
            notes=model.getNotesString() if model.isSetNotes() else "",
            terms=model_terms,
            metadata=meta,
        )
    except SBMLError as exc:
        raise type(exc)(str(exc), source=name) from None
    except Exception as exc:
        if type(exc).__module__.startswith("immunetwin"):
            raise SBMLError(str(exc), source=name) from None
        raise


def _read_metadata(model: libsbml.Model) -> tuple[tuple[str, str], ...]:
    ann = model.getAnnotation()
    if ann is None:
        return ()
    for i in range(ann.getNumChildren()):
        child = ann.getChild(i)
        if child.getName() == "logical" and child.getURI() == _NS and child.getNumChildren():
            data = json.loads(child.getChild(0).getCharacters())
            return tuple((str(k), str(v)) for k, v in data["metadata"])
    return ()


# ---------------------------------------------------------------------------------- writing
def _ast(expr: QExpr) -> libsbml.ASTNode:
    if isinstance(expr, QConst):
        if expr.boolean:
            return libsbml.ASTNode(
                libsbml.AST_CONSTANT_TRUE if expr.value else libsbml.AST_CONSTANT_FALSE
            )
        node = libsbml.ASTNode(libsbml.AST_INTEGER)
        node.setValue(int(expr.value))
        return node
    if isinstance(expr, QRef):
        node = libsbml.ASTNode(libsbml.AST_NAME)
        node.setName(expr.name)
        return node
    if isinstance(expr, QCmp):
        node = libsbml.ASTNode(next(k for k, v in _AST_CMP.items() if v == expr.op))
        node.addChild(_ast(expr.left))
        node.addChild(_ast(expr.right))
        return node
    node = libsbml.ASTNode(next(k for k, v in _AST_LOGIC.items() if v == expr.op))
    for a in expr.args:
        node.addChild(_ast(a))
    return node


def _add_terms(sbase: libsbml.SBase, terms: tuple[tuple[str, str], ...], metaid: str) -> None:
    if not terms:
        return
    sbase.setMetaId(metaid)
    for qual, uri in terms:
        kind, _, name = qual.partition(":")
        if kind == "bqmodel":
            cv = libsbml.CVTerm(libsbml.MODEL_QUALIFIER)
            cv.setModelQualifierType(libsbml.ModelQualifierType_fromString(name))
        else:
            cv = libsbml.CVTerm(libsbml.BIOLOGICAL_QUALIFIER)
            cv.setBiologicalQualifierType(libsbml.BiolQualifierType_fromString(name))
        cv.addResource(uri)
        sbase.addCVTerm(cv)


def _write_transition(qm: libsbml.QualModelPlugin, t: Transition) -> None:
    tr = qm.createTransition()
    tr.setId(t.id)
    if t.name:
        tr.setName(t.name)
    for i in t.inputs:
        inp = tr.createInput()
        if i.id:
            inp.setId(i.id)
        inp.setQualitativeSpecies(i.species)
        inp.setTransitionEffect(next(k for k, v in _IN_EFFECT.items() if v == i.effect))
        if i.sign:
            inp.setSign(next(k for k, v in _SIGN.items() if v == i.sign))
        if i.threshold is not None:
            inp.setThresholdLevel(i.threshold)
    for o in t.outputs:
        out = tr.createOutput()
        if o.id:
            out.setId(o.id)
        out.setQualitativeSpecies(o.species)
        out.setTransitionEffect(next(k for k, v in _OUT_EFFECT.items() if v == o.effect))
        if o.level is not None:
            out.setOutputLevel(o.level)
    tr.createDefaultTerm().setResultLevel(t.default)
    for ft in t.terms:
        term = tr.createFunctionTerm()
        term.setResultLevel(ft.result)
        term.setMath(_ast(ft.condition))


def to_sbml_qual(spec: LogicalModelSpec, path: str | os.PathLike[str] | None = None) -> str:
    """SBML L3V1 + qual v1 text of ``spec``; also written (atomically) to ``path`` if given."""
    doc = libsbml.SBMLDocument(libsbml.SBMLNamespaces(3, 1, "qual", 1))
    doc.setPackageRequired("qual", True)
    model = doc.createModel()
    model.setId(spec.id)
    if spec.name:
        model.setName(spec.name)
    if spec.notes:
        model.setNotes(spec.notes)
    _add_terms(model, spec.terms, f"meta_{spec.id}")
    if spec.metadata:
        blob = json.dumps({"metadata": [list(kv) for kv in spec.metadata]}, sort_keys=True)
        blob = blob.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
        model.appendAnnotation(
            f'<immunetwin:logical xmlns:immunetwin="{_NS}">{blob}</immunetwin:logical>'
        )
    for cid in spec.compartments:
        c = model.createCompartment()
        c.setId(cid)
        c.setConstant(True)
    qm = model.getPlugin("qual")
    for s in spec.species:
        q = qm.createQualitativeSpecies()
        q.setId(s.id)
        if s.name:
            q.setName(s.name)
        q.setCompartment(s.compartment)
        q.setConstant(s.constant)
        if s.max_level is not None:
            q.setMaxLevel(s.max_level)
        if s.initial_level is not None:
            q.setInitialLevel(s.initial_level)
        _add_terms(q, s.terms, f"meta_{s.id}")
    for t in spec.transitions:
        _write_transition(qm, t)
    text: str = libsbml.writeSBMLToString(doc)
    if path is not None:
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return text
