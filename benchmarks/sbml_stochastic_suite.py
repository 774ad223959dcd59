"""Run the SBML Test Suite's stochastic cases (DSMTS and distrib) on ``simulate(method="ssa")``.

Usage::

    python benchmarks/sbml_stochastic_suite.py CASES_DIR [--runs 10000] [--seed 1] [--cases 1-40]

``CASES_DIR`` holds one folder per case (``NNNNN/NNNNN-settings.txt``, ``NNNNN-results.csv`` and
one SBML file). Each case is simulated ``--runs`` times at the settings' output times, and judged
by the suite's statistics at every time point where the expected standard deviation is positive:

* mean: ``Z = sqrt(n) * (sample mean - expected mean) / expected sd`` in ``meanRange``;
* sd: ``Y = sqrt(n / 2) * (sample variance / expected variance - 1)`` in ``sdRange``.

The exact pass rule used here (the suite asks for the statistics "at almost every time point"
and expects a few chance excursions): for each variable and each statistic, at most
``max(1, round(0.05 * points))`` time points may fall outside the range (3 of the suite's usual
51 points; the sd statistic assumes normal data, and for skewed distributions such as the
exponential its chance excursions beyond 5 are about 1% per point). Where the expected sd is 0, the runs must all hold the expected value.
A variable whose expected file gives a mean but no sd (the Cauchy cases: no mean exists, the
suite gives the median) is judged by its sample median: the expected median must lie between the
sample order statistics of ranks ``n/2 -+ 1.5 sqrt(n)`` (a distribution-free interval of about
three standard errors) at all but the allowed number of points. ``ln(X)`` columns compare the
logarithm of the runs (a count of 0, where the expected file says 0, counts as 0).

Prints one line per case (``pass``, ``FAIL`` with the worst statistics, or ``unsupported`` with
the feature) and last ``N passed, M failed, K unsupported``.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from immunetwin.errors import ImmunetwinError, UnsupportedFeature, UnsupportedSBMLFeature
from immunetwin.model import from_sbml
from immunetwin.simulate import simulate


def read_settings(path: Path) -> dict[str, str]:
    """The ``key: value`` lines of a settings file."""
    out = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _range(text: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in re.findall(r"-?[\d.]+(?:[eE][-+]?\d+)?", text)[:2])
    return lo, hi


def allowed_excursions(points: int) -> int:
    """How many time points of one statistic may fall outside its range."""
    return max(1, round(0.05 * points))


def judge(
    samples: np.ndarray, expected_mean: np.ndarray, expected_sd: np.ndarray | None,
    mean_range: tuple[float, float], sd_range: tuple[float, float],
) -> tuple[bool, str]:  # fmt: skip
    """Judge one variable: ``samples`` of shape (runs, T); returns (passed, worst statistics)."""
    n = samples.shape[0]
    if expected_sd is None:
        srt = np.sort(samples, axis=0)
        half = 1.5 * math.sqrt(n)
        lo_r = max(int(math.floor(n / 2 - half)), 0)
        hi_r = min(int(math.ceil(n / 2 + half)), n - 1)
        bad = int(np.sum((expected_mean < srt[lo_r]) | (expected_mean > srt[hi_r])))
        return bad <= allowed_excursions(len(expected_mean)), f"median misses {bad}"
    mean = samples.mean(axis=0)
    var = samples.var(axis=0, ddof=1)
    pos = expected_sd > 0
    exact = ~pos
    bad_exact = int(np.sum(exact & ((np.abs(mean - expected_mean) > 1e-9) | (var > 1e-18))))
    z = np.sqrt(n) * (mean[pos] - expected_mean[pos]) / expected_sd[pos]
    y = np.sqrt(n / 2) * (var[pos] / expected_sd[pos] ** 2 - 1)
    bad_z = int(np.sum((z <= mean_range[0]) | (z >= mean_range[1])))
    bad_y = int(np.sum((y <= sd_range[0]) | (y >= sd_range[1])))
    k = allowed_excursions(int(pos.sum()))
    ok = bad_exact == 0 and bad_z <= k and bad_y <= k
    zmax = float(np.max(np.abs(z))) if z.size else 0.0
    ymax = float(np.max(np.abs(y))) if y.size else 0.0
    return (
        ok,
        f"max|Z| {zmax:.2f} ({bad_z} out), max|Y| {ymax:.2f} ({bad_y} out), exact misses {bad_exact}",
    )


def run_case(folder: Path, runs: int, seed: int) -> tuple[str, str]:
    """Simulate and judge one case; returns (status, detail)."""
    case = folder.name
    settings = read_settings(folder / f"{case}-settings.txt")
    expected = pd.read_csv(folder / f"{case}-results.csv")
    sbml = sorted(folder.glob(f"{case}-sbml-*.xml"))[-1]
    start = float(settings["start"])
    times = np.linspace(start, start + float(settings["duration"]), int(settings["steps"]) + 1)
    amounts = set(_names(settings.get("amount", "")))
    try:
        spec = from_sbml(sbml)
        species = {s.id: s for s in spec.species}
        outputs = []
        for v in _names(settings["variables"]):
            if v in species and v in amounts:
                outputs.append(f"amount({v})")
            elif v in species:
                outputs.append(species[v].compartment)  # concentration = amount / size
                outputs.append(f"amount({v})")
            else:
                outputs.append(v)
        traj = simulate(spec, times, t0=start, method="ssa", runs=runs, seed=seed,
                        outputs=outputs)  # fmt: skip
    except (UnsupportedFeature, UnsupportedSBMLFeature) as exc:
        return "unsupported", str(exc)
    except ImmunetwinError as exc:
        return "FAIL", f"{type(exc).__name__}: {exc}"
    mean_range = _range(settings["meanRange"])
    sd_range = _range(settings["sdRange"])
    details = []
    passed = True
    for v in _names(settings["variables"]):
        if v in species and v in amounts:
            x = traj[f"amount({v})"]
        elif v in species:
            x = traj[f"amount({v})"] / traj[species[v].compartment]
        else:
            x = traj[v]
        x = np.atleast_2d(x)
        for col_mean, transform in ((f"{v}-mean", None), (f"ln({v})-mean", np.log)):
            if col_mean not in expected:
                continue
            xs = x
            if transform is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    xs = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)
            col_sd = col_mean[: -len("-mean")] + "-sd"
            sd = expected[col_sd].to_numpy(float) if col_sd in expected else None
            ok, detail = judge(xs, expected[col_mean].to_numpy(float), sd, mean_range, sd_range)
            passed &= ok
            details.append(f"{col_mean[:-5]}: {detail}")
    return ("pass" if passed else "FAIL"), "; ".join(details)


def _selected(cases_dir: Path, spec: str | None) -> list[Path]:
    folders = sorted(p for p in cases_dir.iterdir() if p.is_dir() and p.name.isdigit())
    if not spec:
        return folders
    lo, _, hi = spec.partition("-")
    return [p for p in folders if int(lo) <= int(p.name) <= int(hi or lo)]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases_dir", type=Path)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", default=None, help="a range of case numbers, e.g. 1-40")
    args = ap.parse_args(argv)
    counts = {"pass": 0, "FAIL": 0, "unsupported": 0}
    for folder in _selected(args.cases_dir, args.cases):
        t = time.perf_counter()
        status, detail = run_case(folder, args.runs, args.seed)
        counts[status] += 1
        print(f"{folder.name} {status:11s} {time.perf_counter() - t:6.1f}s  {detail}", flush=True)
    print(f"{counts['pass']} passed, {counts['FAIL']} failed, {counts['unsupported']} unsupported")
    return 0 if counts["FAIL"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
