"""The root Typer application; command groups are attached in :func:`_register`.

Every failure ends as one line on standard error and a non-zero exit code:

* a typed :class:`~immunetwin.errors.ImmunetwinError` prints its (first-line) message, exit 2;
* an ``OSError`` (a path that cannot be written, a full disk) prints the file and why, exit 2;
* a usage error (bad option, bad value) prints click's message on one line, exit 2;
* any other exception prints a one-line ``internal error`` naming its type, with a hint to
  report it, exit 3.

``immunetwin --debug ...`` or ``IMMUNETWIN_DEBUG=1`` lets the traceback through instead.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import ImmunetwinError

__all__ = ["EXIT_INTERNAL", "EXIT_USAGE", "app", "main", "one_line"]

#: Exit code of a typed error or a bad argument.
EXIT_USAGE = 2
#: Exit code of an unexpected exception (a bug: please report it).
EXIT_INTERNAL = 3
DEBUG_ENV = "IMMUNETWIN_DEBUG"
_DEBUG_KEY = "immunetwin.debug"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REPORT_HINT = "please report this with the command and the output of `immunetwin --debug ...`"


def one_line(exc: BaseException | str, limit: int = 400) -> str:
    """The message of ``exc`` on one line (first two lines joined, the rest counted)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return "" if isinstance(exc, str) else type(exc).__name__
    text = lines[0] + (": " + lines[1] if len(lines) > 1 else "")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text + (f" (+{len(lines) - 2} more lines)" if len(lines) > 2 else "")


def _debug(ctx: Any) -> bool:
    if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0", "false", "no"):
        return True
    return bool(ctx is not None and ctx.meta.get(_DEBUG_KEY))


def _raised_in(exc: BaseException, word: str) -> bool:
    """Whether a frame of the traceback of ``exc`` lies in a file whose path contains ``word``."""
    tb = exc.__traceback__
    while tb is not None:
        if word in tb.tb_frame.f_code.co_filename.lower():
            return True
        tb = tb.tb_next
    return False


def _error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


class _SafeGroup(TyperGroup):
    """The root command group: turns every exception into one line on stderr."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except ImmunetwinError as exc:
            if _debug(ctx):
                raise
            _error(one_line(exc))
            raise typer.Exit(EXIT_USAGE) from None
        except OSError as exc:  # the environment (a path, a disk), not a bug
            if _debug(ctx):
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            _error(f"{where}{exc.strerror or one_line(exc)}")
            raise typer.Exit(EXIT_USAGE) from None
        except Exception as exc:
            if _debug(ctx):
                raise
            name = type(exc).__name__
            if isinstance(exc, RuntimeError) and _raised_in(exc, "roadrunner"):
                _error(f"backend 'roadrunner' failed ({name}): {one_line(exc)}")
                raise typer.Exit(EXIT_USAGE) from None
            _error(f"internal error ({name}: {one_line(exc, 200)}); {_REPORT_HINT}")
            raise typer.Exit(EXIT_INTERNAL) from None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the app; usage errors become one line (``error: ...``) instead of a box."""
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # click's usage errors
            code = int(getattr(exc, "exit_code", EXIT_USAGE))
            ctx = getattr(exc, "ctx", None)
            where = f"{ctx.command_path}: " if ctx is not None else ""
            fmt = getattr(exc, "format_message", None)
            message = str(fmt()) if callable(fmt) else str(exc)
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help, then one line
                typer.echo(message)
                _error(f"{where}missing command or arguments (see the help above)")
            else:
                _error(where + one_line(_ANSI.sub("", message)))
        except typer.Abort:
            _error("aborted")
            code = 1
        else:
            code = rv if isinstance(rv, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


app = typer.Typer(
    name="immunetwin",
    help="immunetwin: build, personalise, validate and serve immune digital twins.",
    no_args_is_help=True,
    add_completion=False,
    cls=_SafeGroup,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option("--debug", help=f"Show the full traceback of an error (also: {DEBUG_ENV}=1)."),
    ] = False,
) -> None:
    """immunetwin: build, personalise, validate and serve immune digital twins."""
    ctx.meta[_DEBUG_KEY] = debug


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
        "_qual",
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
