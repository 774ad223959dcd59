"""``immunetwin data``: lint, convert and summarise datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from immunetwin.errors import DataError

from ._checks import CliError, check_plot_path

data_app = typer.Typer(
    name="data",
    help="Curate immunology data: lint, convert between formats, summarise.",
    no_args_is_help=True,
)


def _fail(exc: Exception) -> typer.Exit:
    from ._app import one_line

    typer.echo(f"error: {one_line(exc)}", err=True)
    return typer.Exit(2)


def _read(path: Path) -> Any:
    from immunetwin.data import read_dataset

    return read_dataset(path)


@data_app.command("lint")
def lint_cmd(
    path: Annotated[
        Path,
        typer.Argument(help="Dataset file (.csv .parquet .tsv .json .yaml) or adapter folder."),
    ],
    max_per_rule: Annotated[int, typer.Option("--max", help="Findings shown per rule.")] = 10,
) -> None:
    """Print the curation lint report; exit 1 if it has errors."""
    from immunetwin.data import lint

    try:
        report = lint(_read(path))
    except DataError as exc:
        raise _fail(exc) from None
    if max_per_rule < 0:
        raise _fail(CliError(f"--max {max_per_rule}: must be 0 or more"))
    typer.echo(report.to_text(max_per_rule=max_per_rule))
    if not report.ok:
        typer.echo(f"error: {path}: {len(report.errors)} lint error(s)", err=True)
        raise typer.Exit(1)


@data_app.command("convert")
def convert_cmd(
    src: Annotated[Path, typer.Argument(help="Input (.csv .parquet .tsv .json .yaml or folder).")],
    dst: Annotated[Path, typer.Argument(help="Output (.csv .parquet .tsv (PEtab) .json (FHIR)).")],
) -> None:
    """Convert a dataset between formats (chosen from the extensions)."""
    from immunetwin.data import write_dataset

    try:
        ds = _read(src)
        out = write_dataset(ds, dst)
    except DataError as exc:
        raise _fail(exc) from None
    s = ds.summary()
    typer.echo(
        f"wrote {out} ({s['subjects']} subjects, {s['observations']} observations, "
        f"{s['skipped']} skipped) and {out.name}.meta.json"
    )


@data_app.command("summary")
def summary_cmd(
    path: Annotated[Path, typer.Argument(help="Dataset file or adapter folder.")],
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG of the trajectories.")
    ] = None,
) -> None:
    """Subjects, analytes, measurements, censored share and time span (optionally a plot)."""
    try:
        if plot is not None:
            check_plot_path("--plot", plot)
        ds = _read(path)
    except (DataError, CliError) as exc:
        raise _fail(exc) from None
    s = ds.summary()
    span = (
        "-" if s["time_min"] is None else f"{s['time_min']:g} .. {s['time_max']:g} {ds.time_unit}s"
    )
    title = str(ds.metadata.get("title", "") or path.name)
    typer.echo(f"{title}")
    typer.echo(f"  subjects      {s['subjects']}")
    typer.echo(
        f"  analytes      {s['analytes']}: {', '.join(ds.analyte_names[:8])}{' ...' if s['analytes'] > 8 else ''}"
    )
    typer.echo(f"  measurements  {s['observations']} ({s['skipped']} skipped)")
    typer.echo(f"  censored      {s['censored']} ({100 * s['censored_share']:.1f} %)")
    typer.echo(f"  time span     {span}")
    typer.echo(f"  interventions {s['interventions']}")
    if plot is not None:
        try:
            _plot(ds, plot)
        except OSError as exc:
            raise _fail(DataError(f"cannot write plot: {exc.strerror}", file=str(plot))) from None
        typer.echo(f"  plot          {plot}")


def _plot(ds: Any, out: Path, max_panels: int = 9) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import math

    import matplotlib.pyplot as plt

    analytes = list(ds.analyte_names[:max_panels])
    n = max(len(analytes), 1)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for ax, analyte in zip(axes.flat, analytes, strict=False):
        by_subject: dict[str, list[Any]] = {}
        for o in ds.observations:
            if o.analyte == analyte:
                by_subject.setdefault(o.subject, []).append(o)
        for obs in list(by_subject.values())[:60]:
            obs.sort(key=lambda o: o.time)
            y = [o.value if o.value is not None else o.limit for o in obs]
            t = [o.time for o in obs]
            ax.plot(t, [math.nan if v is None else v for v in y], lw=0.7, alpha=0.6)
            ct = [(o.time, o.limit if o.value is None else o.value) for o in obs if o.censored]
            if ct:
                ax.plot(*zip(*ct, strict=True), "v", mfc="none", ms=3, color="grey")
        unit = next((o.unit for o in ds.observations if o.analyte == analyte), "")
        linear = unit and not unit.startswith("log10") and unit not in ("Ct", "%")
        if linear:
            ax.set_yscale("log")
        if unit == "Ct":
            ax.invert_yaxis()
        ax.set_title(analyte, fontsize=9)
        ax.set_xlabel(f"days since {ds.reference_events.get(analyte, '?')}", fontsize=8)
        ax.set_ylabel(unit, fontsize=8)
    for ax in list(axes.flat)[len(analytes) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def register(app: typer.Typer) -> None:
    """Attach the ``data`` command group to the root app."""
    app.add_typer(data_app, name="data")
