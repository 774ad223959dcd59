"""Population fit of the 46-person Kissler et al. (2021) SARS-CoV-2 Ct trajectories.

Data: ``../shared/data/kissler-ct-trajectories`` read by the data layer's adapter
(:func:`immunetwin.data.read_kissler2021`, ``ct_dat_clean.csv``), restricted to the 46 persons
and the rows of the fit-ready subset ``indiv_data_fig2.csv`` (see the folder's SOURCE.md). Ct is
right-censored at 40 (the LOD).

Model: a target-cell-limited model (T, I, V; V in copies/mL) compared with the data on the Ct
scale through Kissler's standard curve (``STANDARD_CURVES["kissler2021"]``), normal noise on the
Ct scale. The infection time ``t_inf`` is unknown: each person's model clock starts at their
own ``t_inf`` (:func:`immunetwin.inference.with_time_shift`), a random effect like ``beta``,
``delta`` and ``p``; ``sigma_ct`` is a fixed effect; ``c``, ``T0`` and ``I0`` are fixed.

Usage::

    python benchmarks/population_kissler.py [--method saem|laplace-em] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from immunetwin.data import STANDARD_CURVES, Dataset, read_kissler2021
from immunetwin.inference import (
    CalibrationProblem,
    Estimate,
    Noise,
    ObservableMap,
    fit_population,
    with_time_shift,
)
from immunetwin.model import ModelBuilder, ModelSpec

FOLDER = Path(
    os.environ.get(
        "KISSLER_DIR",
        str(Path(__file__).resolve().parents[2] / "shared" / "data" / "kissler-ct-trajectories"),
    )
)
ANALYTE = "SARS-CoV-2 RNA"


def tcl_model() -> ModelSpec:
    """Target-cell-limited SARS-CoV-2 model with an infection-time parameter ``t_inf``."""
    b = ModelBuilder("tcl_sarscov2_ct", name="target-cell-limited SARS-CoV-2 model")
    b.parameter("beta", 1.6e-8, unit="mL/copies/d", lower=1e-12, upper=1e-3)
    b.parameter("delta", 1.2, unit="1/d", lower=0.05, upper=20.0)
    b.parameter("p", 2.5e4, unit="copies/cell/d", lower=1.0, upper=1e8)
    b.parameter("c", 10.0, unit="1/d", lower=1.0, upper=100.0)
    b.parameter("t_inf", -5.0, unit="d", lower=-25.0, upper=5.0, log_scale=False)
    b.parameter("sigma_ct", 2.0, unit="cycles", lower=0.3, upper=10.0)
    b.state("T", 1.33e5, "-beta*T*V", unit="cell/mL", name="target cells")
    b.state("I", 1.0 / 30.0, "beta*T*V - delta*I", unit="cell/mL", name="infected cells")
    b.state("V", 1.0, "p*I - c*V", unit="copies/mL", name="viral RNA")
    b.observable("viral_rna", "V", noise="log10normal", sigma=0.5)
    return b.build()


def kissler_dataset() -> Dataset:
    """The 46-person fit-ready subset, read through the adapter."""
    full = read_kissler2021(FOLDER)
    fig2 = pd.read_csv(FOLDER / "indiv_data_fig2.csv")
    keep = {(str(i), float(t)) for i, t in zip(fig2["id"], fig2["t"], strict=True)}
    obs = tuple(o for o in full.observations if (o.subject, float(o.time)) in keep)
    ids = {o.subject for o in obs}
    subjects = tuple(s for s in full.subjects if s.id in ids)
    return dataclasses.replace(full, subjects=subjects, observations=obs)


def make_problem(spec: ModelSpec, data: Dataset, subject: str) -> CalibrationProblem:
    problem = CalibrationProblem(
        spec,
        data,
        observables={
            ANALYTE: ObservableMap(
                "V", transform="ct", standard_curve=STANDARD_CURVES["kissler2021"]
            )
        },
        noise={ANALYTE: Noise("sigma_ct")},
        estimate=[
            Estimate("beta", 1e-11, 1e-5),
            Estimate("delta", 0.05, 20.0),
            Estimate("p", 10.0, 1e8),
            Estimate("t_inf", -25.0, 5.0, log_scale=False),
            Estimate("sigma_ct", 0.3, 10.0),
        ],
        subject=subject,
        t0=-40.0,
    )
    return with_time_shift(problem, "t_inf", step=0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="saem", choices=["saem", "laplace-em"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    spec = tcl_model()
    data = kissler_dataset()
    obs = data.observations
    n_cens = sum(o.censoring.value != "none" for o in obs)
    print(
        f"Kissler 2021: {len(data.subjects)} persons, {len(obs)} Ct values "
        f"({n_cens} censored at Ct 40)"
    )
    t_setup = time.perf_counter()
    problems = {s.id: make_problem(spec, data, s.id) for s in data.subjects}
    setup = time.perf_counter() - t_setup
    t0 = time.perf_counter()
    res = fit_population(
        problems,
        random=["beta", "delta", "p", "t_inf"],
        fixed_effects=["sigma_ct"],
        method=args.method,
        seed=args.seed,
        initial={"beta": 1.6e-8, "delta": 1.2, "p": 2.5e4, "t_inf": -5.0, "sigma_ct": 3.0},
        initial_sd={"beta": 0.5, "delta": 0.5, "p": 0.5, "t_inf": 2.0},
    )
    wall = time.perf_counter() - t0
    print(f"problem setup: {setup:.2f} s (46 problems, compiled model shared)")
    print(res)
    print("\npopulation parameters (estimate on estimation scale, natural, SEs):")
    with pd.option_context("display.width", 140, "display.float_format", "{:.4g}".format):
        print(res.standard_errors)
    # per-subject fit quality
    rows = []
    for sid, prob in problems.items():
        th = res.individual_theta.loc[sid].to_numpy()
        mu, _, _ = prob.predict(th[None, :], jacobian=False)
        frame = prob.observations
        pos = frame["censoring"].to_numpy() == "none"
        resid = frame["value"].to_numpy()[pos] - mu[0][pos]
        cens_ok = mu[0][~pos] >= frame["lower"].to_numpy()[~pos] - 2 * res.fixed_effects["sigma_ct"]
        rows.append(
            {
                "subject": sid,
                "n": len(frame),
                "censored": int((~pos).sum()),
                "rmse_ct": float(np.sqrt(np.mean(resid**2))) if resid.size else np.nan,
                "censored_consistent": float(np.mean(cens_ok)) if cens_ok.size else np.nan,
                "t_inf": float(res.individual.loc[sid, "t_inf"]),
                "peak_ct_min_obs": float(frame["value"][pos].min()) if pos.any() else np.nan,
            }
        )
    q = pd.DataFrame(rows).set_index("subject")
    print("\nper-subject fit quality (EBEs):")
    with pd.option_context("display.max_rows", 60, "display.float_format", "{:.3g}".format):
        print(q)
    print(
        f"\nmedian RMSE {q['rmse_ct'].median():.2f} Ct (sigma_ct = "
        f"{res.fixed_effects['sigma_ct']:.2f}); censored points consistent: "
        f"{q['censored_consistent'].mean():.2f}"
    )
    print(f"method = {res.method}, converged = {res.converged}, warnings = {list(res.warnings)}")
    print(f"wall time = {wall:.1f} s")


if __name__ == "__main__":
    main()
