"""What-if scenarios, clinical outcomes, comparisons and intervention optimisation.

A :class:`Scenario` is a named set of parameter values of the model: "no treatment" leaves the
model's intervention inputs at their defaults (never started); "antiviral from day d with
efficacy e" sets the parameters of the model's antiviral intervention (found in the library
card's ``interventions``); any other intervention (dose, cytokine blockade) likewise by kind or
name, or by explicit overrides.

Outcomes per posterior draw, on the viral load of the twin's first analyte (model output, no
measurement noise; log10 units):

* ``peak``: maximum of log10 viral load;
* ``auc``: area of log10 viral load above the detection limit (log10 copies x days), the usual
  summary of antiviral trials;
* ``clearance``: first time after the peak at which the viral load falls below the detection limit
  (``inf`` if not within the horizon);
* ``peak_inflammation``: maximum of the model's inflammation / interferon state, where the
  model has one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FitError
from ..model import ModelSpec

__all__ = [
    "Comparison",
    "Constraint",
    "OptimiseResult",
    "Scenario",
    "inflammation_state",
    "outcomes",
    "resolve",
]

Array = np.ndarray[Any, Any]
OUTCOMES = ("peak", "auc", "clearance", "peak_inflammation")


@dataclass(frozen=True)
class Scenario:
    """A named intervention scenario.

    Attributes
    ----------
    name : str
        Label in tables and plots.
    overrides : Mapping[str, float]
        Explicit parameter values.
    intervention : str or None
        Kind (``antiviral``, ``vaccine``, ``drug``, ``cytokine_blockade``...) or name of a model
        intervention whose parameters are set from ``start`` / ``efficacy`` / ``amount``.
    start, efficacy, amount : float or None
        Start day (data clock), efficacy (0-1) and dose of that intervention.
    """

    name: str
    overrides: Mapping[str, float] = field(default_factory=dict)
    intervention: str | None = None
    start: float | None = None
    efficacy: float | None = None
    amount: float | None = None

    @classmethod
    def none(cls, name: str = "no treatment") -> Scenario:
        """No intervention (the model's defaults: interventions never start)."""
        return cls(name=name)

    @classmethod
    def antiviral(cls, start: float, efficacy: float = 0.9, name: str | None = None) -> Scenario:
        """An antiviral from day ``start`` with ``efficacy`` (fraction of production blocked)."""
        label = name or f"antiviral day {start:g} ({100 * efficacy:.0f}%)"
        return cls(name=label, intervention="antiviral", start=start, efficacy=efficacy)

    @classmethod
    def cytokine_blockade(
        cls, start: float, efficacy: float = 0.9, name: str | None = None
    ) -> Scenario:
        """A cytokine blockade from day ``start``."""
        label = name or f"cytokine blockade day {start:g}"
        return cls(name=label, intervention="cytokine_blockade", start=start, efficacy=efficacy)

    @classmethod
    def dose(
        cls, intervention: str, start: float, amount: float, name: str | None = None
    ) -> Scenario:
        """A dose (vaccine, drug) of ``amount`` at day ``start``."""
        return cls(
            name=name or f"{intervention} {amount:g} day {start:g}",
            intervention=intervention,
            start=start,
            amount=amount,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "name": self.name,
            "overrides": dict(self.overrides),
            "intervention": self.intervention,
            "start": self.start,
            "efficacy": self.efficacy,
            "amount": self.amount,
        }

    @classmethod
    def parse(cls, text: str) -> Scenario:
        """Parse ``none``, ``antiviral:DAY[:EFFICACY]``, ``blockade:DAY[:EFFICACY]`` or
        ``name=...,param=value,...`` (command-line form)."""
        t = text.strip()
        head, _, rest = t.partition(":")
        vals = [float(x) for x in rest.split(":") if x] if rest else []
        if head in ("none", "no_treatment", "untreated"):
            return cls.none()
        if head in ("antiviral", "blockade", "cytokine_blockade"):
            if not vals:
                raise FitError(f"scenario '{text}': give a start day, e.g. {head}:3")
            eff = vals[1] if len(vals) > 1 else 0.9
            if head == "antiviral":
                return cls.antiviral(vals[0], eff)
            return cls.cytokine_blockade(vals[0], eff)
        if "=" in t:
            items = dict(kv.split("=", 1) for kv in t.split(","))
            name = items.pop("name", t)
            try:
                return cls(name=name, overrides={k: float(v) for k, v in items.items()})
            except ValueError:
                raise FitError(f"scenario '{text}': values must be numbers") from None
        raise FitError(
            f"cannot read scenario '{text}' (use none, antiviral:DAY[:EFF], blockade:DAY[:EFF] "
            "or name=X,param=value)"
        )


def _interventions(model: ModelSpec) -> list[Any]:
    from ..model import library

    try:
        return list(library.card(model.id).interventions)
    except Exception:  # noqa: BLE001 - a model outside the library has no card
        return []


def resolve(scenario: Scenario, model: ModelSpec) -> dict[str, float]:
    """Parameter values of a scenario for ``model``."""
    out: dict[str, float] = {}
    if scenario.intervention is not None:
        ivs = [iv for iv in _interventions(model) if scenario.intervention in (iv.name, iv.kind)]
        if not ivs:
            have = [f"{iv.name} ({iv.kind})" for iv in _interventions(model)]
            raise FitError(
                f"scenario '{scenario.name}': model '{model.id}' has no '{scenario.intervention}' "
                f"intervention (it has {have or 'none'}); give parameter overrides instead"
            )
        iv = ivs[0]
        timep = [p for p in iv.parameters if p.startswith("t_")]
        other = [p for p in iv.parameters if not p.startswith("t_")]
        if scenario.start is not None:
            if not timep:
                raise FitError(f"intervention '{iv.name}' has no start-time parameter")
            out[timep[0]] = float(scenario.start)
        if scenario.efficacy is not None:
            if not other:
                raise FitError(f"intervention '{iv.name}' has no efficacy parameter")
            out[other[0]] = float(scenario.efficacy)
        if scenario.amount is not None:
            if not other:
                raise FitError(f"intervention '{iv.name}' has no dose parameter")
            out[other[0]] = float(scenario.amount)
    out.update({k: float(v) for k, v in scenario.overrides.items()})
    return out


def inflammation_state(model: ModelSpec) -> str | None:
    """The model's inflammation / interferon / cytokine state, if it has one."""
    from ..model import library

    words = ("inflamm", "interferon", "cytokine", "interleukin", "tumor necrosis")
    try:
        meta = library.card(model.id)
    except Exception:  # noqa: BLE001
        return None
    for sid, terms in meta.state_terms:  # the state's own (first) term names what it is
        if terms and any(w in terms[0].label.lower() for w in words):
            return sid
    return None


def outcomes(
    times: Array, log10_vl: Array, lod_log10: float, inflammation: Array | None
) -> pd.DataFrame:
    """Per-draw outcomes from log10 viral load ``(D, T)`` on a dense grid (see module doc)."""
    d = np.where(np.isfinite(log10_vl), log10_vl, np.nan)
    peak = np.nanmax(d, axis=1)
    ipk = np.nanargmax(np.where(np.isnan(d), -np.inf, d), axis=1)
    above = np.clip(np.nan_to_num(d, nan=lod_log10) - lod_log10, 0.0, None)
    auc = np.trapezoid(above, times, axis=1)
    below = np.nan_to_num(d, nan=-np.inf) < lod_log10
    after = np.arange(d.shape[1])[None, :] > ipk[:, None]
    hit = below & after
    first = np.argmax(hit, axis=1)
    clear = np.where(hit.any(axis=1), times[first], np.inf)
    clear = np.where(peak < lod_log10, times[0], clear)
    out = {"peak": peak, "auc": auc, "clearance": clear}
    if inflammation is not None:
        out["peak_inflammation"] = np.nanmax(inflammation, axis=1)
    return pd.DataFrame(out)


def _summ(x: Array) -> tuple[float, float, float]:
    f = x[np.isfinite(x)]
    if f.size == 0:
        return math.inf, math.inf, math.inf
    if f.size == x.size:
        q = np.quantile(x, [0.05, 0.5, 0.95])
    else:  # some draws never clear: no interpolation across inf
        q = np.quantile(np.where(np.isnan(x), np.inf, x), [0.05, 0.5, 0.95], method="inverted_cdf")
    return float(q[0]), float(q[1]), float(q[2])


@dataclass(frozen=True)
class Comparison:
    """Outcome distributions of scenarios on the same posterior draws.

    Attributes
    ----------
    draws : pandas.DataFrame
        One row per scenario and draw: ``scenario``, ``draw`` and the outcomes.
    baseline : str
        The scenario others are compared with (the first).
    scenarios : tuple of Scenario
    lod_log10 : float
        Detection limit used for AUC and clearance (log10).
    """

    draws: pd.DataFrame
    baseline: str
    scenarios: tuple[Scenario, ...]
    lod_log10: float
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per scenario: median and 90% interval of each outcome, and the chance that the AUC is
        at most half the baseline's (paired draws)."""
        rows = []
        base = self.draws[self.draws["scenario"] == self.baseline].set_index("draw")
        for sc in self.scenarios:
            g = self.draws[self.draws["scenario"] == sc.name].set_index("draw")
            row: dict[str, Any] = {"scenario": sc.name}
            for c in OUTCOMES:
                if c not in g:
                    continue
                lo, med, hi = _summ(g[c].to_numpy())
                row[f"{c}_median"], row[f"{c}_q05"], row[f"{c}_q95"] = med, lo, hi
            ratio = g["auc"] / base["auc"].reindex(g.index).replace(0.0, np.nan)
            row["p_auc_halved"] = float(np.mean(ratio.fillna(1.0) <= 0.5))
            row["auc_ratio_median"] = float(np.nanmedian(ratio)) if ratio.notna().any() else 1.0
            rows.append(row)
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        """Alias of :meth:`summary`."""
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"Comparison(baseline={self.baseline!r}, scenarios={[s.name for s in self.scenarios]})"
        )


