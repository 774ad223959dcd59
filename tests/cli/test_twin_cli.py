"""``immunetwin twin ...``, ``report`` and ``validate`` on the command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from immunetwin import datasets
from immunetwin.cli._app import _register, app

runner = CliRunner()
VALIDATE_KE = [
    "validate",
    "forecast",
    "--data",
    str(datasets.path()),
    "--model",
    "ke2022_sarscov2",
    "--analyte",
    "nasal_SARSCoV2",
]
_register()


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "tw"
    data = str(datasets.path())
    r = runner.invoke(
        app,
        [
            "twin",
            "create",
            "--data",
            data,
            "--model",
            "ke2022_sarscov2",
            "--subject",
            "p1",
            "--analyte",
            "nasal_SARSCoV2",
            "--cutoff-day",
            "3",
            "--particles",
            "150",
            "--t0",
            "-11",
            "--out",
            str(d),
        ],
    )
    assert r.exit_code == 0, r.output
    return d


def test_help_everywhere():
    for args in (
        ["twin", "--help"],
        ["twin", "create", "--help"],
        ["twin", "update", "--help"],
        ["twin", "forecast", "--help"],
        ["twin", "what-if", "--help"],
        ["twin", "show", "--help"],
        ["report", "--help"],
        ["validate", "forecast", "--help"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, (args, r.output)


def test_show_forecast_whatif_update_report(twin_dir, tmp_path):
    r = runner.invoke(app, ["twin", "show", str(twin_dir)])
    assert r.exit_code == 0 and "p1" in r.output and "calibrate" in r.output
    r = runner.invoke(
        app,
        ["twin", "forecast", str(twin_dir), "--days", "0:10:11", "--out", str(tmp_path / "f.csv")],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "f.csv").exists()
    r = runner.invoke(
        app, ["twin", "what-if", str(twin_dir), "-s", "none", "-s", "antiviral:4:0.9"]
    )
    assert r.exit_code == 0 and "antiviral day 4" in r.output
    r = runner.invoke(app, ["twin", "update", str(twin_dir), "--data", str(datasets.path())])
    assert r.exit_code == 0 and "assimilated" in r.output, r.output
    r = runner.invoke(app, ["report", str(twin_dir), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    assert 'id="fig-forecast"' in (tmp_path / "r.html").read_text()
    # every save is a version: create, update; restore brings the calibrated one back
    r = runner.invoke(app, ["twin", "history", str(twin_dir)])
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 2, r.output
    assert r.output.splitlines()[-1].startswith("*")
    r = runner.invoke(app, ["twin", "restore", str(twin_dir), "--version", "1"])
    assert r.exit_code == 0 and "as version 3" in r.output, r.output
    r = runner.invoke(app, ["twin", "show", str(twin_dir)])
    assert r.exit_code == 0 and "updates=1)" in r.output, r.output
    r = runner.invoke(app, ["twin", "restore", str(twin_dir), "--version", "9"])
    assert r.exit_code == 2 and "no version 9" in r.output


def test_create_refuses_another_subjects_twin(twin_dir):
    r = runner.invoke(
        app,
        [
            "twin",
            "create",
            "--data",
            str(datasets.path()),
            "--model",
            "ke2022_sarscov2",
            "--subject",
            "p2",
            "--analyte",
            "nasal_SARSCoV2",
            "--cutoff-day",
            "3",
            "--particles",
            "10",
            "--out",
            str(twin_dir),
        ],
    )
    assert r.exit_code == 2 and "subject 'p1'" in r.output and "--force" in r.output, r.output


def test_clear_errors(tmp_path):
    r = runner.invoke(app, ["twin", "show", str(tmp_path)])
    assert r.exit_code == 2 and "not a twin directory" in r.output
    r = runner.invoke(app, [*VALIDATE_KE, "--out", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "exactly one" in r.output
    for extra, expected in (
        (["--fix", "rho=fast"], ["NAME=VALUE"]),
        (["--ct-curve", "steep"], ["SLOPE,INTERCEPT", "generic"]),
    ):
        r = runner.invoke(
            app, [*VALIDATE_KE, "--cutoff-day", "3", *extra, "--out", str(tmp_path / "x.json")]
        )
        assert r.exit_code == 2 and all(e in r.output for e in expected), r.output
    r = runner.invoke(
        app,
        [
            "twin",
            "create",
            "--data",
            str(tmp_path / "none.csv"),
            "--model",
            "ke2022_sarscov2",
            "--subject",
            "p1",
            "--analyte",
            "a",
            "--out",
            str(tmp_path / "t"),
        ],
    )
    assert r.exit_code == 2 and "no such file" in r.output


def test_ct_curve_option_parsing():
    from immunetwin.cli._validate import _curve
    from immunetwin.data import STANDARD_CURVES

    assert _curve("kissler2021") is STANDARD_CURVES["kissler2021"]
    c = _curve("-3.4, 39, 2")
    assert (c.slope, c.intercept, c.log10_factor) == (-3.4, 39.0, 2.0)
    assert STANDARD_CURVES["generic"].efficiency == pytest.approx(1.0)
