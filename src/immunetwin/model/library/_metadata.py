"""FAIR metadata of a library model: citation, disease, taxon, ontology terms, interventions."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "EstimateDefault",
    "Intervention",
    "ModelMetadata",
    "ObservableInfo",
    "Term",
    "TwinDefaults",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    """An ontology term: a CURIE (``"DOID:8469"``, ``"CL:0000084"``, ``"NCBITaxon:9606"``) and its label.

    ``qualifier`` is the MIRIAM biology qualifier used when the term is written into SBML:
    ``"is"`` (the element *is* this entity) or ``"isVersionOf"`` (a kind of it).
    """

    id: str
    label: str
    qualifier: str = "is"

    @property
    def prefix(self) -> str:
        """The ontology prefix (``"DOID"``, ``"CL"``, ...)."""
        return self.id.split(":", 1)[0]

    @property
    def uri(self) -> str:
        """The identifiers.org URI of the term."""
        prefix, local = self.id.split(":", 1)
        if prefix == "NCBITaxon":
            return f"http://identifiers.org/taxonomy/{local}"
        return f"http://identifiers.org/{self.id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Intervention:
    """A named, typed input of a model, implemented as model parameters.

    ``kind`` is one of ``"antiviral"``, ``"drug"``, ``"vaccine"``, ``"cell_therapy"``,
    ``"cytokine_blockade"``, ``"immunotherapy"``, ``"antibiotic"``, ``"depletion"``;
    ``parameters`` are the ids of the model parameters that set it (a start time, an efficacy,
    a dose...). The intervention is off at the parameters' default values unless
    ``default_on`` is true.
    """

    name: str
    kind: str
    parameters: tuple[str, ...]
    description: str
    default_on: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservableInfo:
    """How an observable is measured: assay, unit and the meaning of its noise model."""

    id: str
    measurement: str
    noise: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EstimateDefault:
    """A parameter a twin of this model estimates by default, with optional natural-scale bounds
    (``None``: the model's bounds)."""

    id: str
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TwinDefaults:
    """How a digital twin of this model is set up unless the user says otherwise.

    Kept outside the model's equations, so it never changes the model hash.

    Attributes
    ----------
    estimate
        Parameters estimated per person (empty: the model's ``estimate`` flags).
    fixed
        ``(parameter id, value)`` pairs held fixed for every person.
    intervention
        Name or kind of the intervention that what-if searches vary by default.
    note
        Why these defaults (shown in documentation).
    """

    estimate: tuple[EstimateDefault, ...] = ()
    fixed: tuple[tuple[str, float], ...] = ()
    intervention: str = "antiviral"
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelMetadata:
    """Everything a library model says about itself besides its equations.

    Attributes
    ----------
    name
        Stable identifier ``<firstauthor><year>_<topic>``.
    citation, doi, pubmed
        The paper the model and its numbers come from.
    disease, taxon
        Disease (DOID or MONDO term) and host organism (NCBITaxon term).
    state_terms
        Ontology terms (CL cell types, GO processes, ChEBI/PR molecules, NCBITaxon pathogens) per
        state, as ``(state id, terms)`` pairs.
    licence
        Licence of the model content (equations, parameter tables, metadata).
    code_licence
        Licence of the Python code that builds it.
    paper_check
        The published quantity or outcome the library's test reproduces.
    twin
        Per-model defaults of digital twins (estimated and fixed parameters, what-if
        intervention); outside the hashed model.
    """

    name: str
    title: str
    citation: str
    doi: str
    pubmed: str
    disease: Term
    taxon: Term
    tags: tuple[str, ...]
    state_terms: tuple[tuple[str, tuple[Term, ...]], ...]
    authors: tuple[str, ...]
    version: str
    interventions: tuple[Intervention, ...] = ()
    observables: tuple[ObservableInfo, ...] = ()
    pathogen: Term | None = None
    licence: str = "CC0-1.0"
    code_licence: str = "BSD-3-Clause"
    time_unit: str = "day"
    paper_check: str = ""
    caveats: str = ""
    extra: tuple[tuple[str, str], ...] = field(default=())
    twin: TwinDefaults = field(default_factory=TwinDefaults)

    def terms_for(self, state: str) -> tuple[Term, ...]:
        """The ontology terms of ``state`` (empty when none)."""
        for sid, terms in self.state_terms:
            if sid == state:
                return terms
        return ()

    @property
    def doi_url(self) -> str:
        """The DOI as a resolvable URL."""
        return f"https://doi.org/{self.doi}" if self.doi else ""
