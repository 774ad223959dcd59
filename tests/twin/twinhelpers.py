"""Helpers: a twin of a real participant (shipped Ke et al. 2022 data)."""

from __future__ import annotations

import math

import pandas as pd

from immunetwin.inference import GaussianPrior
from immunetwin.twin import DigitalTwin, build_twin

ANALYTE = "nasal_SARSCoV2"
NAMES = ["beta", "delta1", "delta2", "piv", "V0", "sigma_v"]


def make_prior() -> GaussianPrior:
    mean = {
        "beta": math.log(2e-9),
        "delta1": math.log(0.8),
        "delta2": 6.0,  # linear scale in the model
        "piv": math.log(700.0),
        "V0": math.log(1e-7),
        "sigma_v": math.log(0.6),
    }
    sd = {"beta": 1.0, "delta1": 0.8, "delta2": 3.0, "piv": 0.8, "V0": 3.0, "sigma_v": 0.3}
    cov = pd.DataFrame(0.0, index=NAMES, columns=NAMES)
    for n in NAMES:
        cov.loc[n, n] = sd[n] ** 2
    return GaussianPrior(mean=mean, cov=cov, source="test prior")


def subject_data(ds, subject: str, *, until: float | None = None):
    obs = [o for o in ds.observations if o.subject == subject and o.analyte == ANALYTE]
    if until is not None:
        obs = [o for o in obs if o.time <= until]
    return ds.with_step("test", subjects=(ds.subject(subject),), observations=tuple(obs))


def make_twin(
    ds, prior, *, until: float | None = 3.0, particles: int = 300, seed: int = 0
) -> DigitalTwin:
    return build_twin(
        ds,
        "ke2022_sarscov2",
        subject="p1",
        analytes=[ANALYTE],
        cutoff_day=until,
        prior=prior,
        t0=-11.0,
        particles=particles,
        horizon=18.0,
        seed=seed,
    )
