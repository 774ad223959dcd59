"""``immunetwin models``: list, show and export the curated model library."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ImmunetwinError

__all__ = ["register"]

models_app = typer.Typer(
    name="models",
    help="The curated library of immune models (each checked against its paper).",
    no_args_is_help=True,
)


class ExportFormat(StrEnum):
    """Export formats."""

    sbml = "sbml"
    markdown = "markdown"


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=160)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {message}", markup=True
    )
    return typer.Exit(code=2)


@models_app.command("list")
def list_command(
    disease: Annotated[
        str | None, typer.Option("--disease", help="Disease id (DOID:8469) or part of its label.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only models with this tag.")] = None,
) -> None:
    """List the library models."""
    from ..model import library

    metas = library.list(disease=disease, tag=tag)
    table = Table(title=f"immunetwin model library ({len(metas)} models)")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("title")
    table.add_column("disease")
    table.add_column("host")
    table.add_column("tags")
    for m in metas:
        table.add_row(
            m.name, m.title, f"{m.disease.label} ({m.disease.id})", m.taxon.label, ", ".join(m.tags)
        )
    _console().print(table)


@models_app.command("show", no_args_is_help=True)
def show_command(
    name: Annotated[str, typer.Argument(help="Model name, e.g. baccam2006_influenza.")],
) -> None:
    """Print a model card: citation, equations, parameters with sources, observables, interventions."""
    from ..model import library
    from ..model.library._cards import equations, expr_to_str

    try:
        spec = library.get(name)
    except ImmunetwinError as exc:
        raise _fail(str(exc)) from None
    meta = library.card(name)
    con = _console()
    con.print(f"[bold]{meta.name}[/]: {meta.title}")
    con.print(f"[italic]{meta.citation}[/]")
    con.print(
        f"DOI {meta.doi}  PubMed {meta.pubmed}  version {meta.version}  licence {meta.licence} (code {meta.code_licence})"
    )
    con.print(
        f"disease {meta.disease.label} ({meta.disease.id}); host {meta.taxon.label} ({meta.taxon.id}); "
        f"time unit {meta.time_unit}; tags: {', '.join(meta.tags)}"
    )
    con.print("\n[bold]Equations[/]")
    for line in equations(spec):
        con.print(f"  {line}", markup=False)
    pt = Table(title="Parameters")
    for col in ("id", "value", "unit", "bounds", "source"):
        pt.add_column(col, overflow="fold")
    for p in spec.parameters:
        bounds = (
            ""
            if p.lower is None and p.upper is None
            else f"[{p.lower:g}, {p.upper:g}]"
            if p.lower is not None and p.upper is not None
            else ""
        )
        pt.add_row(p.id, f"{p.value:.6g}", p.unit or "", bounds, p.source)
    con.print(pt)
    ot = Table(title="Observables")
    for col in ("id", "expression", "noise", "measurement"):
        ot.add_column(col, overflow="fold")
    info = {o.id: o for o in meta.observables}
    for o in spec.observables:
        oi = info.get(o.id)
        ot.add_row(
            o.id,
            expr_to_str(o.expr),
            f"{o.noise.kind.value} (sigma={o.noise.sigma})",
            oi.measurement if oi else "",
        )
    con.print(ot)
    it = Table(title="Interventions")
    for col in ("name", "kind", "parameters", "description"):
        it.add_column(col, overflow="fold")
    for iv in meta.interventions:
        it.add_row(iv.name, iv.kind, ", ".join(iv.parameters), iv.description)
    con.print(it)
    con.print(f"\n[bold]Checked against the paper:[/] {meta.paper_check}")
    if meta.caveats:
        con.print(f"[bold]Caveats:[/] {meta.caveats}")


@models_app.command("export", no_args_is_help=True)
def export_command(
    name: Annotated[str, typer.Argument(help="Model name.")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExportFormat.sbml,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default: standard output).")
    ] = None,
) -> None:
    """Export a model as SBML (with MIRIAM annotations) or its markdown model card."""
    from ..model import library

    try:
        text = library.export_sbml(name) if fmt is ExportFormat.sbml else library.render_card(name)
    except ImmunetwinError as exc:
        raise _fail(str(exc)) from None
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        Console(stderr=True, highlight=False).print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add the ``models`` command group to ``app``."""
    app.add_typer(models_app, name="models")
