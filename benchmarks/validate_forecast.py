"""Predictive validation of twins on three real Shedding Hub cohorts (cross-fitted priors).

Runs ``validate_forecast`` on

* ``ke2022daily``: nasal-swab RNA (log10 copies/mL), personalised on days <= 3 after symptom onset;
* ``woelfel2020virological``: sputum RNA (log10 copies/mL), personalised on the first 5 measurements;
* ``kissler2021viral``: Ct (raw cycles, through the Kissler et al. standard curve), personalised on
  days <= 2 after confirmation,

all with the ``ke2022_sarscov2`` model, writes ``out/validate/<name>.json`` and ``.png`` and prints
the summary figures (Kissler twice: every later value, and the first 14 days after the cutoff).
Usage::

    python benchmarks/validate_forecast.py [--subjects N] [--population fallback|fit_population|auto]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from immunetwin.data import read_dataset
from immunetwin.validate import validate_forecast

RUNS = (
    ("ke2022daily", "nasal_SARSCoV2", {"cutoff_day": 3.0}),
    ("woelfel2020virological", "sputum", {"first_k": 5}),
    ("kissler2021viral", "AN_OPS_SARSCoV2_ct", {"cutoff_day": 2.0}),
    # Kissler et al. kept testing for weeks after clearance: 94% of the later values are
    # negatives; the 14-day horizon scores the part of the course where forecasts differ
    ("kissler2021viral", "AN_OPS_SARSCoV2_ct", {"cutoff_day": 2.0, "horizon": 14.0}),
)
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "shedding-hub" / "datasets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=None, help="forecast only the first N subjects")
    ap.add_argument("--population", default="fallback", help="population prior method")
    ap.add_argument("--out", type=Path, default=Path("out/validate"))
    args = ap.parse_args()
    keys = (
        "subjects",
        "records",
        "censored_records",
        "coverage_50",
        "coverage_90",
        "median_abs_error",
        "baseline_median_abs_error",
        "error_reduction",
        "empirical_baseline_median_abs_error",
        "coverage_90_detected",
        "error_reduction_detected",
        "crps",
        "baseline_crps",
        "population_method",
        "seconds",
    )
    print(" | ".join(("dataset",) + keys))
    for name, analyte, split in RUNS:
        path = DATA / f"{name}.yaml"
        tag = name + ("" if "horizon" not in split else f"_h{split['horizon']:g}")
        subjects = None
        if args.subjects is not None:
            ds = read_dataset(path)
            subjects = list(ds.subject_ids[: args.subjects])
        res = validate_forecast(
            path, "ke2022_sarscov2", analyte, subjects=subjects, population=args.population, **split
        )
        res.save(args.out / f"{tag}.json")
        res.plot(args.out / f"{tag}.png")
        s = res.summary
        cells = [f"{s.get(k):.3f}" if isinstance(s.get(k), float) else str(s.get(k)) for k in keys]
        print(" | ".join([tag, *cells]), flush=True)


if __name__ == "__main__":
    main()
