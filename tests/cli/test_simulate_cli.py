"""``immunetwin simulate``: arguments, outputs and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from immunetwin.cli._simulate import register

BIOMODELS = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "sbml-immune-biomodels" / "models"
)
FLU = BIOMODELS / "BIOMD0000000710.xml"  # Hernandez-Vargas 2012, innate response to influenza

runner = CliRunner()


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture()
def flu() -> Path:
    if not FLU.is_file():
        pytest.skip(f"shared data not available: {FLU}")
    return FLU


def test_help_lists_the_options(app):
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0
    for option in (
        "--t-end",
        "--points",
        "--param",
        "--backend",
        "--out",
        "--plot",
        "--rtol",
        "--atol",
    ):
        assert option in result.output


def test_simulates_a_biomodel_to_csv_and_png(app, flu, tmp_path):
    out, png = tmp_path / "traj.csv", tmp_path / "traj.png"
    args = ["simulate", str(flu), "--t-end", "10", "--points", "21", "--backend", "roadrunner"]
    result = runner.invoke(
        app, [*args, "--param", "k_I=0.004", "--out", str(out), "--plot", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert "traj.csv" in result.output
    df = pd.read_csv(out)
    assert len(df) == 21
    assert df.columns[0] == "time"
    assert {"U_H", "U_I"} <= set(df.columns)
    assert df["time"].iloc[-1] == pytest.approx(10.0)
    assert png.stat().st_size > 1000


def test_compiled_and_roadrunner_agree_on_the_command_line(app, flu, tmp_path):
    for backend in ("compiled", "roadrunner"):
        args = ["simulate", str(flu), "--t-end", "5", "--points", "11", "--backend", backend]
        result = runner.invoke(app, [*args, "--out", str(tmp_path / f"{backend}.csv")])
        assert result.exit_code == 0, result.output
    ours, ref = (pd.read_csv(tmp_path / f"{b}.csv") for b in ("compiled", "roadrunner"))
    assert list(ours.columns) == list(ref.columns)
    pd.testing.assert_frame_equal(ours, ref, rtol=1e-3, atol=1e-3)


def _error(app, args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    return result.output


def test_missing_file_is_one_line_exit_2(app, tmp_path):
    text = _error(app, ["simulate", str(tmp_path / "nope.xml"), "--out", str(tmp_path / "t.csv")])
    assert "not found" in text
    assert len(text.strip().splitlines()) == 1


def test_malformed_sbml_is_one_line_exit_2(app, tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<sbml><model id='x'><listOfSpecies><species")
    text = _error(app, ["simulate", str(bad), "--out", str(tmp_path / "t.csv")])
    assert "error" in text
    assert len(text.strip().splitlines()) == 1
    assert not (tmp_path / "t.csv").exists()


def test_unsupported_feature_is_one_line_exit_2(app, tmp_path):
    model = tmp_path / "algebraic.xml"
    math = 'xmlns="http://www.w3.org/1998/Math/MathML"'
    model.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1"
      level="3" version="2" comp:required="true">
  <model id="m">
    <listOfParameters>
      <parameter id="x" value="1" constant="false"/>
      <parameter id="y" value="1" constant="false"/>
    </listOfParameters>
    <listOfRules>
      <algebraicRule><math {math}><apply><minus/><ci>x</ci><ci>y</ci></apply></math></algebraicRule>
    </listOfRules>
  </model>
</sbml>"""
    )
    text = _error(app, ["simulate", str(model), "--out", str(tmp_path / "t.csv")])
    assert "support" in text.lower()
    assert len(text.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("param", "message"),
    [("k_I", "NAME=VALUE"), ("k_I=abc", "not a number"), ("nope=1", "no parameter 'nope'")],
)
def test_bad_params_are_one_line_exit_2(app, flu, tmp_path, param, message):
    text = _error(app, ["simulate", str(flu), "--param", param, "--out", str(tmp_path / "t.csv")])
    assert message in text
    assert len(text.strip().splitlines()) == 1


def test_python_dash_m_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "immunetwin", "simulate", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "--t-end" in result.stdout
