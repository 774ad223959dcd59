"""Compile (or load from numba's cache) every solver kernel once, in this process."""

from __future__ import annotations

import numpy as np

from ..model import ModelBuilder
from ._api import Method, SolverOptions, simulate

__all__ = ["warmup"]


def warmup() -> None:
    """Compile every solver kernel into numba's on-disk cache.

    The first simulation in a fresh environment compiles the solvers (tens of seconds); later
    processes load them from the cache. Run this once after installing (``make install`` does)
    so that parallel workers (e.g. pytest-xdist) never compile the same kernels at the same time.
    """
    b = ModelBuilder("warmup")
    b.parameter("k", 0.5).parameter("ts", 0.5)
    b.state("x", 1.0, "-k*x*piecewise(2, time >= ts, 1)").bolus("dose", "x", 1.0, at=0.25)
    spec = b.build()
    times = np.linspace(0.0, 1.0, 5)
    for method in Method:
        opts = SolverOptions(method=method)
        simulate(spec, times, options=opts)
        simulate(spec, times, options=opts, sensitivities=["k"])
        simulate(spec, times, options=opts, params={"k": [0.4, 0.5, 0.6]})
        simulate(
            spec,
            times,
            options=SolverOptions(method=method, parallel=False),
            params={"k": [0.4, 0.6]},
        )
