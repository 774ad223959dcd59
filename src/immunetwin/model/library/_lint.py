"""Checks of a model's metadata and parameter table: what a curated library model must carry."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._math import free_names
from .._spec import ModelSpec
from ._metadata import ModelMetadata

__all__ = ["LintIssue", "lint"]

_CURIE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*:[A-Za-z0-9_.\-]+$")
_NAME = re.compile(r"^[a-z]+[0-9]{4}_[a-z0-9_]+$")
_DISEASE_PREFIXES = ("DOID", "MONDO")


@dataclass(frozen=True, slots=True)
class LintIssue:
    """One finding: ``severity`` is ``"error"`` or ``"warning"``; ``where`` names the element."""

    severity: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


def _metadata_issues(meta: ModelMetadata) -> list[LintIssue]:
    out: list[LintIssue] = []

    def err(where: str, msg: str) -> None:
        out.append(LintIssue("error", where, msg))

    if not _NAME.match(meta.name):
        out.append(
            LintIssue(
                "warning", "name", f"'{meta.name}' does not follow <firstauthor><year>_<topic>"
            )
        )
    for fld in ("title", "citation", "version"):
        if not getattr(meta, fld):
            err(fld, "missing")
    if not meta.doi and not meta.pubmed:
        err("citation", "neither a DOI nor a PubMed id")
    if meta.disease.prefix not in _DISEASE_PREFIXES or not _CURIE.match(meta.disease.id):
        err("disease", f"'{meta.disease.id}' is not a DOID or MONDO term")
    if meta.taxon.prefix != "NCBITaxon" or not _CURIE.match(meta.taxon.id):
        err("taxon", f"'{meta.taxon.id}' is not an NCBITaxon term")
    if not meta.authors:
        err("authors", "missing")
    if not meta.licence:
        err("licence", "missing")
    if not meta.tags:
        out.append(LintIssue("warning", "tags", "no tags"))
    for sid, terms in meta.state_terms:
        for t in terms:
            if not _CURIE.match(t.id):
                err(f"state_terms[{sid}]", f"'{t.id}' is not a CURIE")
            if t.qualifier not in ("is", "isVersionOf", "hasPart", "isPartOf", "hasProperty"):
                err(f"state_terms[{sid}]", f"unknown qualifier '{t.qualifier}'")
    return out


def lint(spec: ModelSpec, metadata: ModelMetadata | None) -> list[LintIssue]:
    """Report what a library model lacks.

    Errors: missing metadata (citation with DOI/PubMed, DOID/MONDO disease, NCBITaxon taxon,
    authors, licence, version), parameters without a unit or a source, interventions or
    observables that name unknown ids, unreachable states (states that never change and are
    used nowhere). Warnings: states without ontology terms, parameters without bounds, a name
    not of the form ``<firstauthor><year>_<topic>``.
    """
    out: list[LintIssue] = []
    if metadata is None:
        out.append(LintIssue("error", "metadata", "missing"))
    else:
        out.extend(_metadata_issues(metadata))
        if metadata.name != spec.id:
            out.append(
                LintIssue(
                    "error",
                    "name",
                    f"metadata name '{metadata.name}' differs from spec id '{spec.id}'",
                )
            )
    rule_targets = {r.variable for r in spec.assignment_rules}
    for p in spec.parameters:
        if p.id in rule_targets:
            continue
        if not p.unit:
            out.append(LintIssue("error", f"parameter {p.id}", "no unit"))
        if not p.source:
            out.append(LintIssue("error", f"parameter {p.id}", "no source"))
        if p.constant and (p.lower is None or p.upper is None):
            out.append(LintIssue("warning", f"parameter {p.id}", "no bounds"))
    # unreachable states: never changed by anything and used by nothing
    used: set[str] = set()
    for _where, expr in spec.expressions():
        used |= free_names(expr)
    changed = {r.variable for r in spec.rate_rules} | rule_targets
    for r in spec.reactions:
        changed |= {ref.species for ref in (*r.reactants, *r.products)}
    for e in spec.events:
        changed |= {a.variable for a in e.assignments}
    for s in spec.species:
        if s.id not in changed and s.id not in used:
            out.append(
                LintIssue("error", f"state {s.id}", "unreachable: never changes and is never used")
            )
        elif s.id not in changed and not s.constant and not s.boundary:
            out.append(LintIssue("warning", f"state {s.id}", "never changes (constant?)"))
    if metadata is not None:
        params = {p.id for p in spec.parameters}
        for iv in metadata.interventions:
            for pid in iv.parameters:
                if pid not in params:
                    out.append(
                        LintIssue("error", f"intervention {iv.name}", f"unknown parameter '{pid}'")
                    )
        obs = {o.id for o in spec.observables}
        for oi in metadata.observables:
            if oi.id not in obs:
                out.append(
                    LintIssue(
                        "error", f"observable {oi.id}", "described in metadata but not in the model"
                    )
                )
        for o in spec.observables:
            if o.id not in {oi.id for oi in metadata.observables}:
                out.append(
                    LintIssue(
                        "warning", f"observable {o.id}", "no measurement description in metadata"
                    )
                )
        for s in spec.species:
            if not metadata.terms_for(s.id):
                out.append(LintIssue("warning", f"state {s.id}", "no ontology terms"))
    if not spec.observables:
        out.append(LintIssue("error", "observables", "the model has no observables"))
    return out
