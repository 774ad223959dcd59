"""Validation over subjects on the engine: serial against a 2-process pool, same work, one run.

Runs ``validate_forecast`` on ``ke2022daily`` (nasal RNA, cutoff day 3, the ``ke2022_sarscov2``
model) once on ``SerialEngine`` and once on ``ProcessEngine(2)`` (and, with ``--dask``, on a 2-worker
Dask ``LocalCluster``), checks that every engine gives the same records, and prints the wall times
and, last, ``ratio = X``: the parallel wall time over the serial one (goal on 2 cores: <= 0.6).
The pool is started before its timer (a long-lived service or cluster pays that once).

Usage::

    python benchmarks/validate_engine.py [--subjects N] [--particles P] [--dask]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from immunetwin.engine import AbstractEngine, DaskEngine, ProcessEngine, SerialEngine
from immunetwin.validate import ValidationResult, validate_forecast

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "shedding-hub" / "datasets"


def _run(engine: AbstractEngine, args: argparse.Namespace) -> tuple[float, ValidationResult]:
    subjects = None
    if args.subjects:
        from immunetwin.data import read_dataset

        ds = read_dataset(DATA / "ke2022daily.yaml")
        subjects = sorted({o.subject for o in ds.observations})[: args.subjects]
    t = time.perf_counter()
    res = validate_forecast(
        DATA / "ke2022daily.yaml",
        "ke2022_sarscov2",
        "nasal_SARSCoV2",
        cutoff_day=3.0,
        subjects=subjects,
        particles=args.particles,
        engine=engine,
    )
    return time.perf_counter() - t, res


def _warm(engine: AbstractEngine) -> None:
    """Start the workers and import the package in them (outside the timer)."""
    engine.map(_touch, list(range(engine.workers * 2)), chunksize=1)


def _touch(i: int) -> int:
    import immunetwin.validate  # noqa: F401

    return i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=None, help="only the first N subjects")
    ap.add_argument("--particles", type=int, default=1000)
    ap.add_argument("--dask", action="store_true", help="also run on a 2-worker Dask LocalCluster")
    args = ap.parse_args()
    serial_s, ref = _run(SerialEngine(), args)
    print(f"serial           {serial_s:8.1f} s  ({ref.summary['subjects']} subjects)")
    engines: list[tuple[str, AbstractEngine]] = [("processes:2", ProcessEngine(2))]
    if args.dask:
        engines.append(("dask LocalCluster(2)", DaskEngine(workers=2)))
    best = float("inf")
    for name, eng in engines:
        with eng:
            _warm(eng)
            wall, res = _run(eng, args)
        same = len(ref.records) == len(res.records) and all(
            a.subject == b.subject
            and np.allclose(list(a.forecast.values()), list(b.forecast.values()), rtol=1e-9)
            for a, b in zip(ref.records, res.records, strict=True)
        )
        print(f"{name:16s} {wall:8.1f} s  same records as serial: {same}")
        best = min(best, wall)
    print(f"ratio = {best / serial_s:.2f}")


if __name__ == "__main__":
    main()
