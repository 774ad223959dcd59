"""``immunetwin qual``: fixpoints JSON, simulation outputs, mutants, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from immunetwin.cli._qual import register
from immunetwin.cli._simulate import register as register_simulate
from immunetwin.model import from_sbml_qual

runner = CliRunner()


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    register_simulate(app)
    return app


@pytest.fixture()
def cell_cycle(shared_data: Path) -> Path:
    return (
        shared_data / "sbml-qual-ginsim/2016-mammal-cell-cycle/Traynard_Boolean_MamCC_Apr2016.sbml"
    )


def test_fixpoints_json_and_cap(app, cell_cycle: Path, tmp_path: Path) -> None:
    out = tmp_path / "fp.json"
    r = runner.invoke(app, ["qual", "fixpoints", str(cell_cycle), "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["complete"] is True and len(data["fixpoints"]) == 3
    assert set(data["fixpoints"][0]) == set(from_sbml_qual(cell_cycle).species_ids)
    r = runner.invoke(app, ["qual", "fixpoints", str(cell_cycle), "--out", str(out), "--max", "2"])
    data = json.loads(out.read_text())
    assert r.exit_code == 0 and data["complete"] is False and len(data["fixpoints"]) == 2


def test_fixpoints_of_a_library_model_under_inputs_and_knock_out(app, tmp_path: Path) -> None:
    out = tmp_path / "fp.json"
    args = ["qual", "fixpoints", "mendoza2006_th", "--out", str(out)]
    r = runner.invoke(app, [*args, "-i", "IL12=0", "-i", "IL18=0", "-i", "IFNb=0", "--ko", "GATA3"])
    assert r.exit_code == 0, r.output
    fps = json.loads(out.read_text())["fixpoints"]
    assert all(f["GATA3"] == 0 for f in fps) and len(fps) == 3  # Th0 and the two Th1 states


def test_simulate_modes(app, tmp_path: Path) -> None:
    base = [
        "qual",
        "simulate",
        "klamt2006_tcr",
        "--init",
        "CD8=1",
        "--init",
        "CD45=1",
        "--init",
        "TCRlig=1",
    ]
    r = runner.invoke(
        app,
        [
            *base,
            "--mode",
            "sync",
            "--out",
            str(tmp_path / "s.csv"),
            "--plot",
            str(tmp_path / "s.png"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "cycle" in r.output and (tmp_path / "s.png").stat().st_size > 0
    assert "ZAP70" in pd.read_csv(tmp_path / "s.csv").columns
    r = runner.invoke(
        app,
        [
            *base,
            "--mode",
            "async",
            "--seed",
            "2",
            "--steps",
            "30",
            "--out",
            str(tmp_path / "a.csv"),
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*base, "--mode", "mp", "--out", str(tmp_path / "mp.json")])
    assert r.exit_code == 0, r.output
    att = json.loads((tmp_path / "mp.json").read_text())["attractors"]
    assert len(att) == 1 and att[0]["ZAP70"] is None
    r = runner.invoke(
        app,
        ["qual", "simulate", "mendoza2006_th", "--mode", "stochastic", "--init", "IL12=1",
         "--phenotype", "Th1:GATA3=0,IFNg=1", "--cells", "200", "--out", str(tmp_path / "st.csv")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "st.csv", index_col=0)
    assert df["Th1"].iloc[0] == 0.0 and 0.0 <= df["Th1"].iloc[-1] <= 1.0


def test_mutate_writes_sbml_qual(app, tmp_path: Path) -> None:
    out = tmp_path / "m.sbml"
    r = runner.invoke(app, ["qual", "mutate", "mendoza2006_th", "--ki", "Tbet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    spec = from_sbml_qual(out)
    assert spec.id == "mendoza2006_th_mutant" and spec.transition_of("Tbet").default == 2
    r = runner.invoke(app, ["qual", "mutate", "mendoza2006_th", "--out", str(out)])
    assert r.exit_code == 2 and "nothing to mutate" in r.output


def test_one_line_errors_and_the_ode_simulate_pointer(
    app, cell_cycle: Path, tmp_path: Path
) -> None:
    r = runner.invoke(app, ["qual", "fixpoints", "nope.sbml", "--out", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "not found" in r.output
    r = runner.invoke(
        app,
        ["qual", "simulate", "mendoza2006_th", "--init", "Zz=1", "--out", str(tmp_path / "x.csv")],
    )
    assert r.exit_code == 2 and "no species 'Zz'" in r.output
    r = runner.invoke(app, ["simulate", str(cell_cycle), "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "immunetwin qual simulate" in r.output
