"""``immunetwin twin``: create, update, forecast, compare and show digital twins."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ImmunetwinError
from ._validate import CtCurveOption, _curve

twin_app = typer.Typer(
    name="twin",
    help="Digital twins of one person: create (calibrate), update, forecast, what-if, show, history, restore.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _load(path: Path) -> Any:
    from ..twin import DigitalTwin

    try:
        return DigitalTwin.load(path)
    except (ImmunetwinError, OSError) as exc:
        raise _fail(str(exc)) from None


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]


@twin_app.command("create", no_args_is_help=True)
def create_cmd(
    data: Annotated[
        Path, typer.Option("--data", help="Dataset (any format the data layer reads).")
    ],
    model: Annotated[str, typer.Option("--model", help="Library model name.")],
    subject: Annotated[str, typer.Option("--subject", help="Subject id.")],
    analyte: Annotated[str, typer.Option("--analyte", help="Analyte the twin is fitted to.")],
    out: Annotated[Path, typer.Option("--out", help="Twin directory to write.")],
    cutoff_day: Annotated[
        float | None, typer.Option("--cutoff-day", help="Use only data at or before this day.")
    ] = None,
    estimate: Annotated[
        str | None, typer.Option("--estimate", help="Comma-separated parameters.")
    ] = None,
    t0: Annotated[
        float | None,
        typer.Option(
            "--t0", help="Model start on the data clock (default: 10 days before detection)."
        ),
    ] = None,
    lod: Annotated[
        float | None,
        typer.Option("--lod", help="Detection limit (data unit) where the data give none."),
    ] = None,
    ct_curve: CtCurveOption = None,
    particles: Annotated[int, typer.Option("--particles", help="Posterior particles.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the twin of another subject in --out.")
    ] = False,
) -> None:
    """Calibrate a new twin to one subject's data and save it."""
    from ..data import read_dataset
    from ..twin import build_twin

    if not data.exists():
        raise _fail(f"no such file: {data}")
    curve = None if ct_curve is None else _curve(ct_curve)
    try:
        twin = build_twin(
            read_dataset(data),
            model,
            subject=subject,
            analytes=[analyte],
            cutoff_day=cutoff_day,
            estimate=_csv(estimate) or None,
            lod=lod,
            standard_curve=curve,
            t0=t0,
            particles=particles,
            seed=seed,
        )
        twin.calibrate()
        twin.save(out, force=force)
    except (ImmunetwinError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"calibrated {twin!r} in {twin.history[-1].seconds:.1f} s; wrote {out}")


@twin_app.command("update", no_args_is_help=True)
def update_cmd(
    twin_dir: Annotated[Path, typer.Argument(help="Twin directory.")],
    data: Annotated[Path, typer.Option("--data", help="Data with the new observations.")],
) -> None:
    """Assimilate the observations in --data that the twin has not seen (SMC update); save."""
    from ..data import read_dataset
    from ..twin import UpdateStep, new_observations

    twin = _load(twin_dir)
    if not data.exists():
        raise _fail(f"no such file: {data}")
    try:
        new = new_observations(twin, read_dataset(data))
        if not new:
            raise _fail(f"no new observations of subject '{twin.subject}' in {data}")
        twin.update(new)
        twin.save(twin_dir)
    except (ImmunetwinError, OSError) as exc:
        raise _fail(str(exc)) from None
    h = twin.history[-1]
    assert isinstance(h, UpdateStep)
    typer.echo(
        f"assimilated {len(h.new_observations)} observation(s) in {1000 * h.seconds:.0f} ms "
        f"(ESS {h.ess_after_reweighting:.0f}, resampled: {h.resampled}); wrote {twin_dir}"
    )


