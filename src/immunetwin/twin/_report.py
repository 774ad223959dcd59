"""A self-contained HTML report of a twin (figures inline as base64 PNG).

Sections: the person's data, the fit, the forecast bands, the what-if comparison, parameter
posteriors against the prior, diagnostics and provenance, each with a plain-language caption.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._document import config_to_dict, history_to_dict
from ._scenarios import Comparison, Scenario
from ._state import CalibrationStep, HistoryEntry

if TYPE_CHECKING:
    from ._twin import DigitalTwin

__all__ = ["render_report", "write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.caption{color:#444;font-size:.95em;background:#f6f8fa;border-left:3px solid #4a90d9;padding:.5em .8em}
table{border-collapse:collapse;font-size:.88em;margin:.6em 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%}
code,pre{font-size:.85em;background:#f6f8fa}pre{padding:.6em;overflow-x:auto}
"""


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(src: str, alt: str, ident: str) -> str:
    return f'<img id="{ident}" alt="{html.escape(alt)}" src="{src}">'


def _table(frame: pd.DataFrame, ident: str, digits: int = 3) -> str:
    def fmt(x: Any) -> str:
        if isinstance(x, float | np.floating):
            return "inf" if np.isinf(x) else f"{x:.{digits}g}"
        return html.escape(str(x))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f'<table id="{ident}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _observed(twin: DigitalTwin, analyte: str) -> pd.DataFrame:
    pb = twin.problem
    f = pb.observations
    out: pd.DataFrame = f[f["analyte"] == analyte]
    return out


def _plot_observed(ax: Any, obs: pd.DataFrame) -> None:
    det = obs[obs["censoring"] == "none"]
    cen = obs[obs["censoring"] != "none"]
    ax.plot(det["time"], det["value"], "o", color="k", ms=4, label="measured", zorder=5)
    if not cen.empty:
        ax.plot(
            cen["time"],
            cen["lower"],
            "v",
            mfc="none",
            color="grey",
            ms=6,
            label="negative (below limit)",
            zorder=5,
        )


def _window(twin: DigitalTwin) -> Any:
    """Plot times: from 3 days before the first measurement to the horizon."""
    first = min(o.time for o in twin.data.observations)
    return np.linspace(max(twin.config.t0, first - 3.0), twin.horizon, 85)


def _limits(ax: Any, obs: pd.DataFrame, q: pd.DataFrame) -> None:
    """Keep the axis on the measurable range (a vanishing viral load is -inf on log scale)."""
    vals = np.concatenate([obs["value"].dropna(), obs["lower"].dropna()])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return
    lo, hi = float(vals.min()), float(vals.max())
    top = max(hi, float(np.nanmax(q["q95"]))) + 1.0
    span = max(hi - lo, 1.0)
    ax.set_ylim(lo - max(4.0, span), top)


def _fig_data_fit(twin: DigitalTwin) -> str:
    import matplotlib.pyplot as plt

    fc = twin.forecast(_window(twin), states=False)
    fig, axes = plt.subplots(1, len(twin.config.observables), figsize=(7.5, 3.6), squeeze=False)
    for ax, analyte in zip(axes.flat, twin.config.observables, strict=False):
        q = fc.quantiles(analyte, "observable_mean")
        ax.plot(q.index, q["q50"], color="tab:blue", label="twin (typical course)")
        ax.fill_between(
            q.index, q["q05"], q["q95"], color="tab:blue", alpha=0.2, lw=0, label="90% credible"
        )
        _plot_observed(ax, _observed(twin, analyte))
        _limits(ax, _observed(twin, analyte), q)
        ax.set_xlabel(f"days ({twin.data.reference_events.get(analyte, 'data clock')})")
        ax.set_ylabel(f"{analyte} ({q['scale'].iloc[0]})")
        ax.legend(fontsize=7)
        if q["scale"].iloc[0] == "Ct":
            ax.invert_yaxis()
    return _png(fig)


