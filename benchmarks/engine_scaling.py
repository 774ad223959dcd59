"""Engine scaling: the same work on SerialEngine, ProcessEngine(2) and DaskEngine(2), one run.

Work 1, a multi-start fit: the Baccam et al. (2006) influenza model of the library fitted to
synthetic log10 titres (five parameters, ``--starts`` starts, fixed seed). On the serial engine
all starts advance together as one batch; on the two-worker engines each worker runs half of the
starts as a batch of its own (one kernel thread per worker).

Work 2, independent simulations: ``--sims`` parameter sets of the same model (with forward
sensitivities to two parameters), integrated as one batch in this process or as blocks on the
engine's workers.

The serial engine is measured twice: with the kernel's own threads (the default; the batch is
spread over the cores by numba) and on one thread (``SolverOptions(parallel=False)``), so that the
ratios show both what an engine adds over in-kernel threads and over one core. Engine start-up
(worker processes, importing, loading cached kernels) is timed separately by a warm-up map, so
the ratios are of warm engines. Prints a table and the ratios ``serial(1 thread) / engine`` and
``serial(threads) / engine``.

Usage::

    python benchmarks/engine_scaling.py [--starts 32] [--sims 4000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from immunetwin.data import Dataset, Observation, Subject
from immunetwin.engine import AbstractEngine, DaskEngine, ProcessEngine, SerialEngine
from immunetwin.inference import CalibrationProblem, fit
from immunetwin.model import library
from immunetwin.simulate import SolverOptions, compile_model, simulate

TIMES = np.arange(0.25, 8.25, 0.25)
ESTIMATE = ["beta", "delta", "p", "c", "V0"]


def _data(seed: int = 3, sigma: float = 0.2) -> Dataset:
    spec = library.get("baccam2006_influenza")
    rng = np.random.default_rng(seed)
    y = np.log10(simulate(spec, TIMES)["titer"]) + sigma * rng.standard_normal(TIMES.size)
    obs = tuple(
        Observation("s1", float(t), "titer", float(v), "log10 TCID50/mL")
        for t, v in zip(TIMES, y, strict=True)
    )
    return Dataset((Subject("s1"),), obs)


def _problem(parallel: bool) -> CalibrationProblem:
    spec = library.get("baccam2006_influenza")
    return CalibrationProblem(
        spec,
        _data(),
        observables={"titer": "titer"},
        estimate=ESTIMATE,
        noise={"titer": 0.2},
        solver=SolverOptions(rtol=1e-6, atol=1e-9, max_steps=5000, parallel=parallel),
    )


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _sim_block(cm: Any, sens: np.ndarray, ps: np.ndarray) -> np.ndarray:
    y, _, status, _ = cm.run(TIMES, ps, sens_idx=sens, parallel=False)
    return np.asarray(status)


def _sims(engine: AbstractEngine | None, cm: Any, ps: np.ndarray, parallel: bool) -> int:
    sens = np.array([cm.slots.index("beta"), cm.slots.index("p")])
    if engine is None:
        _, _, status, _ = cm.run(TIMES, ps, sens_idx=sens, parallel=parallel)
        return int(np.sum(status == 0))
    blocks = np.array_split(ps, engine.workers)
    out = engine.map(partial(_sim_block, cm, sens), blocks, chunksize=1)
    return int(sum(int(np.sum(s == 0)) for s in out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--starts", type=int, default=32)
    ap.add_argument("--sims", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    spec = library.get("baccam2006_influenza")
    cm = compile_model(spec, sensitivities=True)
    rng = np.random.default_rng(0)
    ps = np.tile(cm.slot_values, (args.sims, 1))
    for name, sd in (("beta", 0.5), ("p", 0.5), ("c", 0.3)):
        ps[:, cm.slots.index(name)] *= np.exp(sd * rng.standard_normal(args.sims))
    pb_threads, pb_one = _problem(True), _problem(False)
    rows: list[tuple[str, float, float, float]] = []
    engines: list[tuple[str, Callable[[], AbstractEngine]]] = [
        ("ProcessEngine(2)", lambda: ProcessEngine(2)),
        ("DaskEngine(LocalCluster, 2 workers)", lambda: DaskEngine(workers=2)),
    ]
    # serial, with and without the kernel's threads
    for label, pb, par in (
        ("SerialEngine, kernel threads", pb_threads, True),
        ("SerialEngine, 1 thread", pb_one, False),
    ):
        fit(pb, starts=args.starts, seed=0, engine=SerialEngine())  # warm the kernels
        t_fit, res = _best(
            lambda pb=pb: fit(pb, starts=args.starts, seed=0, engine=SerialEngine()), args.repeat
        )
        t_sim, n_ok = _best(lambda par=par: _sims(None, cm, ps, par), args.repeat)
        rows.append((label, 0.0, t_fit, t_sim))
        print(
            f"{label:40s} fit {t_fit:7.2f} s (objective {res.objective:.4f})  sims {t_sim:6.2f} s ({n_ok} ok)"
        )
    for label, make in engines:
        with make() as eng:
            t0 = time.perf_counter()
            eng.map(abs, list(range(2 * eng.workers)), chunksize=1)
            fit(pb_one, starts=2 * eng.workers, seed=0, engine=eng)  # load kernels in workers
            _sims(eng, cm, ps[: 4 * eng.workers], False)
            t_start = time.perf_counter() - t0
            t_fit, res = _best(
                lambda eng=eng: fit(pb_one, starts=args.starts, seed=0, engine=eng), args.repeat
            )
            t_sim, n_ok = _best(lambda eng=eng: _sims(eng, cm, ps, False), args.repeat)
        rows.append((label, t_start, t_fit, t_sim))
        print(
            f"{label:40s} fit {t_fit:7.2f} s (objective {res.objective:.4f})  sims {t_sim:6.2f} s ({n_ok} ok)  start-up {t_start:.1f} s"
        )
    one = rows[1]
    thr = rows[0]
    print()
    print(
        f"{'engine':40s} {'start-up s':>10s} {'fit s':>8s} {'sims s':>8s} {'fit x1':>7s} {'sims x1':>7s} {'fit xT':>7s} {'sims xT':>7s}"
    )
    for label, t_start, t_fit, t_sim in rows:
        print(
            f"{label:40s} {t_start:10.1f} {t_fit:8.2f} {t_sim:8.2f} {one[2] / t_fit:7.2f} "
            f"{one[3] / t_sim:7.2f} {thr[2] / t_fit:7.2f} {thr[3] / t_sim:7.2f}"
        )
    print("x1: serial on one thread / this; xT: serial with kernel threads / this")


if __name__ == "__main__":
    main()
