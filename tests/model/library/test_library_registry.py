"""The library registry, lint, metadata, SBML export with MIRIAM annotations and model cards."""

from __future__ import annotations

import dataclasses

import libsbml
import numpy as np
import pytest

from immunetwin.errors import ModelError
from immunetwin.model import ModelBuilder, library
from immunetwin.model.library import Intervention, ModelMetadata, Registry, Term
from immunetwin.simulate import SolverOptions, simulate

NAMES = library.names()
OPTS = SolverOptions(rtol=1e-9, atol=1e-12)


def test_at_least_twelve_models_with_required_topics() -> None:
    assert len(NAMES) >= 12
    for name in (
        "baccam2006_influenza",
        "perelson1996_hiv",
        "neumann1998_hcv",
        "reynolds2006_inflammation",
        "kuznetsov1994_tumour",
    ):
        assert name in NAMES
    tags = {t for m in library.list() for t in m.tags}
    for topic in (
        "influenza",
        "interferon",
        "sars-cov-2",
        "hiv",
        "ctl",
        "sepsis",
        "vaccine",
        "memory",
        "tumour",
        "car-t",
    ):
        assert topic in tags, topic


def test_list_filters() -> None:
    flu = library.list(disease="influenza")
    assert {m.name for m in flu} >= {"baccam2006_influenza", "pawelek2012_influenza"}
    assert [m.name for m in library.list(disease="DOID:1883")] == ["neumann1998_hcv"]
    assert all("vaccine" in m.tags for m in library.list(tag="vaccine"))
    assert library.list(tag="no-such-tag") == []


@pytest.mark.parametrize("name", NAMES)
def test_model_is_complete_and_lint_clean(name: str) -> None:
    spec = library.get(name)
    meta = library.card(name)
    assert spec.id == name
    errors = [str(i) for i in library.lint(spec, meta) if i.severity == "error"]
    assert errors == []
    assert meta.disease.prefix in ("DOID", "MONDO") and meta.taxon.prefix == "NCBITaxon"
    assert meta.doi and meta.pubmed and meta.version and meta.authors and meta.paper_check
    assert spec.observables
    params = {p.id for p in spec.parameters}
    for iv in meta.interventions:
        assert set(iv.parameters) <= params
    for p in spec.parameters:
        assert p.unit and p.source, p.id


@pytest.mark.parametrize("name", NAMES)
def test_sbml_export_validates_and_matches_roadrunner(name: str) -> None:
    xml = library.export_sbml(name)
    doc = libsbml.readSBMLFromString(xml)
    doc.checkConsistency()
    errors = [
        doc.getError(i).getMessage()
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    assert errors == []
    model = doc.getModel()
    meta = library.card(name)
    resources = {
        model.getCVTerm(i).getResourceURI(j)
        for i in range(model.getNumCVTerms())
        for j in range(model.getCVTerm(i).getNumResources())
    }
    assert f"http://identifiers.org/doi/{meta.doi}" in resources
    assert f"http://identifiers.org/pubmed/{meta.pubmed}" in resources
    assert meta.taxon.uri in resources and meta.disease.uri in resources
    annotated = [
        model.getSpecies(i)
        for i in range(model.getNumSpecies())
        if model.getSpecies(i).getNumCVTerms()
    ]
    assert annotated
    # libRoadRunner on the spec (via SBML) matches the compiled backend
    spec = library.get(name)
    t_end = 200.0 if meta.time_unit == "hour" else 30.0
    t = np.linspace(0.0, t_end, 41)
    a = simulate(spec, t, options=OPTS)
    b = simulate(spec, t, backend="roadrunner", options=OPTS)
    for s in spec.species:
        x, y = a[s.id], b[s.id]
        floor = 1e-7 * (np.max(np.abs(x)) + 1e-300)
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=floor, err_msg=f"{name}:{s.id}")


def _tiny() -> tuple[object, ModelMetadata]:
    b = ModelBuilder("lab2024_decay")
    b.parameter("k", 0.5, unit="1/d", lower=0.01, upper=5.0, source="our lab, 2024")
    b.parameter("unused_state_rate", 1.0, unit="1/d")
    b.state("X", 1.0, "-k*X", unit="cells")
    b.state("Y", 0.0, "0")
    b.species("Z", 1.0)
    b.observable("x_obs", "X", noise="lognormal", sigma=0.1)
    meta = ModelMetadata(
        name="lab2024_decay",
        title="decay",
        citation="Lab 2024",
        doi="10.0000/x",
        pubmed="",
        disease=Term(id="DOID:934", label="viral infectious disease"),
        taxon=Term(id="NCBITaxon:9606", label="human"),
        tags=("test",),
        state_terms=(("X", (Term(id="CL:0000084", label="T cell"),)),),
        authors=("A",),
        version="0.1",
        interventions=(Intervention(name="x", kind="drug", parameters=("nope",), description=""),),
    )
    return b.build(), meta


def test_register_and_lint_external_model() -> None:
    spec, meta = _tiny()
    reg = Registry()
    reg.register(spec, meta)  # type: ignore[arg-type]
    assert "lab2024_decay" in reg.names()
    assert reg.spec("lab2024_decay") is spec
    with pytest.raises(ModelError):
        reg.register(spec, meta)  # type: ignore[arg-type]
    issues = library.lint(spec, meta)  # type: ignore[arg-type]
    text = "\n".join(map(str, issues))
    assert "parameter unused_state_rate: no source" in text
    assert "state Z: unreachable" in text
    assert "intervention x: unknown parameter 'nope'" in text
    bad = dataclasses.replace(
        meta, disease=Term(id="HP:0001", label="x"), taxon=Term(id="9606", label="x"), authors=()
    )
    text = "\n".join(map(str, library.lint(spec, bad)))  # type: ignore[arg-type]
    assert "disease" in text and "taxon" in text and "authors: missing" in text
    assert any(i.where == "metadata" for i in library.lint(spec, None))  # type: ignore[arg-type]
    reg.unregister("lab2024_decay")
    assert "lab2024_decay" not in reg.names()
    with pytest.raises(ModelError):
        reg.unregister("baccam2006_influenza")


def test_get_unknown_model() -> None:
    with pytest.raises(ModelError, match="no model named"):
        library.get("nobody1900_nothing")


@pytest.mark.parametrize("name", NAMES)
def test_render_card(name: str) -> None:
    md = library.render_card(name)
    meta = library.card(name)
    assert md.startswith(f"# `{name}`")
    for text in ("## Equations", "## Parameters", "## Observables", "## Interventions", meta.doi):
        assert text in md
    for p in library.get(name).parameters:
        assert f"`{p.id}`" in md


def test_write_cards(tmp_path: object) -> None:
    from pathlib import Path

    from immunetwin.model.library._cards import main

    out = Path(str(tmp_path))
    assert main([str(out)]) == 0
    assert (out / "index.md").exists()
    assert {p.stem for p in out.glob("*.md")} >= set(NAMES)
