"""Every CLI error is one line on stderr with a non-zero exit; ``--debug`` shows the traceback.

The handler is tested on a small app of its own; the real commands are fuzzed with hypothesis
(simulate arguments, dataset files, registry URLs) through typer's CliRunner.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from immunetwin.cli import _app
from immunetwin.cli._app import EXIT_INTERNAL, EXIT_USAGE, _root, _SafeGroup, one_line
from immunetwin.cli._checks import CliError, check_grid, check_plot_path, check_tolerance
from immunetwin.errors import DataError

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
runner = CliRunner()
_app._register()


def _one_line_error(res: object) -> None:
    """Non-zero exit -> exactly one non-empty stderr line and no traceback."""
    exc = getattr(res, "exception", None)
    assert exc is None or isinstance(exc, SystemExit), repr(exc)
    text = res.output + res.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in text
    if res.exit_code != 0:  # type: ignore[attr-defined]
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]  # type: ignore[attr-defined]
        assert len(lines) == 1, res.stderr  # type: ignore[attr-defined]
        assert lines[0].startswith("error: ")


@pytest.fixture()
def mini() -> typer.Typer:
    app = typer.Typer(cls=_SafeGroup, pretty_exceptions_enable=False)
    app.callback()(_root)

    @app.command("boom")
    def boom(kind: str) -> None:
        if kind == "typed":
            raise DataError("two\nlines", file="f.csv", row=3)
        if kind == "os":
            raise FileNotFoundError(2, "No such file or directory", "/x/y")
        raise ValueError("unexpected")

    @app.command("ok")
    def ok() -> None:
        typer.echo("fine")

    return app


def test_handler_turns_errors_into_one_line(mini: typer.Typer) -> None:
    res = runner.invoke(mini, ["boom", "typed"])
    assert res.exit_code == EXIT_USAGE and res.stderr == "error: f.csv [row 3]: two: lines\n"
    res = runner.invoke(mini, ["boom", "os"])
    assert res.exit_code == EXIT_USAGE and res.stderr == "error: /x/y: No such file or directory\n"
    res = runner.invoke(mini, ["boom", "other"])
    assert res.exit_code == EXIT_INTERNAL
    assert res.stderr.startswith("error: internal error (ValueError: unexpected); please report")
    res = runner.invoke(mini, ["boom"])  # a usage error
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert runner.invoke(mini, ["ok"]).stdout == "fine\n"


def test_debug_lets_the_traceback_through(
    mini: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = runner.invoke(mini, ["--debug", "boom", "other"])
    assert isinstance(res.exception, ValueError)
    monkeypatch.setenv("IMMUNETWIN_DEBUG", "1")
    res = runner.invoke(mini, ["boom", "typed"])
    assert isinstance(res.exception, DataError)


def test_one_line() -> None:
    assert one_line(ValueError("a\n\n b\nc\nd")) == "a: b (+2 more lines)"
    assert one_line(ValueError()) == "ValueError"
    assert len(one_line("x" * 1000)) == 400


def test_checks() -> None:
    with pytest.raises(CliError, match="--rtol 0.0: must be > 0"):
        check_tolerance("--rtol", 0.0)
    with pytest.raises(CliError, match="--atol nan: must be a finite number"):
        check_tolerance("--atol", math.nan, upper=math.inf)
    with pytest.raises(CliError, match="--t-end inf"):
        check_grid(0.0, math.inf, 10)
    with pytest.raises(CliError, match="--t-end 1e\\+308: must lie within"):
        check_grid(0.0, 1e308, 10)
    with pytest.raises(CliError, match="--points 0"):
        check_grid(0.0, 1.0, 0)
    with pytest.raises(CliError, match="unsupported plot type '.xyz'"):
        check_plot_path("--plot", Path("x.xyz"))
    check_grid(-1.0, 1.0, 2)


def test_known_tracebacks_of_issue_11_are_one_line(tmp_path: Path) -> None:
    out = str(tmp_path / "x.csv")
    base = ["simulate", "baccam2006_influenza", "--out", out]
    for extra, needle in (
        (["--rtol", "0"], "--rtol"),
        (["--atol", "nan"], "--atol"),
        (["--t-end", "inf"], "--t-end"),
        (["--t-end", "1e308"], "--t-end"),
        (["--plot", "x.xyz"], "--plot"),
        (["--points", "0"], "--points"),
        (["--param", "beta=nan"], "--param"),
    ):
        res = runner.invoke(_app.app, [*base, *extra])
        assert res.exit_code == 2
        _one_line_error(res)
        assert needle in res.stderr


BAD_NUMBER = st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e308", "abc", "", "0x1"])
NUMBER = st.floats(allow_nan=True, allow_infinity=True).map(repr) | BAD_NUMBER


@SETTINGS
@given(
    bad=st.sampled_from(["--rtol", "--atol", "--t-end", "--points", "--plot"]),
    bad_value=BAD_NUMBER,
    others=st.lists(
        st.tuples(st.sampled_from(["--t-start", "--rtol", "--atol", "--param"]), NUMBER),
        max_size=3,
    ),
)
def test_fuzz_simulate_arguments(bad: str, bad_value: str, others: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        args = ["simulate", "baccam2006_influenza", "--out", f"{d}/x.csv"]
        for opt, v in others:
            args += [opt, f"beta={v}" if opt == "--param" else v]
        value = f"{bad_value}.xyz" if bad == "--plot" else bad_value
        args += [bad, "0" if bad == "--points" and bad_value == "1e308" else value]
        res = runner.invoke(_app.app, args)
        assert res.exit_code != 0
        _one_line_error(res)


CSV_CELLS = st.sampled_from(
    ["", "nan", "inf", "-1", "1e308", "x", "copies/mL", "furlongs/fortnight", "left", "none", '"']
) | st.text(max_size=5)


@SETTINGS
@given(
    rows=st.lists(st.lists(CSV_CELLS, min_size=8, max_size=8), max_size=4),
    command=st.sampled_from(["lint", "summary"]),
)
def test_fuzz_dataset_files(rows: list[list[str]], command: str) -> None:
    header = "subject,time,analyte,specimen,value,unit,censoring,limit"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.csv"
        path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n")
        _one_line_error(runner.invoke(_app.app, ["data", command, str(path)]))


@SETTINGS
@given(
    scheme=st.sampled_from(
        [
            "sqlite:///",
            "postgresql://u@127.0.0.1:1/",
            "mysql://u@127.0.0.1:1/",
            "nosuch://",
            "",
            "::",
        ]
    ),
    rest=st.text(st.characters(categories=("L", "N", "P")), max_size=12),
    sub=st.sampled_from([["list"], ["verify"], ["show", "abc"]]),
)
def test_fuzz_registry_urls(scheme: str, rest: str, sub: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        url = f"{scheme}{d}/{rest}" if scheme == "sqlite:///" else f"{scheme}{rest}"
        res = runner.invoke(_app.app, ["store", *sub, "--db", url])
        _one_line_error(res)


def test_backend_runtime_error_names_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import immunetwin.simulate as sim

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("CVODE Error: CV_TOO_MUCH_WORK\nat t = 3")

    monkeypatch.setattr(sim, "simulate", broken)
    args = ["simulate", "baccam2006_influenza", "--out", str(tmp_path / "x.csv")]
    res = runner.invoke(_app.app, [*args, "--backend", "roadrunner"])
    assert res.exit_code == 2
    _one_line_error(res)
    assert "backend 'roadrunner': CVODE Error: CV_TOO_MUCH_WORK: at t = 3" in res.stderr
