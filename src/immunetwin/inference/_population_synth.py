"""Synthetic populations with known parameters (simulation-based calibration, tests, benchmarks).

:func:`synthetic_population` draws subjects from a known log-normal population of the library's
Baccam et al. (2006) influenza model (random effects on ``beta``, ``delta`` and ``p``, an optional
age effect on ``beta``), simulates their log10 titres at 8-12 random times, adds normal noise of
known sigma and censors values below the limit of detection (left-censored, M3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data import Censoring, Dataset, Observation, Subject
from ..model import ModelSpec, library
from ..simulate import simulate
from ._maps import Estimate, ObservableMap
from ._problem import CalibrationProblem

__all__ = ["SyntheticPopulation", "synthetic_population"]

Array = np.ndarray[Any, Any]

#: Population of the synthetic design: log-scale means (natural medians) and sds.
TRUE_MEDIAN = {"beta": 3.2e-5, "delta": 4.0, "p": 0.05}
TRUE_SD = {"beta": 0.35, "delta": 0.3, "p": 0.4}
SIGMA = 0.35
LOD = 1.5


@dataclass(frozen=True, eq=False)
class SyntheticPopulation:
    """A synthetic population: the data, the truth and a problem factory."""

    spec: ModelSpec
    data: Dataset
    truth: dict[str, dict[str, float]]  # subject -> parameter -> natural value
    mean_theta: dict[str, float]
    sd: dict[str, float]
    sigma: float
    age_effect: float
    censored_share: float
    random: tuple[str, ...] = ("beta", "delta", "p")
    extra: dict[str, Any] = field(default_factory=dict)

    def problem(self, subject: str, *, estimate_sigma: bool = True) -> CalibrationProblem:
        """The calibration problem of one subject (random parameters, and sigma if asked)."""
        est: list[str | Estimate] = [
            Estimate("beta", 1e-7, 1e-2),
            Estimate("delta", 0.1, 50.0),
            Estimate("p", 1e-4, 10.0),
        ]
        fixed: dict[str, float] = {}
        if estimate_sigma:
            est.append(Estimate("sigma_titer", 0.05, 3.0))
        else:
            fixed["sigma_titer"] = self.sigma
        return CalibrationProblem(
            self.spec,
            self.data,
            observables={"titer": ObservableMap("titer")},
            estimate=est,
            subject=subject,
            fixed=fixed,
        )

    def problems(self, *, estimate_sigma: bool = True) -> dict[str, CalibrationProblem]:
        """Problems of all subjects."""
        return {s.id: self.problem(s.id, estimate_sigma=estimate_sigma) for s in self.data.subjects}


def synthetic_population(
    n: int = 100,
    *,
    seed: int = 0,
    sigma: float = SIGMA,
    lod: float = LOD,
    n_obs: tuple[int, int] = (8, 12),
    age_effect: float = 0.0,
    median: Mapping[str, float] | None = None,
    sd: Mapping[str, float] | None = None,
) -> SyntheticPopulation:
    """Draw ``n`` subjects from a known population and simulate censored log10 titres.

    Ages are uniform on 20-70 years; ``age_effect`` is the shift of ``log(beta)`` per year of
    age away from 45 (the population median of ``beta`` is that of a 45-year-old).
    """
    spec = library.get("baccam2006_influenza")
    rng = np.random.default_rng(seed)
    med = dict(TRUE_MEDIAN if median is None else median)
    sds = dict(TRUE_SD if sd is None else sd)
    names = tuple(med)
    subjects = []
    obs: list[Observation] = []
    truth: dict[str, dict[str, float]] = {}
    n_cens = 0
    n_all = 0
    for i in range(n):
        sid = f"sub{i:03d}"
        age = float(rng.uniform(20.0, 70.0))
        th = {p: float(np.log(med[p]) + sds[p] * rng.standard_normal()) for p in names}
        th["beta"] += age_effect * (age - 45.0)
        params = {p: float(np.exp(v)) for p, v in th.items()}
        m = int(rng.integers(n_obs[0], n_obs[1] + 1))
        times = np.sort(rng.choice(np.arange(0.5, 10.01, 0.5), size=m, replace=False))
        traj = simulate(spec, times, params=params)
        y = np.log10(np.maximum(np.asarray(traj["titer"], dtype=float), 1e-30))
        y = y + sigma * rng.standard_normal(m)
        for t, v in zip(times, y, strict=True):
            n_all += 1
            if v < lod:
                n_cens += 1
                obs.append(
                    Observation(
                        sid,
                        float(t),
                        "titer",
                        None,
                        "log10 TCID50/mL",
                        censoring=Censoring.LEFT,
                        limit=lod,
                    )
                )
            else:
                obs.append(Observation(sid, float(t), "titer", float(v), "log10 TCID50/mL"))
        subjects.append(Subject(sid, age=age))
        truth[sid] = params
    data = Dataset(tuple(subjects), tuple(obs))
    return SyntheticPopulation(
        spec=spec,
        data=data,
        truth=truth,
        mean_theta={p: float(np.log(v)) for p, v in med.items()},
        sd=sds,
        sigma=sigma,
        age_effect=age_effect,
        censored_share=n_cens / max(n_all, 1),
    )