@twin_app.command("forecast", no_args_is_help=True)
def forecast_cmd(
    twin_dir: Annotated[Path, typer.Argument(help="Twin directory.")],
    days: Annotated[
        str | None,
        typer.Option("--days", help="START:END:N (default: model start to horizon, 85 times)."),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario", help="none, antiviral:DAY[:EFF], blockade:DAY[:EFF], name=X,p=v"
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the quantile table (CSV).")
    ] = None,
) -> None:
    """Posterior predictive quantiles of the observables (with measurement noise)."""
    import numpy as np

    from ..twin import Scenario

    twin = _load(twin_dir)
    try:
        times = None
        if days is not None:
            a, b, n = days.split(":")
            times = np.linspace(float(a), float(b), int(n))
        sc = None if scenario is None else Scenario.parse(scenario)
        fc = twin.forecast(times, scenario=sc)
    except ValueError:
        raise _fail(f"--days must be START:END:N, got '{days}'") from None
    except ImmunetwinError as exc:
        raise _fail(str(exc)) from None
    table = fc.table[fc.table["kind"] == "observable"]
    if out is not None:
        fc.table.to_csv(out, index=False)
    cols = ["variable", "time", "q05", "q25", "q50", "q75", "q95"]
    step = max(1, len(table) // 20)
    typer.echo(table[cols].iloc[::step].to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    if out is not None:
        typer.echo(f"wrote {out}")


@twin_app.command("what-if", no_args_is_help=True)
def what_if_cmd(
    twin_dir: Annotated[Path, typer.Argument(help="Twin directory.")],
    scenario: Annotated[
        list[str],
        typer.Option(
            "--scenario",
            "-s",
            help="Repeat: none, antiviral:DAY[:EFF], blockade:DAY[:EFF], name=X,p=v",
        ),
    ],
) -> None:
    """Compare scenarios (first = baseline): peak, viral AUC, clearance day, peak inflammation."""
    from ..twin import Scenario

    twin = _load(twin_dir)
    try:
        comp = twin.what_if([Scenario.parse(s) for s in scenario])
    except ImmunetwinError as exc:
        raise _fail(str(exc)) from None
    s = comp.summary()
    cols = [c for c in s.columns if c.endswith("_median") or c in ("scenario", "p_auc_halved")]
    typer.echo(s[cols].to_string(index=False, float_format=lambda x: f"{x:.3g}"))


@twin_app.command("show", no_args_is_help=True)
def show_cmd(twin_dir: Annotated[Path, typer.Argument(help="Twin directory.")]) -> None:
    """Summary: model, subject, data, posterior, history."""
    twin = _load(twin_dir)
    typer.echo(repr(twin))
    typer.echo(f"prior: {twin.prior.source if twin.prior is not None else 'model priors'}")
    typer.echo(twin.summary().to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    for h in twin.history:
        typer.echo(f"  {h.at}  {h.step:<10} {h.seconds:.2f} s")


@twin_app.command("history", no_args_is_help=True)
def history_cmd(twin_dir: Annotated[Path, typer.Argument(help="Twin directory.")]) -> None:
    """The saved versions of a twin directory (the current one marked *)."""
    from ..twin import twin_versions

    try:
        versions = twin_versions(twin_dir)
    except (ImmunetwinError, OSError) as exc:
        raise _fail(str(exc)) from None
    for v in versions:
        mark = "*" if v.current else " "
        what = f"{v.observations} observations, {v.n_updates} updates" if v.readable else "damaged"
        typer.echo(f"{mark} {v.number:>4}  {v.saved_at or '-':<32}  {what}")


@twin_app.command("restore", no_args_is_help=True)
def restore_cmd(
    twin_dir: Annotated[Path, typer.Argument(help="Twin directory.")],
    version: Annotated[int, typer.Option("--version", help="Version to bring back.")],
) -> None:
    """Make an older version current again (saved as a new version; nothing is deleted)."""
    from ..twin import restore_version

    try:
        new = restore_version(twin_dir, version)
    except (ImmunetwinError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"restored version {version} of {twin_dir} as version {new}")


def register(app: typer.Typer) -> None:
    """Attach the ``twin`` command group."""
    app.add_typer(twin_app, name="twin")
