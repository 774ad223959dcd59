"""``immunetwin simulate``: simulate a model over a time grid and write CSV (and a plot)."""

from __future__ import annotations

import math
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ..errors import ImmunetwinError, SimulationError
from ._checks import CliError, check_grid, check_plot_path, check_tolerance

if TYPE_CHECKING:
    from ..model import ModelSpec
    from ..simulate import Trajectory

__all__ = ["register"]


class Backend(StrEnum):
    """Simulation backends selectable on the command line."""

    compiled = "compiled"
    roadrunner = "roadrunner"


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {message}", markup=True
    )
    return typer.Exit(code=2)


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    text = lines[0] + (": " + lines[1] if len(lines) > 1 else "")
    if len(text) > 300:
        text = text[:297] + "..."
    more = f" (+{len(lines) - 2} more)" if len(lines) > 2 else ""
    return text + more


def _load_model(model: str) -> ModelSpec:
    """A model from an SBML file path or the name of a library model."""
    from ..model import from_sbml, library

    path = Path(model)
    if path.is_file():
        from ..model import is_sbml_qual

        if path.suffix in (".zginml", ".ginml") or is_sbml_qual(str(path)):
            raise CliError(
                f"'{model}' is a logical (SBML-qual/GINsim) model: use `immunetwin qual simulate`"
            )
        return from_sbml(str(path))
    if path.exists():
        raise CliError(f"'{model}' is not a file")
    if model in library.names():
        return library.get(model)
    if model in library.logical_names():
        raise CliError(f"'{model}' is a logical model: use `immunetwin qual simulate`")
    raise CliError(f"model file '{model}' not found (and no library model of that name)")


def _parse_params(items: list[str], spec: ModelSpec) -> dict[str, float]:
    known = {k for k, v in spec.ids().items() if v in ("parameter", "compartment")}
    out: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CliError(f"--param {item!r}: expected NAME=VALUE, e.g. --param beta=2.7e-5")
        try:
            value = float(text)
        except ValueError:
            raise CliError(f"--param {item!r}: {text.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise CliError(f"--param {item!r}: the value must be a finite number")
        if name not in known:
            raise CliError(f"--param {item!r}: model '{spec.id}' has no parameter '{name}'")
        out[name] = value
    return out


def simulate_command(
    model: Annotated[
        str, typer.Argument(help="An SBML file, or a library model name.", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the trajectory (CSV).")],
    t_end: Annotated[float, typer.Option("--t-end", help="End time (model time units).")] = 21.0,
    points: Annotated[
        int, typer.Option("--points", help="Number of output times, t0..t-end (2 or more).")
    ] = 85,
    t_start: Annotated[float, typer.Option("--t-start", help="Initial time.")] = 0.0,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Parameter value NAME=VALUE (repeatable)."),
    ] = None,
    backend: Annotated[
        Backend, typer.Option("--backend", help="Simulation backend.")
    ] = Backend.compiled,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance.")] = 1e-6,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-9,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also save a plot (PNG, SVG or PDF).")
    ] = None,
) -> None:
    """Simulate MODEL from --t-start to --t-end and write the trajectory as CSV."""
    try:
        check_grid(t_start, t_end, points)
        check_tolerance("--rtol", rtol)
        check_tolerance("--atol", atol, upper=math.inf)
        if plot is not None:
            check_plot_path("--plot", plot)
        if out.is_dir():
            raise CliError(f"--out {str(out)!r}: is a directory")
        spec = _load_model(model)
        params = _parse_params(list(param or []), spec)

        import numpy as np

        from ..simulate import SolverOptions

        times = np.linspace(t_start, t_end, points)
        started = time.perf_counter()
        traj = _run(spec, times, params, backend, SolverOptions(rtol=rtol, atol=atol), t_start)
        elapsed = time.perf_counter() - started
        traj.raise_on_failure()
        out.parent.mkdir(parents=True, exist_ok=True)
        traj.to_csv(str(out))
        wrote = [str(out)]
        if plot is not None:
            _save_plot(traj, plot)
            wrote.append(str(plot))
    except ImmunetwinError as exc:
        raise _fail(_one_line(exc)) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or ''}: {exc.strerror or exc}") from None
    except RecursionError:
        raise _fail(f"{model}: expressions nest too deeply to process") from None
    Console(highlight=False, soft_wrap=True).print(
        f"[bold]{spec.id}[/]: {len(traj.names)} outputs at {points} times, t = {t_start:g}..{t_end:g}, "
        f"backend {backend.value}, {elapsed * 1e3:.1f} ms -> {', '.join(wrote)}"
    )


def _run(
    spec: ModelSpec,
    times: Any,
    params: dict[str, float],
    backend: Backend,
    options: Any,
    t0: float,
) -> Trajectory:
    """Simulate; a raw ``RuntimeError`` of a backend (libRoadRunner) becomes a typed error."""
    from ..simulate import simulate

    try:
        return simulate(
            spec, times, params=params or None, backend=backend.value, options=options, t0=t0
        )
    except RuntimeError as exc:
        if isinstance(exc, ImmunetwinError):
            raise
        raise SimulationError(
            f"backend '{backend.value}': {_one_line(exc)}", model=spec.id
        ) from None


def _save_plot(traj: Trajectory, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    traj.plot(ax=ax)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _root() -> None:
    """immunetwin: build, personalise, validate and serve immune digital twins."""


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""
    app.command("simulate", no_args_is_help=True)(simulate_command)
    if app.registered_callback is None:
        # keep `immunetwin simulate ...` a sub-command even when it is the only command
        app.callback()(_root)