@dataclass(frozen=True)
class Constraint:
    """A probabilistic constraint on an outcome relative to a reference scenario.

    ``P(outcome(candidate) <= max_ratio * outcome(reference)) >= probability`` (paired draws).
    """

    outcome: str = "auc"
    max_ratio: float = 0.5
    probability: float = 0.9
    reference: Scenario = field(default_factory=Scenario.none)

    def describe(self) -> str:
        """Plain-language form."""
        return (
            f"P({self.outcome} <= {self.max_ratio:g} x {self.outcome} under "
            f"'{self.reference.name}') >= {self.probability:g}"
        )


@dataclass(frozen=True)
class OptimiseResult:
    """Outcome of :meth:`DigitalTwin.optimise`.

    Attributes
    ----------
    best : dict or None
        The chosen point of the intervention space (``None`` if no point is feasible).
    table : pandas.DataFrame
        Every evaluated point: its coordinates, the constraint probabilities, feasibility and the
        objective value.
    objective : str
    constraints : tuple of Constraint
    """

    best: dict[str, float] | None
    table: pd.DataFrame
    objective: str
    constraints: tuple[Constraint, ...]

    def __repr__(self) -> str:
        return f"OptimiseResult(best={self.best}, points={len(self.table)}, objective={self.objective!r})"


