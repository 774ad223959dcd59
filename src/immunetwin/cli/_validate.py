"""``immunetwin validate``: does a twin predict data it has not seen?"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ImmunetwinError

validate_app = typer.Typer(
    name="validate",
    help="Predictive validation of twins on held-out data (cross-fitted population priors).",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


#: ``--ct-curve`` (shared with ``twin create``).
CtCurveOption = Annotated[
    str | None,
    typer.Option(
        "--ct-curve",
        help="Ct data: standard curve, a name (kissler2021, generic) or SLOPE,INTERCEPT[,LOG10_FACTOR].",
    ),
]


@validate_app.command("forecast", no_args_is_help=True)
def forecast_cmd(
    data: Annotated[
        Path, typer.Option("--data", help="Dataset (any format the data layer reads).")
    ],
    model: Annotated[str, typer.Option("--model", help="Library model name.")],
    analyte: Annotated[str, typer.Option("--analyte", help="Analyte to forecast.")],
    out: Annotated[Path, typer.Option("--out", help="Result JSON.")],
    cutoff_day: Annotated[
        float | None,
        typer.Option("--cutoff-day", help="Personalise on data at or before this day."),
    ] = None,
    first_k: Annotated[
        int | None,
        typer.Option("--first-k", help="Personalise on each subject's first K observations."),
    ] = None,
    subjects: Annotated[
        str | None, typer.Option("--subjects", help="Comma-separated subject ids to forecast.")
    ] = None,
    estimate: Annotated[
        str | None, typer.Option("--estimate", help="Comma-separated estimated parameters.")
    ] = None,
    fix: Annotated[
        str | None,
        typer.Option(
            "--fix", help="Comma-separated NAME=VALUE parameters held fixed for every subject."
        ),
    ] = None,
    lod: Annotated[
        float | None,
        typer.Option("--lod", help="Detection limit (data unit) where the data give none."),
    ] = None,
    t0: Annotated[float | None, typer.Option("--t0", help="Model start on the data clock.")] = None,
    horizon: Annotated[
        float | None,
        typer.Option(
            "--horizon",
            help="Score only held-out observations at most this many days after the cutoff.",
        ),
    ] = None,
    noise_df: Annotated[
        float | None,
        typer.Option(
            "--noise-df", help="Student-t measurement noise with these degrees of freedom."
        ),
    ] = None,
    ct_curve: CtCurveOption = None,
    censor_placeholder: Annotated[
        bool,
        typer.Option(
            "--censor-placeholder",
            help="Treat a detection limit reported as a value (the extreme value, repeated) as censored.",
        ),
    ] = False,
    particles: Annotated[int, typer.Option("--particles", help="Twin particles.")] = 1000,
    population: Annotated[
        str, typer.Option("--population", help="auto, fit_population or fallback.")
    ] = "fallback",
    population_subjects: Annotated[
        int | None,
        typer.Option("--population-subjects", help="At most this many other subjects per prior."),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(
            "--folds",
            help="K-fold cross-fitting (one population prior per fold; default: leave-one-out).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="PNG of observed vs forecast.")
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="Where subjects run: serial, processes:N or dask[:ADDRESS] "
            "(default: $IMMUNETWIN_ENGINE, else serial).",
        ),
    ] = None,
) -> None:
    """Forecast each subject's later data from its early data; write records and a summary."""
    from ..validate import validate_forecast

    _check(cutoff_day, first_k, population, data)
    curve = None if ct_curve is None else _curve(ct_curve)
    fixed = _fixed(fix)
    try:
        res = _with_progress(
            lambda report: validate_forecast(
                data,
                model,
                analyte,
                cutoff_day=cutoff_day,
                first_k=first_k,
                subjects=_csv(subjects),
                estimate=_csv(estimate),
                fixed=fixed,
                lod=lod,
                t0=t0,
                horizon=horizon,
                noise_df=noise_df,
                censor_placeholders=censor_placeholder,
                standard_curve=curve,
                particles=particles,
                population=population,  # type: ignore[arg-type]
                population_subjects=population_subjects,
                folds=folds,
                seed=seed,
                progress=report,
                engine=engine,
            )
        )
        res.save(out)
        if plot is not None:
            res.plot(plot)
    except (ImmunetwinError, OSError) as exc:
        raise _fail(str(exc)) from None
    _print_summary(res.summary.to_dict())
    typer.echo(f"wrote {out}" + (f" and {plot}" if plot else ""))


