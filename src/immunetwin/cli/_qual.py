"""``immunetwin qual``: logical (Boolean / multi-valued) models: stable states, simulation, mutants."""

from __future__ import annotations

import json
import os
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ..errors import ImmunetwinError
from ._checks import CliError
from ._simulate import _fail, _one_line

if TYPE_CHECKING:
    from ..model import LogicalModelSpec

__all__ = ["register"]

qual_app = typer.Typer(
    name="qual",
    help="Logical models (SBML-qual, GINsim .zginml, library): stable states, simulation, mutants.",
    no_args_is_help=True,
)

ModelArg = Annotated[
    str,
    typer.Argument(
        help="An SBML-qual file, a GINsim .zginml file, or a logical library model name.",
        show_default=False,
    ),
]
LevelsOpt = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", help="Fix an input species: NAME=LEVEL (repeatable)."),
]
KoOpt = Annotated[list[str] | None, typer.Option("--ko", help="Knock out a species (level 0).")]
KiOpt = Annotated[
    list[str] | None, typer.Option("--ki", help="Knock in a species (its maximum level).")
]


class Mode(StrEnum):
    """Dynamics selectable on the command line."""

    sync = "sync"
    async_ = "async"
    mp = "mp"
    stochastic = "stochastic"


def _load(model: str) -> LogicalModelSpec:
    from ..model import from_ginml, from_sbml_qual, library

    path = Path(model)
    if path.is_file():
        if path.suffix in (".zginml", ".ginml"):
            return from_ginml(path)
        return from_sbml_qual(path)
    if model in library.logical_names():
        return library.get_logical(model)
    raise CliError(f"model file '{model}' not found (and no logical library model of that name)")


def _levels(items: list[str] | None, what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not sep or not name.strip() or value != value:
            raise CliError(f"{what} {item!r}: expected NAME=LEVEL, e.g. {what} IL12=1")
        out[name.strip()] = value
    return out


def _ints(levels: dict[str, float], what: str) -> dict[str, int]:
    for k, v in levels.items():
        if not float(v).is_integer():
            raise CliError(f"{what} {k}={v:g}: a level is a whole number")
    return {k: int(v) for k, v in levels.items()}


def _mutations(
    spec: LogicalModelSpec, ko: list[str] | None, ki: list[str] | None
) -> dict[str, int]:
    out: dict[str, int] = {}
    for sid in ko or []:
        spec.index(sid)
        out[sid] = 0
    for sid in ki or []:
        out[sid] = spec.species[spec.index(sid)].levels - 1
    return out


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _say(text: str) -> None:
    Console(highlight=False, soft_wrap=True).print(text)


@qual_app.command("fixpoints", no_args_is_help=True)
def fixpoints_command(
    model: ModelArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the JSON listing.")],
    max_count: Annotated[
        int, typer.Option("--max", min=1, help="Cap on the listing (sets complete false).")
    ] = 10_000,
    method: Annotated[str, typer.Option("--method", help="auto, mpbn, search or brute.")] = "auto",
    inputs: LevelsOpt = None,
    ko: KoOpt = None,
    ki: KiOpt = None,
) -> None:
    """List the stable states of MODEL as {"fixpoints": [...], "complete": bool}."""
    try:
        from ..simulate import fixpoints

        spec = _load(model)
        started = time.perf_counter()
        res = fixpoints(
            spec,
            method=method,
            max_count=max_count,
            inputs=_ints(_levels(inputs, "--input"), "--input"),
            mutations=_mutations(spec, ko, ki),
        )
        elapsed = time.perf_counter() - started
        _write_json(out, res.to_json())
    except ImmunetwinError as exc:
        raise _fail(_one_line(exc)) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or ''}: {exc.strerror or exc}") from None
    cap = "" if res.complete else f" (capped at --max {max_count})"
    _say(
        f"[bold]{spec.id}[/]: {len(res)} stable states{cap}, {len(spec.species)} species, "
        f"method {res.method}, {elapsed:.2f} s -> {out}"
    )


def _phenotypes(items: list[str] | None) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for item in items or []:
        name, sep, body = item.partition(":")
        if not sep or not body:
            raise CliError(
                f"--phenotype {item!r}: expected NAME:SPECIES=LEVEL,..., e.g. Th1:Tbet=1"
            )
        out[name] = _ints(_levels(body.split(","), "--phenotype"), "--phenotype")
    return out


