"""``immunetwin data`` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from immunetwin.cli import _app
from immunetwin.cli import app as root

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
WOELFEL = SHARED / "shedding-hub" / "datasets" / "woelfel2020virological.yaml"

_app._register()
runner = CliRunner()


def _need() -> None:
    if not WOELFEL.exists():
        pytest.skip("shared data not available")


def test_summary_with_plot(tmp_path: Path) -> None:
    _need()
    png = tmp_path / "t.png"
    res = runner.invoke(root, ["data", "summary", str(WOELFEL), "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "subjects      9" in res.output and "censored" in res.output
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_convert_chain(tmp_path: Path) -> None:
    _need()
    for ext in (".csv", ".parquet", ".tsv", ".json"):
        out = tmp_path / f"w{ext}"
        res = runner.invoke(root, ["data", "convert", str(WOELFEL), str(out)])
        assert res.exit_code == 0, res.output
        assert out.exists() and (tmp_path / f"w{ext}.meta.json").exists()
    res = runner.invoke(
        root, ["data", "convert", str(tmp_path / "w.json"), str(tmp_path / "back.csv")]
    )
    assert res.exit_code == 0 and "382 observations" in res.output


def test_lint_exit_codes(tmp_path: Path) -> None:
    _need()
    assert runner.invoke(root, ["data", "lint", str(WOELFEL)]).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "subject,time,analyte,specimen,value,unit,censoring,limit\n1,0,x,,2,bogons/mL,none,\n"
    )
    res = runner.invoke(root, ["data", "lint", str(bad)])
    assert res.exit_code == 1 and "unknown-unit" in res.output


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(root, ["data", "summary", str(tmp_path / "missing.csv")])
    assert res.exit_code == 2
    assert "no such file" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    junk = tmp_path / "junk.yaml"
    junk.write_text("[1, 2")
    assert runner.invoke(root, ["data", "lint", str(junk)]).exit_code == 2
    assert (
        runner.invoke(root, ["data", "convert", str(junk), str(tmp_path / "x.yaml")]).exit_code == 2
    )
