"""A curated library of immune models, each checked against its paper.

>>> from immunetwin.model import library
>>> "baccam2006_influenza" in [c.name for c in library.list(tag="influenza")]
True
>>> spec = library.get("baccam2006_influenza")

Logical (Boolean / multi-valued) models live beside them: :func:`logical_names`,
:func:`get_logical` (a :class:`~immunetwin.model.LogicalModelSpec`) and :func:`logical_card`.

Every model is Python code we own (one module per model, ``build() -> ModelSpec`` and
``METADATA``) with numbers taken from its paper, a parameter table with units, bounds and
sources, observables with noise models, interventions as named inputs and FAIR metadata.
"""

from __future__ import annotations

import builtins

from .._spec import ModelSpec
from ._cards import render as _render
from ._export import annotate_sbml
from ._lint import LintIssue, lint
from ._logical_registry import get_logical, logical_card, logical_names
from ._metadata import (
    EstimateDefault,
    Intervention,
    ModelMetadata,
    ObservableInfo,
    Term,
    TwinDefaults,
)
from ._registry import REGISTRY, Registry

__all__ = [
    "REGISTRY",
    "EstimateDefault",
    "Intervention",
    "LintIssue",
    "ModelMetadata",
    "ObservableInfo",
    "Registry",
    "Term",
    "TwinDefaults",
    "card",
    "export_sbml",
    "get",
    "get_logical",
    "lint",
    "list",
    "logical_card",
    "logical_names",
    "names",
    "register",
    "render_card",
]


def names() -> builtins.list[str]:
    """Names of every registered model, sorted."""
    return REGISTRY.names()


def list(disease: str | None = None, tag: str | None = None) -> builtins.list[ModelMetadata]:  # noqa: A001
    """Metadata of the registered models, optionally filtered.

    ``disease`` matches the disease term id (``"DOID:8469"``) or, case-insensitively, a part of
    its label (``"influenza"``); ``tag`` matches one of the model's tags.
    """
    out = []
    for name in REGISTRY.names():
        meta = REGISTRY.entry(name).metadata
        if disease is not None:
            d = disease.lower()
            if d != meta.disease.id.lower() and d not in meta.disease.label.lower():
                continue
        if tag is not None and tag.lower() not in {t.lower() for t in meta.tags}:
            continue
        out.append(meta)
    return out


def get(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of library model ``name``."""
    return REGISTRY.spec(name)


def card(name: str) -> ModelMetadata:
    """The metadata (model card data) of ``name``."""
    return REGISTRY.entry(name).metadata


def register(
    spec: ModelSpec, metadata: ModelMetadata, *, replace: bool = False
) -> builtins.list[LintIssue]:
    """Add an external model to the library; returns the lint findings (errors do not block)."""
    REGISTRY.register(spec, metadata, replace=replace)
    return lint(spec, metadata)


def render_card(name: str) -> str:
    """The markdown model card of ``name``."""
    return _render(get(name), card(name))


def export_sbml(name: str) -> str:
    """SBML L3V2 of ``name`` with MIRIAM annotations (DOI/PubMed, taxon, disease, state terms)."""
    return annotate_sbml(get(name), card(name))