def _fig_forecast(twin: DigitalTwin) -> str:
    import matplotlib.pyplot as plt

    fc = twin.forecast(_window(twin), states=False)
    last = max(o.time for o in twin.data.observations)
    fig, axes = plt.subplots(1, len(twin.config.observables), figsize=(7.5, 3.6), squeeze=False)
    for ax, analyte in zip(axes.flat, twin.config.observables, strict=False):
        q = fc.quantiles(analyte, "observable")
        ax.fill_between(
            q.index,
            q["q05"],
            q["q95"],
            color="tab:purple",
            alpha=0.18,
            lw=0,
            label="90% of measurements",
        )
        ax.fill_between(
            q.index,
            q["q25"],
            q["q75"],
            color="tab:purple",
            alpha=0.35,
            lw=0,
            label="50% of measurements",
        )
        ax.plot(q.index, q["q50"], color="tab:purple", label="median forecast")
        ax.axvline(last, color="k", ls=":", lw=1, label="last measurement")
        _plot_observed(ax, _observed(twin, analyte))
        _limits(ax, _observed(twin, analyte), q)
        ax.set_xlabel("days")
        ax.set_ylabel(f"{analyte} ({q['scale'].iloc[0]})")
        ax.legend(fontsize=7)
        if q["scale"].iloc[0] == "Ct":
            ax.invert_yaxis()
    return _png(fig)


def _fig_posteriors(twin: DigitalTwin) -> str:
    import matplotlib.pyplot as plt

    post = twin.posterior.theta_draws.reshape(-1, len(twin.names))
    prior = twin.prior_draws(2000)
    k = len(twin.names)
    fig, axes = plt.subplots(1, k, figsize=(2.4 * k, 2.4), squeeze=False)
    for j, (ax, n) in enumerate(zip(axes.flat, twin.names, strict=True)):
        lo, hi = np.quantile(np.concatenate([post[:, j], prior[:, j]]), [0.005, 0.995])
        bins = np.linspace(lo, hi, 40)
        ax.hist(prior[:, j], bins=bins, density=True, color="grey", alpha=0.4, label="prior")
        ax.hist(post[:, j], bins=bins, density=True, color="tab:blue", alpha=0.6, label="posterior")
        ax.set_title(("log " if twin.problem.log_scale[n] else "") + n, fontsize=9)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _fig_whatif(comp: Comparison) -> str:
    import matplotlib.pyplot as plt

    outs = [c for c in ("peak", "auc", "clearance") if c in comp.draws]
    fig, axes = plt.subplots(1, len(outs), figsize=(3.3 * len(outs), 3.0), squeeze=False)
    names = [s.name for s in comp.scenarios]
    for ax, c in zip(axes.flat, outs, strict=True):
        data = [
            comp.draws.loc[comp.draws["scenario"] == n, c]
            .replace(np.inf, np.nan)
            .dropna()
            .to_numpy()
            for n in names
        ]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize=7, ha="right")
        ax.set_title(
            {
                "peak": "peak log10 viral load",
                "auc": "viral AUC (log10 x days)",
                "clearance": "day cleared",
            }[c],
            fontsize=9,
        )
    fig.tight_layout()
    return _png(fig)


