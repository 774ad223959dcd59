"""Cohort benchmark: many parameter sets of one stiff model, libRoadRunner vs the compiled backend.

Usage::

    python benchmarks/cohort.py [--n 10000] [--model within_host|FILE.xml] [--seed 1]

It simulates ``--n`` parameter sets (log-normal spread, SD 0.3 in log space, on four rate
constants) over t = 0..21 with 85 output times at rtol = atol = 1e-6:

* libRoadRunner (CVODE) in a Python loop over the sets (one RoadRunner, ``resetAll`` between
  sets), the competitor, measured at its leanest;
* immunetwin's compiled backend in one batch call.

It checks that every trajectory agrees (relative 1e-4 on values above atol; also at tight
tolerances on a subset, which separates engine disagreement from tolerance-level error), and
prints sets/second, single-simulation latency (median of 200 warm runs), cold start from the
SBML file to the first result (fresh caches; warm caches; libRoadRunner), the cost of forward
sensitivities for 4 parameters, and last ``ratio = X`` (our sets/s over libRoadRunner's).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from immunetwin.model import ModelSpec, from_sbml, to_sbml
from immunetwin.simulate import SolverOptions, simulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _models import BUILTIN, RATE_CONSTANTS  # noqa: E402

T_END, POINTS, TOL, AGREE = 21.0, 85, 1e-6, 1e-4


def load_model(name: str) -> ModelSpec:
    """A built-in benchmark model by name, or an SBML file."""
    if name in BUILTIN:
        return BUILTIN[name]()
    return from_sbml(name)


def spread_params(spec: ModelSpec, n: int, seed: int) -> tuple[list[str], pd.DataFrame]:
    """``n`` sets with a log-normal spread (SD 0.3 in log space) on four rate constants."""
    values = spec.parameter_values
    names = [p for p in RATE_CONSTANTS if p in values]
    if len(names) < 4:
        names = [p.id for p in spec.parameters if p.constant and p.value > 0][:4]
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({p: values[p] * rng.lognormal(0.0, 0.3, n) for p in names})
    return names, table


def species_selections(spec: ModelSpec) -> list[str]:
    """libRoadRunner selections of the species as SBML reports them."""
    return [s.id if s.has_only_substance_units else f"[{s.id}]" for s in spec.species]


def make_roadrunner(sbml: str, rtol: float, atol: float) -> Any:
    import roadrunner

    rr = roadrunner.RoadRunner(sbml)
    rr.setIntegrator("cvode")
    integ = rr.getIntegrator()
    integ.setValue("relative_tolerance", rtol)
    integ.setValue("absolute_tolerance", atol)
    integ.setValue("maximum_num_steps", 100_000)
    return rr


def roadrunner_loop(
    rr: Any, times: np.ndarray, table: pd.DataFrame, sels: list[str], via_init: bool = False
) -> np.ndarray:
    """The competitor: a Python loop of reset, set parameters, simulate (its fastest use)."""
    out = np.full((len(table), len(times), len(sels)), np.nan)
    names = [f"init({c})" if via_init else str(c) for c in table.columns]
    rows = table.to_numpy()
    tlist = times.tolist()
    for i in range(len(rows)):
        if via_init:  # initial assignments must see the values: slow in libRoadRunner
            for key, v in zip(names, rows[i], strict=True):
                rr.setValue(key, float(v))
            rr.resetAll()
        else:  # no initial assignments: set the values after the reset
            rr.resetAll()
            for key, v in zip(names, rows[i], strict=True):
                rr.setValue(key, float(v))
        with contextlib.suppress(RuntimeError):  # a failed set stays NaN
            out[i] = rr.simulate(times=tlist, selections=sels)
    return out


def max_rel(ours: np.ndarray, ref: np.ndarray, atol: float) -> tuple[float, float, int]:
    """Max relative difference on values above atol; fraction of such values off; sets off."""
    mask = np.abs(ref) > atol
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mask, np.abs(ours - ref) / np.abs(ref), 0.0)
    rel = np.nan_to_num(rel, nan=np.inf)
    off = rel > AGREE
    return float(rel.max()), float(off.sum() / max(mask.sum(), 1)), int(off.any(axis=(1, 2)).sum())


def median_us(fn: Any, repeats: int = 200) -> float:
    for _ in range(5):
        fn()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


_COLD = r"""
import json, sys, time
t = time.perf_counter()
import numpy as np
from immunetwin.model import from_sbml
from immunetwin.simulate import SolverOptions, simulate
t_import = time.perf_counter() - t
t = time.perf_counter()
spec = from_sbml(sys.argv[1])
t_read = time.perf_counter() - t
traj = simulate(spec, np.linspace(0.0, 21.0, 85), options=SolverOptions(rtol=1e-6, atol=1e-6))
total = time.perf_counter() - t
assert np.isfinite(traj.values).all()
print(json.dumps({"import": t_import, "read": t_read, "first_result": total}))
"""

_COLD_RR = r"""
import json, sys, time
t = time.perf_counter()
import roadrunner
t_import = time.perf_counter() - t
t = time.perf_counter()
rr = roadrunner.RoadRunner(sys.argv[1])
rr.simulate(times=[float(x) for x in range(0, 22)])
print(json.dumps({"import": t_import, "first_result": time.perf_counter() - t}))
"""


def cold_start(code: str, path: Path, env: dict[str, str]) -> dict[str, float]:
    res = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if res.returncode != 0:
        raise RuntimeError(f"cold-start subprocess failed:\n{res.stderr[-2000:]}")
    result: dict[str, float] = json.loads(res.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="number of parameter sets")
    ap.add_argument(
        "--model", default="within_host", help=f"built-in {sorted(BUILTIN)} or an SBML file"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check-n", type=int, default=200, help="sets re-checked at tight tolerances")
    args = ap.parse_args(argv)

    spec = load_model(args.model)
    times = np.linspace(0.0, T_END, POINTS)
    opts = SolverOptions(rtol=TOL, atol=TOL)
    names, table = spread_params(spec, args.n, args.seed)
    sbml = to_sbml(spec)
    sels = species_selections(spec)
    via_init = bool(spec.initial_assignments)
    print(
        f"model {spec.id}: {len(spec.species)} species, t = 0..{T_END:g}, {POINTS} outputs, "
        f"rtol = atol = {TOL:g}; {args.n} sets spreading {', '.join(names)}; {os.cpu_count()} CPUs"
    )

    # ---- libRoadRunner in a Python loop
    rr = make_roadrunner(sbml, TOL, TOL)
    roadrunner_loop(rr, times, table.iloc[:20], sels, via_init)  # warm up
    t = time.perf_counter()
    ref = roadrunner_loop(rr, times, table, sels, via_init)
    rr_secs = time.perf_counter() - t
    rr_rate = args.n / rr_secs

    # ---- ours, one batch call
    simulate(spec, times, params=table.iloc[:4], options=opts)  # compile / load from cache
    t = time.perf_counter()
    traj = simulate(spec, times, params=table, options=opts, errors="report")
    our_secs = time.perf_counter() - t
    our_rate = args.n / our_secs
    cols = [traj.index(s.id) for s in spec.species]
    ours = traj.values[:, :, cols]
    print(
        f"libRoadRunner loop : {rr_rate:10,.0f} sets/s  ({rr_secs:.2f} s, "
        f"{int(np.isnan(ref).any(axis=(1, 2)).sum())} failed)"
    )
    print(
        f"immunetwin compiled: {our_rate:10,.0f} sets/s  ({our_secs:.2f} s, {len(traj.failures)} failed)"
    )

    worst, frac, sets_off = max_rel(ours, ref, TOL)
    print(
        f"agreement at rtol=atol={TOL:g}: max relative difference {worst:.2e} on values > atol; "
        f"{sets_off} of {args.n} sets have a value off by > {AGREE:g} ({100 * frac:.3f}% of values)"
    )
    peak = np.max(np.abs(ref), axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_peak = np.nan_to_num(np.abs(ours - ref) / peak, nan=np.inf)
    print(
        f"  relative to each output's peak in its set: max difference {by_peak.max():.2e}; "
        f"{int((by_peak > AGREE).any(axis=(1, 2)).sum())} sets off by > {AGREE:g}"
    )
    k = min(args.check_n, args.n)
    tight = SolverOptions(rtol=1e-10, atol=1e-12)
    rr_tight = make_roadrunner(sbml, 1e-10, 1e-12)
    ref_t = roadrunner_loop(rr_tight, times, table.iloc[:k], sels, via_init)
    ours_t = simulate(spec, times, params=table.iloc[:k], options=tight, errors="report").values[
        :, :, cols
    ]
    worst_t, _, off_t = max_rel(ours_t, ref_t, 1e-9)
    print(
        f"agreement at rtol=1e-10, atol=1e-12 on {k} sets: max relative difference {worst_t:.2e}; "
        f"{off_t} sets off by > {AGREE:g}"
    )

    # ---- single-simulation latency (warm)
    one = {p: float(table[p].iloc[0]) for p in names}
    rr_lat = median_us(lambda: roadrunner_loop(rr, times, table.iloc[:1], sels, via_init))
    our_lat = median_us(lambda: simulate(spec, times, params=one, options=opts))
    print(
        f"single simulation (median of 200 warm runs): libRoadRunner {rr_lat:,.0f} us, "
        f"immunetwin {our_lat:,.0f} us"
    )

    # ---- sensitivities for 4 parameters
    sens_names = names[:4]
    simulate(spec, times, params=one, options=opts, sensitivities=sens_names)
    sens_lat = median_us(
        lambda: simulate(spec, times, params=one, options=opts, sensitivities=sens_names)
    )
    print(
        f"with sensitivities for {len(sens_names)} parameters ({', '.join(sens_names)}): {sens_lat:,.0f} us, "
        f"cost ratio {sens_lat / our_lat:.2f}x one simulation without"
    )

    # ---- cold start from an SBML file
    with tempfile.TemporaryDirectory(prefix="immunetwin-cold-") as tmp:
        path = Path(tmp) / f"{spec.id}.xml"
        path.write_text(sbml)
        env = {
            **os.environ,
            "IMMUNETWIN_CACHE": str(Path(tmp) / "itw"),
            "NUMBA_CACHE_DIR": str(Path(tmp) / "nb"),
        }
        empty = cold_start(_COLD, path, env)
        warm = cold_start(_COLD, path, env)
        env_new_model = {**env, "IMMUNETWIN_CACHE": str(Path(tmp) / "itw2")}
        new_model = cold_start(_COLD, path, env_new_model)
        rr_cold = cold_start(_COLD_RR, path, env)
    print(
        f"cold start, SBML file -> first result (after imports): empty caches {empty['first_result']:.2f} s; "
        f"new model with the solvers cached {new_model['first_result']:.2f} s; warm cache "
        f"{warm['first_result']:.3f} s (import immunetwin {warm['import']:.2f} s); libRoadRunner load+simulate "
        f"{rr_cold['first_result']:.3f} s (import {rr_cold['import']:.2f} s)"
    )

    print(f"ratio = {our_rate / rr_rate:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
