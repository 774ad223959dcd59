"""``immunetwin report``: a self-contained HTML report of a twin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ImmunetwinError


def report_cmd(
    twin_dir: Annotated[
        Path, typer.Argument(help="Twin directory (from `immunetwin twin create`).")
    ],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            "-s",
            help="What-if scenarios (repeat); default: none and two antiviral start days.",
        ),
    ] = None,
) -> None:
    """Write the twin's HTML report: data, fit, forecast, what-if, posteriors, diagnostics, provenance."""
    from ..twin import DigitalTwin, Scenario, write_report

    try:
        twin = DigitalTwin.load(twin_dir)
        scs = [Scenario.parse(s) for s in scenario] if scenario else None
        write_report(twin, out, scs)
    except (ImmunetwinError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Attach the ``report`` command."""
    app.command("report", no_args_is_help=True)(report_cmd)