def render_report(twin: DigitalTwin, scenarios: Sequence[Scenario] | None = None) -> str:
    """The report as one HTML string."""
    import matplotlib

    matplotlib.use("Agg")
    from .. import __version__

    analyte = twin.primary
    obs = _observed(twin, analyte)
    scs = list(scenarios) if scenarios else _default_scenarios(twin)
    comp = twin.what_if(scs)
    summ = comp.summary()
    cols = [c for c in summ.columns if c.endswith("_median") or c in ("scenario", "p_auc_halved")]
    post = twin.summary()
    hist = pd.DataFrame([_history_row(h) for h in twin.history])
    prov = twin.data.provenance.to_dict()
    last = max(o.time for o in twin.data.observations)
    n_det = int((obs["censoring"] == "none").sum())
    parts = [
        f"<h1>Digital twin: {html.escape(twin.subject)}</h1>",
        f"<p>Model <b>{html.escape(twin.model.id)}</b> ({html.escape(twin.model.name or '')}), "
        f"{len(twin.data.observations)} measurements up to day {last:g}; immunetwin {__version__}.</p>",
        "<h2>Data and fit</h2>",
        _img(_fig_data_fit(twin), "data and fit", "fig-fit"),
        f'<p class="caption">Black dots are this person\'s measurements of {html.escape(analyte)} '
        f"({n_det} measured, {len(obs) - n_det} negative, drawn as open triangles at the detection "
        "limit). The blue line is the course the personalised model considers most likely; the band "
        "holds 90% of the plausible courses given the data.</p>",
        "<h2>Forecast</h2>",
        _img(_fig_forecast(twin), "forecast", "fig-forecast"),
        '<p class="caption">What the next measurements are expected to show: half of future '
        "measurements should fall in the dark band and 9 in 10 in the light band (measurement noise "
        "included). Right of the dotted line is prediction.</p>",
        "<h2>What if?</h2>",
        _img(_fig_whatif(comp), "what-if comparison", "fig-whatif"),
        _table(summ[cols], "whatif-table"),
        f'<p class="caption">The same person under different treatments, compared on the same plausible '
        f"courses. AUC is the area of log10 viral load above the detection limit "
        f"(10^{comp.lod_log10:.2f}); <i>p_auc_halved</i> is the chance the treatment at least halves it "
        f"compared with '{html.escape(comp.baseline)}'. Clearance is the first day below the limit after "
        "the peak.</p>",
        "<h2>Parameters: posterior vs prior</h2>",
        _img(_fig_posteriors(twin), "posteriors", "fig-posteriors"),
        _table(post, "posterior-table"),
        f'<p class="caption">Grey: what was assumed before seeing this person\'s data '
        f"({html.escape(_prior_text(twin))}); blue: after. A blue histogram much narrower than the "
        "grey one means the data determine that parameter.</p>",
        "<h2>Diagnostics</h2>",
        _table(hist, "history-table"),
        '<p class="caption">Each calibration and update: effective sample size of the particle '
        "posterior (ESS) and Metropolis-Hastings moves; low acceptance or ESS means less reliable "
        "uncertainty.</p>",
        "<h2>Provenance</h2>",
        f"<pre>{html.escape(json.dumps(_provenance(twin, prov), indent=1, default=str))}</pre>",
    ]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Digital twin {html.escape(twin.subject)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _prior_text(twin: DigitalTwin) -> str:
    if twin.prior is None:
        return "the model's priors, flat within bounds"
    return twin.prior.source or "a population prior"


def _provenance(twin: DigitalTwin, prov: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {"id": twin.model.id, "hash": twin.model.hash()},
        "subject": twin.subject,
        "data": prov,
        "settings": config_to_dict(twin.config),
        "seed": twin.seed,
        "updates": [
            {
                k: v
                for k, v in history_to_dict(h).items()
                if k in ("step", "at", "new_observations", "observations")
            }
            for h in twin.history
        ],
    }


def _history_row(h: HistoryEntry) -> dict[str, Any]:
    """One row of the report's history table."""
    if isinstance(h, CalibrationStep):
        n, ess = h.observations, h.importance_ess
    else:
        n, ess = len(h.new_observations), h.ess_after_reweighting
    return {
        "step": h.step,
        "when": h.at,
        "observations": n,
        "ESS / moves": f"{ess:.0f} / {h.moves}",
        "acceptance": h.acceptance,
        "seconds": h.seconds,
    }


def _default_scenarios(twin: DigitalTwin) -> list[Scenario]:
    from ._scenarios import _interventions

    out = [Scenario.none()]
    if any(iv.kind == "antiviral" for iv in _interventions(twin.model)):
        first = min(o.time for o in twin.data.observations)
        out += [Scenario.antiviral(first), Scenario.antiviral(first + 3)]
    return out


def write_report(
    twin: DigitalTwin, out: str | Path, scenarios: Sequence[Scenario] | None = None
) -> Path:
    """Write the HTML report of ``twin`` to ``out``."""
    p = Path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_report(twin, scenarios))
    return p
