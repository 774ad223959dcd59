"""Simulation-based calibration of the population fit (fast check and the slow >= 100-subject run)."""

from __future__ import annotations

import numpy as np
import pytest

from immunetwin.inference import PopulationOptions, PopulationResult, fit_population
from immunetwin.inference._population_synth import SyntheticPopulation, synthetic_population

RANDOM = ["beta", "delta", "p"]


def _coverage(res: PopulationResult, pop: SyntheticPopulation, level: float) -> float:
    iv = res.interval(level)
    hits = [row.lower <= pop.truth[s][p] <= row.upper for (s, p), row in iv.iterrows()]
    return float(np.mean(hits))


def test_small_population_recovers_means_and_shrinks() -> None:
    pop = synthetic_population(12, seed=3)
    res = fit_population(
        pop.problems(),
        random=RANDOM,
        fixed_effects=["sigma_titer"],
        seed=1,
        options=PopulationOptions(n_burn=80, n_smooth=40, conditional_draws=40),
    )
    assert res.method == "saem"
    assert res.individual.shape == (12, 4)
    for p in RANDOM:
        # roughly recovered: within 0.6 on the log scale (ln 1.8) and within 4 SE
        err = res.mean_theta[p] - pop.mean_theta[p]
        assert abs(err) < 0.6, (p, err)
        assert abs(err) < 4 * res.standard_errors.loc[f"mu({p})", "se"], p
    assert 0.2 < res.fixed_effects["sigma_titer"] < 0.6
    # the empirical Bayes estimates shrink toward the population mean
    for p in RANDOM:
        ebe = res.individual_theta[p].to_numpy()
        truth = np.log([pop.truth[s][p] for s in res.subjects])
        assert np.var(ebe) < np.var(truth) + 0.05, p
        assert np.var(ebe) < res.omega.loc[p, p] + 1e-9, p
    assert np.isfinite(res.objective)
    assert res.wall_time > 0  # timings live in benchmarks/, not in unit tests


@pytest.mark.slow
def test_sbc_coverage_100_subjects() -> None:
    pop = synthetic_population(100, seed=0)
    res = fit_population(pop.problems(), random=RANDOM, fixed_effects=["sigma_titer"], seed=0)
    c90 = _coverage(res, pop, 0.9)
    c50 = _coverage(res, pop, 0.5)
    assert 0.85 <= c90 <= 0.95, c90
    assert 0.40 <= c50 <= 0.60, c50
    se = res.standard_errors
    for p in RANDOM:
        z = (se.loc[f"mu({p})", "estimate"] - pop.mean_theta[p]) / se.loc[f"mu({p})", "se"]
        assert abs(z) < 2.5, (p, z)
    zs = (se.loc["fixed(sigma_titer)", "estimate"] - np.log(pop.sigma)) / se.loc[
        "fixed(sigma_titer)", "se"
    ]
    assert abs(zs) < 3.0
