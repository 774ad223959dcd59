"""Posterior predictive simulation: forecasts of observables (with measurement noise) and states.

Observables are computed by the calibration problem's own observation model (targets,
transforms, standard curves) applied to simulated outputs, so a forecast is on exactly the scale
on which the twin was fitted; noise is drawn from the fitted noise model of each analyte.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import Dataset, Observation
from ..errors import FitError
from ..inference import CalibrationProblem, Transform
from ..model import ModelSpec
from ._config import TwinConfig, analyte_unit

__all__ = ["QUANTILES", "Forecast", "observable_matrix", "simulate_with"]

Array = np.ndarray[Any, Any]
#: Quantile levels of every forecast table.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QCOLS = ("q05", "q25", "q50", "q75", "q95")


def with_overrides(
    problem: CalibrationProblem, overrides: Mapping[str, float]
) -> CalibrationProblem:
    """A copy of ``problem`` whose fixed parameters ``overrides`` take other values (scenarios)."""
    try:
        return problem.with_fixed(overrides)
    except FitError as exc:
        raise FitError(f"scenario: {exc}") from None


def output_names(problem: CalibrationProblem) -> tuple[str, ...]:
    """Names of the simulated outputs (last axis of the simulation arrays)."""
    return problem.output_names


def simulate_with(
    problem: CalibrationProblem, theta: Array, times: Array, overrides: Mapping[str, float]
) -> Array:
    """Outputs ``(N, T, m)`` of ``theta`` at ``times`` under parameter ``overrides``."""
    pb = with_overrides(problem, overrides)
    y, _, _, ok = pb.simulate_outputs(theta, sensitivities=False, times=np.asarray(times))
    y = np.array(y, dtype=float)
    y[~ok] = np.nan
    return y


def _placeholder(data: Dataset, analyte: str) -> Observation:
    for o in data.observations:
        if o.analyte == analyte and o.value is not None and (o.value > 0 or o.unit == "Ct"):
            return o
    for o in data.observations:
        if o.analyte == analyte:
            unit = o.unit
            val = 30.0 if unit.lower() == "ct" else 1.0
            return Observation(
                subject=o.subject, time=o.time, analyte=analyte, value=val, unit=unit
            )
    raise FitError(f"no observations of analyte '{analyte}'")


def observable_matrix(
    model: ModelSpec,
    config: TwinConfig,
    data: Dataset,
    subject: str,
    theta: Array,
    y: Array,
    times: Array,
    cache: dict[Any, Any] | None = None,
) -> dict[str, Array]:
    """Each analyte's model prediction on its comparison scale, ``{analyte: (N, T)}``.

    ``y`` holds the outputs at ``times``. A problem with one placeholder observation per
    analyte and time evaluates the observation model (no simulation); ``cache`` keeps those
    problems by time grid.
    """
    import dataclasses

    key = np.asarray(times, dtype=float).tobytes()
    if cache is not None and key in cache:
        pb, rows_pos = cache[key]
        mu, _ = pb.predict_from_outputs(theta, y[:, rows_pos[0], :])
        return {
            a: _place(mu, rows, tpos, theta.shape[0], len(times))
            for a, (rows, tpos) in rows_pos[1].items()
        }

    obs: list[Observation] = []
    for analyte in config.observables:
        ph = _placeholder(data, analyte)
        for t in times:
            obs.append(
                Observation(
                    subject=subject,
                    time=float(t),
                    analyte=analyte,
                    value=ph.value,
                    unit=ph.unit,
                )
            )
    ds = dataclasses.replace(data, observations=tuple(obs), interventions=data.interventions)
    pb = config.problem(model, ds, subject, None, prepared=True)
    idx = np.searchsorted(np.asarray(times), pb.times)
    mu, _ = pb.predict_from_outputs(theta, y[:, idx, :])
    frame = pb.observations
    layout: dict[str, tuple[Array, Array]] = {}
    for analyte in config.observables:
        rows = np.flatnonzero(frame["analyte"].to_numpy() == analyte)
        tpos = np.searchsorted(np.asarray(times), frame["time"].to_numpy()[rows])
        layout[analyte] = (rows, tpos)
    if cache is not None:
        if len(cache) > 8:
            cache.clear()
        cache[key] = (pb, (idx, layout))
    return {a: _place(mu, r, tp, theta.shape[0], len(times)) for a, (r, tp) in layout.items()}


def _place(mu: Array, rows: Array, tpos: Array, n: int, n_t: int) -> Array:
    m = np.full((n, n_t), np.nan)
    m[:, tpos] = mu[:, rows]
    return m


def to_log10(config: TwinConfig, model: ModelSpec, analyte: str, mu: Array) -> Array:
    """A prediction on the analyte's comparison scale moved to log10 of the model output."""
    tr = config.transform_of(model, analyte)
    if tr is Transform.LOG10:
        return mu
    if tr is Transform.LN:
        return mu / math.log(10.0)
    if tr is Transform.CT:
        c = config.observables[analyte].standard_curve
        assert c is not None
        return (mu - c.intercept) / c.slope + c.log10_factor
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.maximum(mu, 1e-300))


