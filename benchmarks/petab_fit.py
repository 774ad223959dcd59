"""Calibration of the PEtab benchmark collection's immune problems from random starts.

For each problem of ``../shared/data/petab-benchmark-immune`` this script runs
:func:`immunetwin.inference.fit` from ``--starts`` Latin-hypercube starts (never the nominal
values) with seed ``--seed`` and prints:

* the objective at the nominal parameters (the collection's reported values) and the best one
  reached;
* the fraction of starts that reach the reference objective, ``min(nominal, best)`` + 0.1
  (PEtab's negative log-likelihood);
* the fraction the optimiser reports converged (a small gradient: see ``least_squares_batch``);
* the wall time and the time per start that reached the reference (``inf`` when none did).

pyPESTO + AMICI (the field's anchor) is not run here: AMICI is not built in this environment;
``benchmarks/petab_benchmark.py`` is still to be written.

Run: ``.venv/bin/python benchmarks/petab_fit.py [--starts 20] [--seed 0] [--max-iter 200]
[PROBLEM ...]`` (problem folder names; default all five).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from immunetwin.inference import FitOptions, PetabProblem, fit

ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "petab-benchmark-immune"
PROBLEMS = (
    "Perelson_Science1996",
    "Crauste_CellSystems2017",
    "Liu_IFACPapersOnLine2025",
    "Laske_PLOSComputBiol2019",
    "Raia_CancerResearch2011",
)


def run(name: str, starts: int, seed: int, max_iter: int) -> None:
    """Fit one problem and print its line."""
    path = next((ROOT / name).glob("*.yaml"))
    pr = PetabProblem(path)
    nominal = float(pr.objective(pr.nominal)[0])
    pr.objective(pr.nominal, gradient=True)  # compile before the clock starts
    t0 = time.perf_counter()
    res = fit(pr, starts=starts, seed=seed, options=FitOptions(max_iter=max_iter))
    wall = time.perf_counter() - t0
    obj = res.starts["objective"].to_numpy(float)
    ref = min(nominal, res.objective)
    reached = int(np.sum(obj <= ref + 0.1))
    flagged = int(res.starts["converged"].sum())
    per = wall / reached if reached else float("inf")
    print(
        f"{name:28s} nominal {nominal:10.3f}  best {res.objective:10.3f}  "
        f"reached {reached}/{starts}  flagged-converged {flagged}/{starts}  "
        f"wall {wall:7.1f} s  per reaching start {per:7.1f} s",
        flush=True,
    )


def main() -> None:
    """Parse the options and run the problems."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problems", nargs="*", default=list(PROBLEMS))
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-iter", type=int, default=200)
    args = ap.parse_args()
    for name in args.problems:
        run(name, args.starts, args.seed, args.max_iter)


if __name__ == "__main__":
    main()
