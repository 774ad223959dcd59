"""Plot of a predictive validation: observed vs forecast per subject."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._records import ForecastRecord, ValidationSummary


def plot_validation(
    records: Sequence[ForecastRecord],
    summary: ValidationSummary,
    out: Path,
    *,
    max_subjects: int = 24,
) -> Path:
    """One panel per subject: forecast median and 50%/90% bands, baseline median, observations
    (censored ones as open triangles at the limit)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by: dict[str, list[ForecastRecord]] = {}
    for r in records:
        by.setdefault(r.subject, []).append(r)
    subjects = list(by)[:max_subjects]
    n = max(len(subjects), 1)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    scale = summary.scale
    for ax, s in zip(axes.flat, subjects, strict=False):
        rs = sorted(by[s], key=lambda r: r.time)
        t = [r.time for r in rs]
        f = {k: [r.forecast[k] for r in rs] for k in ("q05", "q25", "q50", "q75", "q95")}
        base = [r.baseline["q50"] for r in rs]
        if len(t) > 1:
            ax.fill_between(t, f["q05"], f["q95"], color="tab:blue", alpha=0.18, lw=0)
            ax.fill_between(t, f["q25"], f["q75"], color="tab:blue", alpha=0.3, lw=0)
            ax.plot(t, f["q50"], color="tab:blue", lw=1.2, label="twin forecast")
            ax.plot(t, base, "--", color="tab:orange", lw=1, label="population baseline")
        else:  # one held-out time: bars instead of bands
            ax.vlines(t, f["q05"], f["q95"], color="tab:blue", alpha=0.3, lw=6)
            ax.vlines(t, f["q25"], f["q75"], color="tab:blue", alpha=0.5, lw=6)
            ax.plot(t, f["q50"], "_", color="tab:blue", ms=14, mew=2, label="twin forecast")
            ax.plot(t, base, "x", color="tab:orange", ms=6, label="population baseline")
            ax.set_xlim(t[0] - 1.0, t[0] + 1.0)
        det = [(r.time, r.observed) for r in rs if r.censoring == "none" and r.observed is not None]
        cen = [(r.time, r.limit) for r in rs if r.censoring != "none" and r.limit is not None]
        if det:
            ax.plot(*zip(*det, strict=True), "o", color="k", ms=3, label="observed")
        if cen:
            ax.plot(
                *zip(*cen, strict=True),
                "v",
                mfc="none",
                color="grey",
                ms=4,
                label="negative (limit)",
            )
        _limit_axis(ax, summary.reportable_limit, det, cen)
        if scale == "Ct":
            ax.invert_yaxis()
        ax.set_title(s, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(subjects) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="best")
    sc = summary.scores
    fig.suptitle(
        f"{summary.model} / {summary.analyte} ({scale}): 90% coverage "
        f"{sc.coverage_90:.2f}, median |error| "
        f"{sc.median_abs_error:.2f} vs baseline "
        f"{sc.baseline_median_abs_error:.2f}",
        fontsize=9,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _limit_axis(
    ax: Any,
    report: Mapping[str, Any] | None,
    det: list[tuple[float, float]],
    cen: list[tuple[float, float]],
) -> None:
    """Keep the panel on what the assay can report: forecasts far beyond the detection limit (a
    Ct of 300 for a cleared infection) are cut at a margin past it."""
    if not report or report.get("limit") is None:
        return
    lim = float(report["limit"])
    lo, hi = ax.get_ylim()
    if report.get("side") == "right":  # Ct-like: unreportable above the limit
        ax.set_ylim(lo, min(hi, lim + 8.0))
    else:
        vals = [v for _, v in det] + [v for _, v in cen]
        floor = min([lim - 3.0, *vals]) - 0.5
        ax.set_ylim(max(lo, floor), hi)
