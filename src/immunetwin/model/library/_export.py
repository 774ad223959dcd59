"""SBML export of library models with MIRIAM annotations of their metadata."""

from __future__ import annotations

import libsbml

from ...errors import SBMLError
from .._sbml import to_sbml
from .._spec import ModelSpec
from ._metadata import ModelMetadata, Term

__all__ = ["annotate_sbml"]

_BQB = {
    "is": libsbml.BQB_IS,
    "isVersionOf": libsbml.BQB_IS_VERSION_OF,
    "hasPart": libsbml.BQB_HAS_PART,
    "isPartOf": libsbml.BQB_IS_PART_OF,
    "hasProperty": libsbml.BQB_HAS_PROPERTY,
    "isDescribedBy": libsbml.BQB_IS_DESCRIBED_BY,
    "hasTaxon": libsbml.BQB_HAS_TAXON,
}


def _check(code: int, what: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise SBMLError(
            f"export: cannot add {what} ({libsbml.OperationReturnValue_toString(code)})"
        )


def _add(element: libsbml.SBase, qualifier: str, uris: list[str]) -> None:
    if not uris:
        return
    cv = libsbml.CVTerm()
    _check(cv.setQualifierType(libsbml.BIOLOGICAL_QUALIFIER), "a qualifier type")
    _check(cv.setBiologicalQualifierType(_BQB[qualifier]), f"qualifier {qualifier}")
    for uri in uris:
        _check(cv.addResource(uri), f"resource {uri}")
    _check(element.addCVTerm(cv), f"bqbiol:{qualifier} on {element.getId()}")


def _ensure_metaid(element: libsbml.SBase) -> None:
    if not element.isSetMetaId():
        _check(element.setMetaId(f"meta_{element.getId()}"), f"a metaid on {element.getId()}")


def _grouped(terms: tuple[Term, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for t in terms:
        out.setdefault(t.qualifier, []).append(t.uri)
    return out


def annotate_sbml(spec: ModelSpec, meta: ModelMetadata) -> str:
    """``to_sbml(spec)`` with MIRIAM annotations: ``bqbiol:isDescribedBy`` (DOI, PubMed),
    ``bqbiol:hasTaxon`` (host, pathogen), ``bqbiol:isVersionOf`` (disease) on the model, and each
    state's ontology terms on its species."""
    doc = libsbml.readSBMLFromString(to_sbml(spec))
    if doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) + doc.getNumErrors(libsbml.LIBSBML_SEV_FATAL):
        raise SBMLError(f"export: to_sbml produced an invalid document for '{spec.id}'")
    model = doc.getModel()
    _ensure_metaid(model)
    described = []
    if meta.doi:
        described.append(f"http://identifiers.org/doi/{meta.doi}")
    if meta.pubmed:
        described.append(f"http://identifiers.org/pubmed/{meta.pubmed}")
    _add(model, "isDescribedBy", described)
    taxa = [meta.taxon.uri] + ([meta.pathogen.uri] if meta.pathogen is not None else [])
    _add(model, "hasTaxon", taxa)
    _add(model, "isVersionOf", [meta.disease.uri])
    for i in range(model.getNumSpecies()):
        sp = model.getSpecies(i)
        terms = meta.terms_for(sp.getId())
        if not terms:
            continue
        _ensure_metaid(sp)
        for qualifier, uris in _grouped(terms).items():
            _add(sp, qualifier, uris)
    if not model.isSetName() and meta.title:
        model.setName(meta.title)
    xml: str = libsbml.writeSBMLToString(doc)
    return xml
