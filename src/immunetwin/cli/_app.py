"""The root Typer application; command groups are attached in :func:`_register`."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="immunetwin",
    help="immunetwin: build, personalise, validate and serve immune digital twins.",
    no_args_is_help=True,
    add_completion=False,
)


def _register() -> None:
    """Attach every command group (imported lazily so `--help` stays fast)."""
    import importlib

    for module in (
        "_simulate",
        "_data",
        "_models",
        "_twin",
        "_validate",
        "_report",
        "_store",
        "_petab",
    ):
        try:
            mod = importlib.import_module(f"immunetwin.cli.{module}")
        except ModuleNotFoundError as exc:  # a group not written yet
            if exc.name != f"immunetwin.cli.{module}":
                raise
            continue
        mod.register(app)


def main() -> None:
    """Entry point of the ``immunetwin`` console script."""
    _register()
    app()
