"""``immunetwin petab``: lint, simulate, fit and export PEtab problems."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from immunetwin.errors import ImmunetwinError

petab_app = typer.Typer(
    name="petab",
    help="PEtab problems: lint, simulate at given parameters, fit from random starts, export.",
    no_args_is_help=True,
)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _problem(path: Path) -> Any:
    from immunetwin.inference import PetabProblem

    return PetabProblem(path)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@petab_app.command("lint")
def lint_cmd(problem: Annotated[Path, typer.Argument(help="PEtab problem YAML file.")]) -> None:
    """Check a PEtab problem with the petab library's linter and immunetwin's reader."""
    import logging

    import petab.v1 as petab1

    try:
        raw = petab1.Problem.from_yaml(str(problem))
    except Exception as exc:  # noqa: BLE001 - the library raises many kinds
        raise _fail(ImmunetwinError(f"{problem}: petab cannot load the problem: {exc}")) from None
    logging.getLogger("petab").setLevel(logging.ERROR)
    errors = bool(petab1.lint_problem(raw))
    try:
        _problem(problem)
    except ImmunetwinError as exc:
        typer.echo(f"immunetwin: {exc}")
        errors = True
    if errors:
        typer.echo(f"{problem}: errors found (see above)")
        raise typer.Exit(1)
    typer.echo(f"{problem}: ok")


def _read_parameters(path: Path) -> dict[str, float]:
    """Natural parameter values from a JSON mapping (or fit.json) or a PEtab parameter table."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        values = data.get("parameters", data) if isinstance(data, dict) else None
        if not isinstance(values, dict):
            raise ImmunetwinError(f"{path}: expected a JSON object of parameter values")
        return {str(k): float(v) for k, v in values.items()}
    import pandas as pd

    df = pd.read_csv(path, sep="\t")
    if "parameterId" not in df.columns or "nominalValue" not in df.columns:
        raise ImmunetwinError(f"{path}: a parameter table needs parameterId and nominalValue")
    ids, vals = df["parameterId"].astype(str), df["nominalValue"].astype(float)
    return dict(zip(ids, (float(v) for v in vals), strict=True))


@petab_app.command("simulate")
def simulate_cmd(
    problem: Annotated[Path, typer.Argument(help="PEtab problem YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Simulation table (TSV) to write.")],
    parameters: Annotated[
        Path | None,
        typer.Option("--parameters", help="JSON {id: value} (or fit.json) or parameter table."),
    ] = None,
) -> None:
    """Write the PEtab simulation table at the nominal parameters (or at --parameters)."""
    try:
        pr = _problem(problem)
        theta = pr.nominal
        if parameters is not None:
            values = dict(zip(pr.names, pr.to_natural(theta), strict=True))
            given = _read_parameters(parameters)
            unknown = sorted(set(given) - set(pr.names))
            if unknown:
                raise ImmunetwinError(
                    f"{parameters}: {unknown} not estimated in {problem.name} (fixed values are "
                    "set in its parameter table)"
                )
            values.update(given)
            theta = pr.to_theta(values)
        table = pr.simulation_table(theta)
        llh = -float(pr.nllh(theta)[0])
    except (ImmunetwinError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    _atomic_write(out, table.to_csv(sep="\t", index=False))
    typer.echo(f"wrote {out} ({len(table)} rows); log-likelihood {llh:.6g}")


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


@petab_app.command("fit")
def fit_cmd(
    problem: Annotated[Path, typer.Argument(help="PEtab problem YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Result JSON to write.")],
    starts: Annotated[
        int, typer.Option("--starts", help="Random starts (never the nominal).")
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    max_iter: Annotated[int, typer.Option("--max-iter", help="Iterations per start.")] = 200,
) -> None:
    """Fit from random starts; write objective, nominal_objective, parameters, starts, wall_time_s."""
    from immunetwin.inference import FitOptions, fit

    t0 = time.perf_counter()
    try:
        pr = _problem(problem)
        res = fit(pr, starts=starts, seed=seed, options=FitOptions(max_iter=max_iter))
        nominal = float(pr.objective(pr.nominal)[0])
    except ImmunetwinError as exc:
        raise _fail(exc) from None
    wall = time.perf_counter() - t0
    rows = []
    for r in res.starts.to_dict(orient="records"):
        rows.append(
            {
                "start": int(r["start"]),
                "objective": _jsonable(float(r["objective"])),
                "converged": bool(r["converged"]),
                "iterations": int(r["iterations"]),
                "message": str(r["message"]),
                "parameters": {n: _jsonable(float(r[n])) for n in pr.names},
            }
        )
    body = {
        "problem": str(problem),
        "objective": res.objective,
        "nominal_objective": _jsonable(nominal),
        "parameters": res.estimates,
        "parameters_petab_scale": dict(
            zip(pr.names, (float(v) for v in pr.to_petab_scale(res.theta)), strict=True)
        ),
        "converged": res.converged,
        "n_at_best": res.n_at_best,
        "starts": rows,
        "wall_time_s": wall,
        "warnings": list(res.warnings),
    }
    _atomic_write(out, json.dumps(body, indent=2))
    typer.echo(
        f"best objective {res.objective:.6g} (nominal {nominal:.6g}); {res.n_at_best}/"
        f"{len(rows)} starts at the best; {wall:.1f} s; wrote {out}"
    )


@petab_app.command("export")
def export_cmd(
    problem: Annotated[Path, typer.Argument(help="PEtab problem YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the PEtab problem to.")],
) -> None:
    """Write a problem back out as a PEtab problem (YAML, SBML and tables) in a folder."""
    from immunetwin.inference import export_petab

    try:
        path = export_petab(_problem(problem), out)
    except (ImmunetwinError, OSError) as exc:
        raise _fail(exc) from None
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Attach the ``petab`` command group to the root app."""
    app.add_typer(petab_app, name="petab")
