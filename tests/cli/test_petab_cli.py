"""``immunetwin petab`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from immunetwin.cli import _app
from immunetwin.cli import app as root

SUITE = Path(__file__).resolve().parents[3] / "shared" / "data" / "petab-test-suite"
CASE = SUITE / "v1.0.0" / "sbml" / "0002" / "_0002.yaml"

_app._register()
runner = CliRunner()


@pytest.fixture(autouse=True)
def _need() -> None:
    if not CASE.exists():
        pytest.skip("shared data not available")


def test_lint_simulate_fit_export(tmp_path: Path) -> None:
    res = runner.invoke(root, ["petab", "lint", str(CASE)])
    assert res.exit_code == 0, res.output
    assert "ok" in res.output
    sim = tmp_path / "sim.tsv"
    res = runner.invoke(root, ["petab", "simulate", str(CASE), "--out", str(sim)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(sim, sep="\t")
    assert {"observableId", "simulationConditionId", "time", "simulation"} <= set(table.columns)
    out = tmp_path / "fit.json"
    res = runner.invoke(
        root, ["petab", "fit", str(CASE), "--starts", "4", "--seed", "1", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    body = json.loads(out.read_text())
    assert {"objective", "nominal_objective", "parameters", "starts", "wall_time_s"} <= set(body)
    assert len(body["starts"]) == 4 and body["objective"] <= body["nominal_objective"] + 1e-6
    # simulate at the fitted parameters (fit.json is accepted as --parameters)
    res = runner.invoke(
        root, ["petab", "simulate", str(CASE), "--out", str(sim), "--parameters", str(out)]
    )
    assert res.exit_code == 0, res.output
    exp = tmp_path / "exp"
    res = runner.invoke(root, ["petab", "export", str(CASE), "--out", str(exp)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(root, ["petab", "lint", str(exp / "problem.yaml")])
    assert res.exit_code == 0, res.output


def test_unsupported_is_one_line(tmp_path: Path) -> None:
    v2 = SUITE / "v2.0.0" / "sbml" / "0001" / "_0001.yaml"
    res = runner.invoke(root, ["petab", "simulate", str(v2), "--out", str(tmp_path / "s.tsv")])
    assert res.exit_code == 2
    assert "unsupported PEtab feature: PEtab format_version" in res.output
    assert "Traceback" not in res.output
