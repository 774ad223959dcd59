"""Synthetic data helpers for the inference tests (Baccam 2006 influenza model of the library)."""

from __future__ import annotations

from typing import Any

import numpy as np

from immunetwin.data import Censoring, Dataset, Intervention, InterventionKind, Observation, Subject
from immunetwin.model import ModelSpec
from immunetwin.simulate import simulate

TIMES = np.arange(0.5, 8.5, 0.5)


def make_data(
    spec: ModelSpec,
    *,
    seed: int = 0,
    sigma: float = 0.3,
    lod: float | None = 0.5,
    times: np.ndarray[Any, Any] = TIMES,
    params: dict[str, float] | None = None,
    subject: str = "s1",
    mode: str = "censor",
    interventions: tuple[Intervention, ...] = (),
) -> Dataset:
    """log10 titres with normal noise; below ``lod``: censored ("censor"), dropped ("drop") or
    imputed at the limit ("impute")."""
    rng = np.random.default_rng(seed)
    truth = simulate(spec, times, params=params or {})["titer"]
    y = np.log10(truth) + sigma * rng.standard_normal(times.size)
    obs = []
    for t, v in zip(times, y, strict=True):
        if lod is not None and v < lod:
            if mode == "drop":
                continue
            if mode == "impute":
                obs.append(Observation(subject, float(t), "titer", lod, "log10 TCID50/mL"))
                continue
            obs.append(
                Observation(
                    subject,
                    float(t),
                    "titer",
                    None,
                    "log10 TCID50/mL",
                    censoring=Censoring.LEFT,
                    limit=lod,
                )  # fmt: skip
            )
        else:
            obs.append(Observation(subject, float(t), "titer", float(v), "log10 TCID50/mL"))
    return Dataset((Subject(subject, age=40.0),), tuple(obs), interventions=interventions)


__all__ = ["TIMES", "Intervention", "InterventionKind", "make_data"]
