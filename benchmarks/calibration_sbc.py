"""Simulation-based calibration of the population fit and of the individual posteriors.

Draws ``--subjects`` synthetic subjects from a known population of the Baccam et al. (2006)
influenza model (log-normal random effects on beta, delta, p; 8-12 log10 titres per subject at
random days 0.5-10, normal noise sigma = 0.35, left-censored below the LOD 10^1.5 -- about half
of the values), fits the population (sigma a fixed effect), and checks

* the population means against the truth (z = (estimate - truth) / SE), also omega and sigma;
* each subject's individual posterior under the estimated population prior (the SAEM
  conditional distribution, or the Laplace approximation at the mode for ``laplace-em``):
  coverage of the true individual parameters by the 50% and 90% central intervals.

The last line is ``coverage90 = 0.xx``.

Usage::

    python benchmarks/calibration_sbc.py [--subjects 100] [--seed 0] [--method saem|laplace-em]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from immunetwin.inference import PopulationResult, fit_population
from immunetwin.inference._population_synth import SyntheticPopulation, synthetic_population


def coverage(res: PopulationResult, pop: SyntheticPopulation, level: float) -> pd.DataFrame:
    """Per (subject, parameter): whether the central ``level`` interval holds the truth."""
    iv = res.interval(level)
    hit = [
        bool(row.lower <= pop.truth[s][p] <= row.upper)
        for (s, p), row in iv.iterrows()  # type: ignore[misc]
    ]
    return pd.DataFrame({"hit": hit}, index=iv.index)


def run(
    n: int, seed: int, method: str
) -> tuple[PopulationResult, SyntheticPopulation, dict[str, float]]:
    pop = synthetic_population(n, seed=seed)
    problems = pop.problems()
    t0 = time.perf_counter()
    res = fit_population(
        problems,
        random=list(pop.random),
        fixed_effects=["sigma_titer"],
        method=method,  # type: ignore[arg-type]
        seed=seed,
    )
    wall = time.perf_counter() - t0
    c90 = coverage(res, pop, 0.9)
    c50 = coverage(res, pop, 0.5)
    out = {
        "wall": wall,
        "coverage90": float(c90["hit"].mean()),
        "coverage50": float(c50["hit"].mean()),
    }
    for p in pop.random:
        out[f"c90_{p}"] = float(c90.xs(p, level="parameter")["hit"].mean())
        out[f"c50_{p}"] = float(c50.xs(p, level="parameter")["hit"].mean())
    return res, pop, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", default="saem", choices=["saem", "laplace-em"])
    args = ap.parse_args()
    res, pop, out = run(args.subjects, args.seed, args.method)
    print(
        f"{args.subjects} synthetic subjects (seed {args.seed}), "
        f"{res.n_observations} log10 titres, {100 * pop.censored_share:.0f}% censored at LOD "
        f"10^1.5; method {res.method}; fit {out['wall']:.1f} s"
    )
    se = res.standard_errors
    print("\npopulation parameters: estimate, SE, truth, z = (estimate - truth)/SE")
    rows = []
    for p in pop.random:
        r = se.loc[f"mu({p})"]
        truth = pop.mean_theta[p]
        rows.append((f"mu({p}) [log]", r["estimate"], r["se"], truth))
    for p in pop.random:
        r = se.loc[f"omega({p})"]
        rows.append((f"omega({p}) [var]", r["estimate"], r["se"], pop.sd[p] ** 2))
    r = se.loc["fixed(sigma_titer)"]
    rows.append(("sigma [log]", r["estimate"], r["se"], float(np.log(pop.sigma))))
    for name, est, s, truth in rows:
        print(f"  {name:20s} {est:10.4f} {s:8.4f} {truth:10.4f}   z = {(est - truth) / s:+.2f}")
    zs = [
        (se.loc[f"mu({p})", "estimate"] - pop.mean_theta[p]) / se.loc[f"mu({p})", "se"]
        for p in pop.random
    ]
    print(f"max |z| of the population means = {max(abs(z) for z in zs):.2f}")
    print("\nindividual posterior interval coverage (truth inside):")
    for p in pop.random:
        print(f"  {p:8s} 50%: {out[f'c50_{p}']:.2f}   90%: {out[f'c90_{p}']:.2f}")
    print(f"  all      50%: {out['coverage50']:.2f}   90%: {out['coverage90']:.2f}")
    print(f"coverage90 = {out['coverage90']:.2f}")


if __name__ == "__main__":
    main()
