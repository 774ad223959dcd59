"""``python -m immunetwin.demo``: a digital twin of a real person, from real data shipped with the package.

Participant ``p1`` of Ke et al. 2022 (daily nasal-swab SARS-CoV-2 RNA; Shedding Hub, CC BY 4.0;
see ``immunetwin/datasets/ATTRIBUTION.md``). The demo

1. estimates a population prior from other participants (cross-fitting: never from p1),
2. builds p1's twin (Ke et al. 2022 within-host model) from the measurements up to day 3 after
   symptom onset,
3. updates it with the day-4 measurement (sequential Monte Carlo),
4. forecasts the rest of the infection and compares no treatment with an antiviral started on
   day 4 or on day 7,
5. writes the twin to ``out/demo/twin/`` and the HTML report to ``out/demo/report.html``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL = "ke2022_sarscov2"
ANALYTE = "nasal_SARSCoV2"
SUBJECT = "p1"
#: Model start on the symptom-onset clock (infection about 11 days before onset).
T0 = -11.0


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced."""

    twin_dir: Path
    report: Path
    seconds: float
    comparison: Any
    forecast: Any
    optimum: Any


def _population_prior(ds: Any, spec: Any, subject: str, population_subjects: int) -> Any:
    """A population prior from other participants with >= 5 detections (never ``subject``)."""
    from .data import Censoring
    from .twin import twin_config
    from .validate import population_prior_from

    config = twin_config(ds, spec, analytes=[ANALYTE], t0=T0)
    others = []
    for s in ds.subject_ids:
        obs = [o for o in ds.observations if o.subject == s and o.analyte == ANALYTE]
        if s != subject and sum(o.censoring is Censoring.NONE for o in obs) >= 5:
            others.append(s)
    problems = {s: config.problem(spec, ds, s, None) for s in others[:population_subjects]}
    return population_prior_from(problems, method="fallback", starts=8)


def run_demo(
    out: Path,
    *,
    particles: int = 1000,
    population_subjects: int = 8,
    cutoff_day: float = 3.0,
    subject: str = SUBJECT,
    show_progress: bool = True,
) -> DemoResult:
    """Run the demo (smaller ``particles`` / ``population_subjects`` for a quick check)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from . import datasets
    from .data import read_dataset
    from .model import library
    from .twin import Constraint, Scenario, build_twin, write_report

    console = Console(quiet=not show_progress, highlight=False)
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task("reading the shipped data (Ke et al. 2022 via Shedding Hub)", total=7)
        ds = read_dataset(datasets.path())
        spec = library.get(MODEL)
        prog.advance(task)

        prog.update(
            task, description=f"population prior from {population_subjects} other participants"
        )
        prior = _population_prior(ds, spec, subject, population_subjects)
        prog.advance(task)

        prog.update(task, description=f"calibrating {subject}'s twin on days <= {cutoff_day:g}")
        mine = sorted(
            (o for o in ds.observations if o.subject == subject and o.analyte == ANALYTE),
            key=lambda o: o.time,
        )
        later = [o for o in mine if o.time > cutoff_day]
        twin = build_twin(
            ds,
            spec,
            subject=subject,
            analytes=[ANALYTE],
            cutoff_day=cutoff_day,
            prior=prior,
            t0=T0,
            particles=particles,
            horizon=float(mine[-1].time) + 4.0,
            seed=1,
        )
        twin.calibrate()
        prog.advance(task)

        prog.update(task, description=f"updating with the day-{later[0].time:g} measurement")
        twin.update([later[0]])
        prog.advance(task)

        prog.update(task, description="forecasting and comparing antiviral start days")
        fc = twin.forecast()
        now = later[0].time
        scenarios = [Scenario.none(), Scenario.antiviral(now), Scenario.antiviral(now + 3)]
        comp = twin.what_if(scenarios)
        opt = twin.optimise(
            {"start": [float(d) for d in range(-2, 9)]}, "max:start", [Constraint("auc", 0.5, 0.9)]
        )
        prog.advance(task)

        prog.update(task, description="saving the twin")
        twin_dir = twin.save(out / "twin", force=True)
        prog.advance(task)
        prog.update(task, description="writing the HTML report")
        report = write_report(twin, out / "report.html", scenarios)
        prog.advance(task)
        prog.update(task, description="done")
    seconds = time.perf_counter() - started
    return DemoResult(twin_dir, report, seconds, comp, fc, opt)


def main(argv: list[str] | None = None) -> int:
    """Run the demo and print what it found."""
    ap = argparse.ArgumentParser(
        prog="python -m immunetwin.demo", description=__doc__.splitlines()[0]
    )
    ap.add_argument(
        "--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)"
    )
    ap.add_argument(
        "--particles", type=int, default=1000, help="posterior particles (default 1000)"
    )
    args = ap.parse_args(argv)
    res = run_demo(args.out, particles=args.particles)
    summ = res.comparison.summary()
    print()
    print(f"Twin of participant {SUBJECT} (Ke et al. 2022, CC BY 4.0), model {MODEL}:")
    for _, r in summ.iterrows():
        print(
            f"  {r['scenario']:<26} viral AUC {r['auc_median']:6.1f} log10xdays, "
            f"cleared on day {r['clearance_median']:.1f}, P(AUC halved) {r['p_auc_halved']:.2f}"
        )
    best = res.optimum.best
    when = "none in days -2..8" if best is None else f"day {best['start']:g}"
    print(
        "  latest antiviral start (90% efficacy) that still halves the viral AUC with 90% "
        f"probability: {when}"
    )
    from .store import Registry

    registry = Registry()
    record = registry.add_twin(
        args.out / "twin",
        name=f"demo: ke2022 {SUBJECT}",
        report=args.out / "report.html",
        refresh=True,  # a rerun of the demo updates its record
    )
    print(f"registered twin {record.id} (directory {record.path}) in {registry.url}")
    print(f"wrote {res.report}")
    print(f"finished in {res.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
