"""``immunetwin store``: the registry database of digital twins (list, show, add)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ImmunetwinError

store_app = typer.Typer(
    name="store",
    help="The registry database of twins (SQLite by default; $IMMUNETWIN_DB or --db for a URL; "
    "PostgreSQL needs `pip install 'immunetwin[postgres]'`).",
    no_args_is_help=True,
)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLAlchemy database URL (default: $IMMUNETWIN_DB, else a SQLite file in "
        "~/.local/share/immunetwin/).",
    ),
]


def _fail(message: str) -> typer.Exit:
    from ._app import one_line

    typer.echo(f"error: {one_line(message)}", err=True)
    return typer.Exit(2)


def _registry(db: str | None) -> Any:
    from ..store import Registry

    return Registry(db)


@store_app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """List the registered twins."""
    from rich.console import Console
    from rich.table import Table

    reg = _registry(db)
    try:
        records = reg.list_twins()
    except ImmunetwinError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"twins in {reg.url}")
    for col in ("id", "name", "subject", "model", "updates", "created", "path"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(
            r.id, r.name, r.subject, r.model_id, str(r.n_updates), r.created_at, str(r.path)
        )
    Console(width=200, highlight=False).print(table)


@store_app.command("show", no_args_is_help=True)
def show_cmd(
    twin_id: Annotated[str, typer.Argument(metavar="ID", help="Registry id of the twin.")],
    db: DbOption = None,
) -> None:
    """Show the record of one registered twin."""
    try:
        rec = _registry(db).get(twin_id)
    except ImmunetwinError as exc:
        raise _fail(str(exc)) from None
    _echo(rec)


@store_app.command("add", no_args_is_help=True)
def add_cmd(
    twin_dir: Annotated[
        Path, typer.Argument(metavar="TWIN_DIR", help="Twin directory written by `twin create`.")
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Display name (default: the twin's name).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="HTML report of the twin.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Register a saved twin directory."""
    try:
        rec = _registry(db).add_twin(twin_dir, name=name, report=report)
    except ImmunetwinError as exc:
        raise _fail(str(exc)) from None
    _echo(rec)


@store_app.command("verify")
def verify_cmd(db: DbOption = None) -> None:
    """Check every registered twin (loads, checksums, record up to date); change nothing.

    Exit 1 when a twin is damaged or its record is stale.
    """
    reg = _registry(db)
    try:
        checks = reg.verify()
    except ImmunetwinError as exc:
        raise _fail(str(exc)) from None
    for c in checks:
        status = "ok     " if c.ok else "DAMAGED"
        detail = "" if c.ok else ": " + "; ".join(c.problems)
        typer.echo(f"{status} {c.id} {c.path}{detail}")
    damaged = sum(not c.ok for c in checks)
    typer.echo(f"{len(checks)} twin(s) checked, {damaged} damaged ({reg.url})")
    if damaged:
        typer.echo(f"error: {damaged} of {len(checks)} registered twin(s) damaged", err=True)
        raise typer.Exit(1)


def _echo(rec: Any) -> None:
    for field in (
        "id",
        "name",
        "subject",
        "model_id",
        "model_hash",
        "data_sha256",
        "immunetwin_version",
        "created_at",
        "registered_at",
        "n_updates",
        "path",
        "report",
    ):
        typer.echo(f"{field + ':':<20}{getattr(rec, field)}")


def register(app: typer.Typer) -> None:
    """Attach the ``store`` command group."""
    app.add_typer(store_app, name="store")