@qual_app.command("simulate", no_args_is_help=True)
def simulate_command(
    model: ModelArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the result (CSV or JSON for mp).")
    ],
    mode: Annotated[Mode, typer.Option("--mode", help="Dynamics.")] = Mode.sync,
    init: Annotated[
        list[str] | None,
        typer.Option(
            "--init",
            help="Initial level NAME=LEVEL (repeatable; stochastic: a Boolean species may take a probability).",
        ),
    ] = None,
    steps: Annotated[
        int, typer.Option("--steps", min=1, help="Maximum updates (sync/async).")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (async, stochastic).")] = 0,
    cells: Annotated[
        int, typer.Option("--cells", min=1, help="Population size (stochastic).")
    ] = 1000,
    t_end: Annotated[float, typer.Option("--t-end", help="End time (stochastic).")] = 10.0,
    points: Annotated[int, typer.Option("--points", min=2, help="Output times (stochastic).")] = 51,
    phenotype: Annotated[
        list[str] | None,
        typer.Option("--phenotype", help="NAME:SPECIES=LEVEL,... (stochastic; repeatable)."),
    ] = None,
    ko: KoOpt = None,
    ki: KiOpt = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also save a plot (PNG/SVG/PDF).")
    ] = None,
) -> None:
    """Simulate MODEL: sync/async trajectories, most-permissive attractors, or stochastic phenotypes."""
    try:
        spec = _load(model)
        muts = _mutations(spec, ko, ki)
        if muts:
            spec = spec.mutate(muts)
        start = _levels(init, "--init")
        summary = _run(spec, mode, start, steps, seed, cells, t_end, points, phenotype, out, plot)
    except ImmunetwinError as exc:
        raise _fail(_one_line(exc)) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or ''}: {exc.strerror or exc}") from None
    _say(f"[bold]{spec.id}[/]: {mode.value}, {summary} -> {out}")


def _run(
    spec: LogicalModelSpec,
    mode: Mode,
    start: dict[str, float],
    steps: int,
    seed: int,
    cells: int,
    t_end: float,
    points: int,
    phenotype: list[str] | None,
    out: Path,
    plot: Path | None,
) -> str:
    import numpy as np

    from ..simulate import mp_attractors, run_logical, stochastic_logical

    out.parent.mkdir(parents=True, exist_ok=True)
    if mode is Mode.mp:
        res = mp_attractors(spec, _ints(start, "--init"))
        _write_json(out, {"attractors": res.as_dicts(), "complete": res.complete})
        return f"{len(res.spaces)} reachable attractors (None = free)"
    if mode is Mode.stochastic:
        phen = _phenotypes(phenotype) or {s: {s: 1} for s in spec.species_ids}
        sres = stochastic_logical(
            spec, times=np.linspace(0.0, t_end, points), phenotypes=phen, initial=start,
            n_cells=cells, seed=seed,
        )  # fmt: skip
        sres.to_pandas().to_csv(out)
        _plot(sres, plot)
        final = ", ".join(
            f"{k}={p:.3f}" for k, p in zip(sres.phenotypes, sres.probabilities[-1], strict=True)
        )
        return f"{cells} cells, t = 0..{t_end:g}; final {final}"
    traj = run_logical(spec, _ints(start, "--init"), mode=mode.value, max_steps=steps, seed=seed)
    traj.to_pandas().to_csv(out)
    _plot(traj, plot)
    return f"{traj.states.shape[0] - 1} steps, stopped at a {traj.stopped.replace('_', ' ')}"


def _plot(result: object, path: Path | None) -> None:
    if path is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = result.plot()  # type: ignore[attr-defined]
    path.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)


@qual_app.command("mutate", no_args_is_help=True)
def mutate_command(
    model: ModelArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the mutant (SBML-qual).")
    ],
    ko: KoOpt = None,
    ki: KiOpt = None,
    fix: Annotated[
        list[str] | None, typer.Option("--fix", help="Fix a species at a level: NAME=LEVEL.")
    ] = None,
) -> None:
    """Write a mutant of MODEL (knock-outs, knock-ins, fixed levels) as SBML-qual; print its stable states."""
    try:
        from ..model import to_sbml_qual
        from ..simulate import fixpoints

        spec = _load(model)
        muts = {**_mutations(spec, ko, ki), **_ints(_levels(fix, "--fix"), "--fix")}
        if not muts:
            raise CliError("nothing to mutate: give --ko, --ki or --fix")
        mutant = spec.mutate(muts).replace(id=f"{spec.id}_mutant")
        out.parent.mkdir(parents=True, exist_ok=True)
        to_sbml_qual(mutant, out)
        res = fixpoints(mutant)
    except ImmunetwinError as exc:
        raise _fail(_one_line(exc)) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or ''}: {exc.strerror or exc}") from None
    what = ", ".join(f"{k}={v}" for k, v in muts.items())
    more = "" if res.complete else "+"
    _say(f"[bold]{mutant.id}[/] ({what}): {len(res)}{more} stable states -> {out}")


def register(app: typer.Typer) -> None:
    """Add the ``qual`` command group to ``app``."""
    app.add_typer(qual_app, name="qual")