def _check(cutoff_day: float | None, first_k: int | None, population: str, data: Path) -> None:
    if (cutoff_day is None) == (first_k is None):
        raise _fail("give exactly one of --cutoff-day and --first-k")
    if population not in ("auto", "fit_population", "fallback"):
        raise _fail(f"--population must be auto, fit_population or fallback, not '{population}'")
    if not data.exists():
        raise _fail(f"no such file: {data}")


def _with_progress(run: Callable[[Callable[[str, int, int], None]], Any]) -> Any:
    """``run(progress)`` under a transient progress bar."""
    from rich.progress import Progress

    with Progress(transient=True) as prog:
        task = prog.add_task("validating", total=None)

        def report(msg: str, done: int, total: int) -> None:
            prog.update(task, description=msg, completed=done, total=total)

        return run(report)


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]


def _fixed(fix: str | None) -> dict[str, float] | None:
    """``--fix NAME=VALUE,...`` as a mapping."""
    if fix is None:
        return None
    fixed: dict[str, float] = {}
    for item in (x.strip() for x in fix.split(",") if x.strip()):
        name, eq, value = item.partition("=")
        try:
            fixed[name.strip()] = float(value)
        except ValueError:
            raise _fail(f"--fix: expected NAME=VALUE with a number, got '{item}'") from None
        if not eq:
            raise _fail(f"--fix: expected NAME=VALUE, got '{item}'")
    return fixed


def _print_summary(s: dict[str, Any]) -> None:
    """The headline figures of a validation summary."""
    typer.echo(
        f"{s['subjects']} subjects, {s['records']} held-out observations ({s['censored_records']} censored); "
        f"population prior: {s['population_method']}"
    )
    typer.echo(
        f"coverage 50% {s['coverage_50']:.2f}  90% {s['coverage_90']:.2f}  "
        f"(baseline {s['baseline_coverage_50']:.2f} / {s['baseline_coverage_90']:.2f})"
    )
    red = s.get("error_reduction")  # None when the baseline's median error is 0
    typer.echo(
        f"median |error| {s['median_abs_error']:.3f} vs baseline {s['baseline_median_abs_error']:.3f}"
        + _change(red)
        + f"; CRPS {s['crps']:.3f} vs {s['baseline_crps']:.3f}"
    )
    if "median_abs_error_detected" in s and s["censored_records"]:
        red_d = s.get("error_reduction_detected")
        typer.echo(
            f"detected values only: median |error| {s['median_abs_error_detected']:.3f} vs "
            f"baseline {s['baseline_median_abs_error_detected']:.3f}"
            + _change(red_d)
            + f"; 90% coverage {s['coverage_90_detected']:.2f}"
        )
    emp = s.get("empirical_baseline_median_abs_error")
    if emp is not None:
        typer.echo(f"model-free empirical baseline: median |error| {emp:.3f}")
    for w in s.get("data_warnings", []):
        typer.echo(f"data: {w}")


def _curve(text: str) -> Any:
    """A standard curve from ``--ct-curve``: a known name or ``SLOPE,INTERCEPT[,LOG10_FACTOR]``."""
    from ..data import STANDARD_CURVES, StandardCurve

    if text in STANDARD_CURVES:
        return STANDARD_CURVES[text]
    parts = [p.strip() for p in text.split(",")]
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) not in (2, 3):
        raise _fail(
            f"--ct-curve: expected one of {list(STANDARD_CURVES)} or SLOPE,INTERCEPT[,LOG10_FACTOR], "
            f"got '{text}'"
        )
    try:
        return StandardCurve("command line", nums[0], nums[1], nums[2] if len(nums) == 3 else 0.0)
    except ImmunetwinError as exc:
        raise _fail(f"--ct-curve: {exc}") from None


def _change(reduction: float | None) -> str:
    """`` (x% lower)`` / `` (x% higher)`` for a relative error reduction."""
    if reduction is None:
        return ""
    pct = 100.0 * reduction
    return f" ({pct:.0f}% lower)" if pct >= 0 else f" ({-pct:.0f}% higher)"


def register(app: typer.Typer) -> None:
    """Attach the ``validate`` command group."""
    app.add_typer(validate_app, name="validate")