def grid_points(space: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    """The Cartesian product of an intervention space."""
    if not space:
        raise FitError("optimise: empty intervention space")
    keys = list(space)
    vals = [list(np.atleast_1d(np.asarray(space[k], dtype=float))) for k in keys]
    return [dict(zip(keys, map(float, combo), strict=True)) for combo in itertools.product(*vals)]


def default_builder(kind: str) -> Callable[..., Scenario]:
    """Scenario builder for an intervention kind from ``start``/``efficacy``/``amount``."""

    def build(**kw: float) -> Scenario:
        label = ", ".join(f"{k}={v:g}" for k, v in kw.items())
        return Scenario(
            name=f"{kind} ({label})",
            intervention=kind,
            start=kw.get("start"),
            efficacy=kw.get(
                "efficacy", 0.9 if kind in ("antiviral", "cytokine_blockade") else None
            ),
            amount=kw.get("amount"),
        )

    return build


def search_grid(
    evaluate: Callable[[Scenario], pd.DataFrame],
    space: Mapping[str, Sequence[float]],
    objective: tuple[str, str],
    constraints: Sequence[Constraint],
    build: Callable[..., Scenario],
) -> OptimiseResult:
    """Evaluate every grid point (``evaluate`` gives per-draw outcomes of a scenario) and pick
    the best feasible one (see :meth:`DigitalTwin.optimise`)."""
    sense, key = objective
    refs: dict[str, pd.DataFrame] = {}
    for c in constraints:
        if c.reference.name not in refs:
            refs[c.reference.name] = evaluate(c.reference)
    rows = []
    for point in grid_points(space):
        out = evaluate(build(**point))
        row: dict[str, Any] = dict(point)
        feasible = True
        for j, c in enumerate(constraints):
            ref = refs[c.reference.name][c.outcome].to_numpy()
            p = float(np.mean(out[c.outcome].to_numpy() <= c.max_ratio * ref))
            row[f"p_constraint_{j}"] = p
            feasible &= p >= c.probability
        row["feasible"] = feasible
        if key in point:
            row["objective"] = point[key]
        elif key in out:
            row["objective"] = float(np.median(out[key]))
        else:
            raise FitError(f"optimise: '{key}' is neither a coordinate nor an outcome")
        rows.append(row)
    table = pd.DataFrame(rows)
    feasible_rows = np.flatnonzero(table["feasible"].to_numpy(dtype=bool))
    best = None
    if feasible_rows.size:
        obj = table["objective"].to_numpy(dtype=float)[feasible_rows]
        pick = int(feasible_rows[np.argmax(obj) if sense == "max" else np.argmin(obj)])
        best = {k: float(table[k].to_numpy(dtype=float)[pick]) for k in space}
    return OptimiseResult(
        best=best, table=table, objective=f"{sense}:{key}", constraints=tuple(constraints)
    )