def add_noise(
    config: TwinConfig,
    model: ModelSpec,
    names: Sequence[str],
    analyte: str,
    mu: Array,
    theta: Array,
    rng: np.random.Generator,
) -> Array:
    """Measurement noise drawn around ``mu`` (N, T) with each draw's sigma."""
    pid, fixed_val, scale = config.sigma_of(model, analyte)
    if pid is not None:
        i = list(names).index(pid)
        log = next((e.log_scale for e in config.estimate if e.id == pid), None)
        log = model.parameter(pid).log_scale if log is None else log
        sig = (np.exp(theta[:, i]) if log else theta[:, i]) * scale
    else:
        sig = np.full(theta.shape[0], fixed_val * scale)
    nz = config.noise.get(analyte)
    if nz is not None and nz.distribution == "student_t":
        eps = rng.standard_t(nz.df, size=mu.shape)
    else:
        eps = rng.standard_normal(mu.shape)
    return mu + sig[:, None] * eps


@dataclass(frozen=True)
class Forecast:
    """Posterior predictive forecast.

    Attributes
    ----------
    table : pandas.DataFrame
        Long table: ``variable``, ``kind`` (``observable`` with noise, ``observable_mean``
        without, ``state``), ``scale``, ``time``, ``q05`` .. ``q95``, ``mean``.
    draws : dict
        ``variable -> (D, T)`` predictive draws (observables with noise; states).
    times : numpy.ndarray
        Forecast times (data clock).
    scenario : str
        Scenario name.
    """

    table: pd.DataFrame
    draws: dict[str, Array]
    times: Array
    scenario: str = "as observed"
    info: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The quantile table."""
        return self.table.copy()

    def quantiles(self, variable: str, kind: str | None = None) -> pd.DataFrame:
        """Rows of one variable, indexed by time."""
        t = self.table[self.table["variable"] == variable]
        if kind is not None:
            t = t[t["kind"] == kind]
        if t.empty:
            raise KeyError(
                f"no forecast of '{variable}' (have {sorted(set(self.table['variable']))})"
            )
        return t.set_index("time")

    def __repr__(self) -> str:
        return (
            f"Forecast(scenario={self.scenario!r}, times={self.times.size}, "
            f"variables={sorted(set(self.table['variable']))})"
        )


def quantile_rows(variable: str, kind: str, scale: str, times: Array, d: Array) -> pd.DataFrame:
    """Quantile table of draws ``(D, T)``."""
    with np.errstate(all="ignore"):
        if np.isnan(d).any():
            q = np.nanquantile(d, QUANTILES, axis=0)
            mean = np.nanmean(d, axis=0)
        else:  # one sort, linear interpolation (numpy's default quantile definition)
            srt = np.sort(d, axis=0)
            pos = np.asarray(QUANTILES) * (d.shape[0] - 1)
            lo = np.floor(pos).astype(int)
            hi = np.minimum(lo + 1, d.shape[0] - 1)
            frac = (pos - lo)[:, None]
            q = srt[lo] * (1.0 - frac) + srt[hi] * frac
            mean = np.mean(d, axis=0)
    frame = pd.DataFrame({"variable": variable, "kind": kind, "scale": scale, "time": times})
    for j, c in enumerate(QCOLS):
        frame[c] = q[j]
    frame["mean"] = mean
    return frame


def build_forecast(
    model: ModelSpec,
    config: TwinConfig,
    data: Dataset,
    subject: str,
    names: Sequence[str],
    theta: Array,
    y: Array,
    times: Array,
    outputs: Sequence[str],
    rng: np.random.Generator,
    *,
    scenario: str,
    states: bool = True,
    cache: dict[Any, Any] | None = None,
) -> Forecast:
    """Assemble a :class:`Forecast` from simulated outputs ``y (D, T, m)`` at ``times``."""
    mus = observable_matrix(model, config, data, subject, theta, y, times, cache)
    parts: list[pd.DataFrame] = []
    draws: dict[str, Array] = {}
    for analyte, mu in mus.items():
        tr = config.transform_of(model, analyte)
        scale = {
            Transform.LOG10: "log10",
            Transform.LN: "ln",
            Transform.CT: "Ct",
            Transform.IDENTITY: analyte_unit(data, analyte),
        }[tr]
        noisy = add_noise(config, model, names, analyte, mu, theta, rng)
        draws[analyte] = noisy
        parts.append(quantile_rows(analyte, "observable", scale, times, noisy))
        parts.append(quantile_rows(analyte, "observable_mean", scale, times, mu))
    if states:
        species = {s.id for s in model.species}
        for j, name in enumerate(outputs):
            if name in species:
                d = y[:, :, j]
                draws[name] = d
                parts.append(quantile_rows(name, "state", "linear", times, d))
    table = pd.concat(parts, ignore_index=True)
    return Forecast(table=table, draws=draws, times=np.asarray(times), scenario=scenario)


def lod_log10(config: TwinConfig, data: Dataset, analyte: str) -> float:
    """An analyte's detection limit in log10 model units (the median limit of its censored
    observations, else the configured ``lod``; 0 when none is known)."""
    from ..data import Censoring

    lims = [
        o.limit
        for o in data.observations
        if o.analyte == analyte and o.censoring is not Censoring.NONE and o.limit is not None
    ]
    lim = float(np.median(lims)) if lims else config.lod.get(analyte)
    if lim is None:
        return 0.0
    unit = analyte_unit(data, analyte)
    if unit.lower() == "ct":
        c = config.observables[analyte].standard_curve
        if c is None:
            raise FitError(f"analyte '{analyte}' in Ct needs a standard curve")
        return float(c.ct_to_log10(lim))
    if unit.lower().startswith("log10"):
        return float(lim)
    return float(np.log10(max(lim, 1e-300)))
