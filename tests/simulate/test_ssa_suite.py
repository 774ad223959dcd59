"""simulate(method="ssa") on cases of the SBML stochastic test suite (DSMTS and distrib).

The suite's statistics, with fewer runs than its 10,000 (2,000, to stay fast): at each output
time with a positive expected sd, ``Z = sqrt(n) (mean - expected) / sd`` must lie in the case's
``meanRange`` and ``Y = sqrt(n/2) (var / sd**2 - 1)`` in its ``sdRange``, allowing
``max(1, round(0.05 * points))`` chance excursions per statistic (as
``benchmarks/sbml_stochastic_suite.py`` does); with sd 0, every run must hold the expected value.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from immunetwin.errors import UnsupportedFeature
from immunetwin.model import from_sbml
from immunetwin.simulate import simulate

RUNS = 2000


def _settings(folder: Path) -> dict[str, str]:
    text = (folder / f"{folder.name}-settings.txt").read_text()
    return {
        k.strip(): v.strip() for k, v in (ln.split(":", 1) for ln in text.splitlines() if ":" in ln)
    }


def _range(text: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in re.findall(r"-?[\d.]+", text)[:2])
    return lo, hi


@pytest.mark.parametrize(
    "case",
    [
        "00002",  # birth-death, local parameters
        "00010",  # species in concentration (no only-substance units)
        "00018",  # a compartment of size != 1
        "00024",  # immigration-death with boundary species
        "00028",  # an event resets a count
        "00030",  # dimerisation, two species, stoichiometry 2
        "00040",  # distrib: normal draws at events, clock by a rate rule
        "00058",  # distrib: truncated binomial
        "00064",  # distrib: truncated lognormal (ln(X) statistics)
        "00096",  # distrib: truncated normal with bounds given high-then-low
    ],
)
def test_stochastic_suite_case(shared_data: Path, case: str) -> None:
    folder = shared_data / "sbml-stochastic-suite" / "cases" / case
    s = _settings(folder)
    expected = pd.read_csv(folder / f"{case}-results.csv")
    spec = from_sbml(next(folder.glob("*.xml")))
    times = np.linspace(
        float(s["start"]), float(s["start"]) + float(s["duration"]), int(s["steps"]) + 1
    )
    variables = [v.strip() for v in s["variables"].split(",")]
    traj = simulate(
        spec, times, method="ssa", runs=RUNS, seed=2024, outputs=[f"amount({v})" for v in variables]
    )
    zr, yr = _range(s["meanRange"]), _range(s["sdRange"])
    for v in variables:
        x = traj[f"amount({v})"]
        col = f"{v}-mean" if f"{v}-mean" in expected else f"ln({v})-mean"
        if col.startswith("ln("):
            x = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)
        mu = expected[col].to_numpy(float)
        sd = expected[col.replace("-mean", "-sd")].to_numpy(float)
        pos = sd > 0
        np.testing.assert_allclose(x[:, ~pos].mean(0), mu[~pos], atol=1e-9)
        assert np.all(x[:, ~pos].std(0) == 0)
        z = np.sqrt(RUNS) * (x.mean(0)[pos] - mu[pos]) / sd[pos]
        y = np.sqrt(RUNS / 2) * (x.var(0, ddof=1)[pos] / sd[pos] ** 2 - 1)
        allowed = max(1, round(0.05 * pos.sum()))
        assert np.sum((z <= zr[0]) | (z >= zr[1])) <= allowed, (v, z)
        assert np.sum((y <= yr[0]) | (y >= yr[1])) <= allowed, (v, y)


def test_distrib_draws_are_refused_by_the_ode_backends(shared_data: Path) -> None:
    spec = from_sbml(
        shared_data / "sbml-stochastic-suite" / "cases" / "00040" / "00040-sbml-l3v2.xml"
    )
    with pytest.raises(UnsupportedFeature, match="distrib") as info:
        simulate(spec, [0.0, 1.0])
    assert info.value.element == "E0"
