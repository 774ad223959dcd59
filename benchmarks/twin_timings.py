"""Timings of the digital twin: SMC update vs full re-fit, and forecasts.

Participant p1 of Ke et al. 2022 (shipped data), model ke2022_sarscov2, 1,000 particles.

* update: one new observation (day 4) assimilated into a twin calibrated on days <= 3; reported
  for the reweighting path (ESS stays high: cache look-up) and for a forced rejuvenation
  (resample, then the copies moved by up to 4 Metropolis-Hastings steps; forcing it at a high
  ESS leaves few copies, so the daily sequence below is the realistic case);
* re-fit: a new twin calibrated on days <= 4 (MAP fit + Laplace proposal + tempered SMC);
* forecast: 1,000 draws x 85 times, off the cache grid (one batched simulation) and on it;
* a daily sequence: calibrated on days <= 3, then days 4, 5, ... assimilated one at a time (the
  default rule: reweight, and resample + move only when the ESS falls below N/2), with the
  median time of the updates that did resample.

Run: ``python benchmarks/twin_timings.py`` (prints a table; medians of repeats).
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import pandas as pd

from immunetwin import datasets
from immunetwin.data import read_dataset
from immunetwin.inference import GaussianPrior
from immunetwin.twin import DigitalTwin, UpdateStep, build_twin

A = "nasal_SARSCoV2"
NAMES = ["beta", "delta1", "delta2", "piv", "V0", "sigma_v"]


def prior() -> GaussianPrior:
    # estimation scale: log, except delta2 (linear in the model)
    mean = dict(zip(NAMES, [*np.log([2e-9, 0.8]), 6.0, *np.log([700.0, 1e-7, 0.6])], strict=True))
    sd = [1.0, 0.8, 3.0, 0.8, 3.0, 0.3]
    cov = pd.DataFrame(np.diag(np.square(sd)), index=NAMES, columns=NAMES)
    return GaussianPrior(mean={k: float(v) for k, v in mean.items()}, cov=cov, source="benchmark")


def twin(ds, until: float, seed: int = 0) -> DigitalTwin:
    return build_twin(
        ds,
        "ke2022_sarscov2",
        subject="p1",
        analytes=[A],
        cutoff_day=until,
        prior=prior(),
        t0=-11.0,
        particles=1000,
        horizon=18.0,
        seed=seed,
    )


def main() -> None:
    ds = read_dataset(datasets.path())
    new = next(o for o in ds.observations if o.subject == "p1" and o.analyte == A and o.time == 4.0)
    twin(ds, 3.0).calibrate()  # compile / warm up
    rows = []
    upd, upd_move, refit, fc_off, fc_on = [], [], [], [], []
    for rep in range(3):
        tw = twin(ds, 3.0, seed=rep).calibrate()
        t = time.perf_counter()
        tw.update([new])
        upd.append(time.perf_counter() - t)
        tw2 = twin(ds, 3.0, seed=rep).calibrate()
        t = time.perf_counter()
        tw2.update([new], ess_threshold=1.1)  # force resampling + moves
        upd_move.append(time.perf_counter() - t)
        t = time.perf_counter()
        twin(ds, 4.0, seed=rep).calibrate()
        refit.append(time.perf_counter() - t)
        times = np.linspace(-11.0, 18.0, 85) + 0.01
        for _ in range(3):
            t = time.perf_counter()
            tw.forecast(times, states=False)
            fc_off.append(time.perf_counter() - t)
            t = time.perf_counter()
            tw.forecast(tw.cache_grid[::4][:85], states=False)
            fc_on.append(time.perf_counter() - t)
    seq, seq_moved, seq_move_times = [], 0, []
    later = sorted(
        (o for o in ds.observations if o.subject == "p1" and o.analyte == A and o.time > 3.0),
        key=lambda o: o.time,
    )
    for rep in range(3):
        tw = twin(ds, 3.0, seed=rep).calibrate()
        for o in later:
            t = time.perf_counter()
            tw.update([o])
            seq.append(time.perf_counter() - t)
            h = tw.history[-1]
            if isinstance(h, UpdateStep) and h.resampled:
                seq_moved += 1
                seq_move_times.append(seq[-1])
    med = statistics.median
    rows.append(("update, 1 observation, 1000 particles (reweight)", med(upd)))
    rows.append(("update, 1 observation, 1000 particles (forced resample + moves)", med(upd_move)))
    rows.append(("full re-fit on all data (fit + tempered SMC)", med(refit)))
    rows.append(("forecast 1000 draws x 85 times (simulated)", med(fc_off)))
    rows.append(("forecast 1000 draws x 85 times (cached grid)", med(fc_on)))
    rows.append((f"daily sequence of {len(later)} updates: median per update", med(seq)))
    rows.append((f"daily sequence of {len(later)} updates: mean per update", statistics.fmean(seq)))
    if seq_move_times:
        rows.append(("daily sequence: median of the updates that resampled", med(seq_move_times)))
    for name, sec in rows:
        print(f"{name:<62} {1000 * sec:9.1f} ms")
    print(
        f"speed-up of update over re-fit: {med(refit) / med(upd):.0f}x (reweight), "
        f"{med(refit) / med(upd_move):.0f}x (with moves)"
    )
    print(f"daily sequence: {seq_moved} of {len(seq)} updates resampled and moved")
    print(
        f"speed-up of the mean sequential update over re-fit: {med(refit) / statistics.fmean(seq):.0f}x"
    )
    assert math.isfinite(med(upd))


if __name__ == "__main__":
    main()
