"""``immunetwin models list|show|export``."""

from __future__ import annotations

from pathlib import Path

import libsbml
from typer.testing import CliRunner

from immunetwin.cli import _app

_app._register()
runner = CliRunner()


def test_models_list() -> None:
    res = runner.invoke(_app.app, ["models", "list"])
    assert res.exit_code == 0, res.output
    assert "baccam2006_influenza" in res.output and "kuznetsov1994_tumour" in res.output


def test_models_list_filters() -> None:
    res = runner.invoke(_app.app, ["models", "list", "--disease", "influenza"])
    assert res.exit_code == 0
    assert "baccam2006_influenza" in res.output and "perelson1996_hiv" not in res.output
    res = runner.invoke(_app.app, ["models", "list", "--tag", "vaccine"])
    assert "andraud2012_vaccine" in res.output and "baccam2006_influenza" not in res.output


def test_models_show() -> None:
    res = runner.invoke(_app.app, ["models", "show", "perelson1996_hiv"])
    assert res.exit_code == 0, res.output
    for text in (
        "Equations",
        "Parameters",
        "Observables",
        "Interventions",
        "10.1126/science.271.5255.1582",
        "protease_inhibitor",
        "dVI/dt",
    ):
        assert text in res.output, text


def test_models_show_unknown() -> None:
    res = runner.invoke(_app.app, ["models", "show", "nobody1900_x"])
    assert res.exit_code == 2


def test_models_export_sbml(tmp_path: Path) -> None:
    out = tmp_path / "m.xml"
    res = runner.invoke(
        _app.app,
        ["models", "export", "reynolds2006_inflammation", "--format", "sbml", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    doc = libsbml.readSBMLFromString(out.read_text())
    assert doc.getModel().getId() == "reynolds2006_inflammation"
    assert doc.getModel().getNumCVTerms() >= 3
    res = runner.invoke(_app.app, ["models", "export", "kuznetsov1994_tumour"])
    assert res.exit_code == 0 and res.output.startswith("<?xml")
