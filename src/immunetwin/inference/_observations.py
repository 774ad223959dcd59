"""The observation table of a calibration problem: data mapped onto model outputs.

:func:`build_observations` maps each analyte of one subject onto the model (an output or an
expression of outputs and parameters, see :class:`ObservableMap`), resolves its noise model and
converts every observation to the comparison scale (:func:`observation_row`: units, Ct standard
curves, censoring limits). :class:`~immunetwin.inference.CalibrationProblem` stores the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp

from ..data import Censoring, Dataset, StandardCurve
from ..errors import FitError, ModelError
from ..model import ModelSpec, NoiseKind, as_expr
from ..simulate import CompiledModel
from ._likelihood import CENSOR_CODES
from ._maps import Noise, ObservableMap, Transform

__all__ = ["ObservationTable", "build_observations", "observation_row"]

Array = np.ndarray[Any, Any]
_LN10 = math.log(10.0)


class _Lambdified:
    """A NumPy function of an expression that pickles (as its symbols and expression)."""

    def __init__(self, symbols: tuple[sp.Symbol, ...], expr: sp.Basic) -> None:
        self.symbols = symbols
        self.expr = expr
        self._fn = sp.lambdify(symbols, expr, modules="numpy")

    def __call__(self, *cols: Any) -> Any:
        return self._fn(*cols)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Lambdified, (self.symbols, self.expr))


@dataclass(frozen=True)
class _AnalyteLayout:
    name: str
    expr_fn: Any  # callable on (N, n) columns -> (N, n)
    grad_fns: tuple[Any, ...]
    symbols: tuple[str, ...]
    sym_is_output: tuple[bool, ...]
    sym_index: tuple[int, ...]  # output column or slot index
    transform: Transform
    curve: StandardCurve | None
    obs: Array  # indices into the stacked observations
    formula: str = ""  # the target expression (for exports)


@dataclass(frozen=True)
class ObservationTable:
    """The stacked observations of one subject on their comparison scale.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per observation (analyte, time, value, censoring, lower, upper, df).
    layouts : tuple of _AnalyteLayout
        Per analyte: how its prediction is computed from the simulation and which rows it owns.
    times : numpy.ndarray
        Sorted unique observation times.
    tidx : numpy.ndarray
        Position of each observation's time in ``times``.
    value, lower, upper, df : numpy.ndarray
        Columns of ``frame`` as float arrays.
    code : numpy.ndarray
        Censoring codes (see :data:`~immunetwin.inference._likelihood.CENSOR_CODES`).
    sig_fixed, sig_param, sig_scale : numpy.ndarray
        Per observation: the fixed noise sigma (NaN when estimated), the index of the estimated
        sigma in ``theta`` (-1 when fixed) and the factor applied to sigma.
    """

    frame: pd.DataFrame
    layouts: tuple[_AnalyteLayout, ...]
    times: Array
    tidx: Array
    value: Array
    lower: Array
    upper: Array
    code: Array
    df: Array
    sig_fixed: Array
    sig_param: Array
    sig_scale: Array


def _data_scale(unit: str) -> str:
    u = unit.strip().lower()
    if u == "ct":
        return "ct"
    if u.startswith("log10"):
        return "log10"
    if u.startswith("ln ") or u.startswith("log "):
        return "ln"
    return "linear"


def build_observations(
    model: ModelSpec,
    cm: CompiledModel,
    data: Dataset,
    subject: str,
    observables: Mapping[str, ObservableMap | str],
    noise: Mapping[str, Noise | float | str],
    *,
    names: Sequence[str],
    lower: Sequence[float],
    fixed_values: Mapping[str, float],
    slot_index: Mapping[str, int],
    t0: float,
) -> ObservationTable:
    """Map the analytes of ``subject`` onto the model and stack their observations.

    Parameters
    ----------
    model, cm
        The model and its compiled simulator.
    data, subject
        The data set and the subject whose observations are used.
    observables
        Analyte name -> :class:`ObservableMap` (or just the target string).
    noise
        Analyte -> :class:`Noise` (or a number, or a parameter id); default: the observable's
        noise model.
    names, lower
        Ids of the estimated quantities (in the order of ``theta``) and their natural lower
        bounds.
    fixed_values
        Values of the fixed (not estimated) parameters set for this subject.
    slot_index
        Slot id -> column of the compiled model's parameter slots.
    t0
        Model start time on the data's clock.

    Returns
    -------
    ObservationTable

    Raises
    ------
    FitError
        If an analyte cannot be mapped, its noise is invalid, or an observation is unusable.
    """
    obs_ids = {o.id for o in model.observables}
    out_index = {n: j for j, n in enumerate(cm.outputs)}
    rows: list[dict[str, Any]] = []
    layouts: list[_AnalyteLayout] = []
    sig_fixed: list[float] = []
    sig_param: list[int] = []
    sig_scale: list[float] = []
    for a in noise:
        if a not in observables:
            raise FitError(f"noise given for analyte '{a}', which is not mapped")
    for analyte, om in observables.items():
        if isinstance(om, str):
            om = ObservableMap(om)
        target = om.target
        model_noise = model.observable(target).noise if target in obs_ids else None
        transform = _transform_of(analyte, om, model_noise)
        curve = om.standard_curve
        if transform is Transform.CT and curve is None:
            raise FitError(f"analyte '{analyte}': transform CT needs a standard_curve")
        fn, grads, sym_names, is_out, idx = _target_function(
            analyte, target, model, cm, out_index, slot_index
        )
        s_par, s_fix, scale, df = _noise_terms(
            analyte, noise.get(analyte), model, target, model_noise, transform, curve,
            names, lower, fixed_values,
        )  # fmt: skip
        # observations of this subject
        sel = [o for o in data.observations if o.subject == subject and o.analyte == analyte]
        if not sel:
            raise FitError(f"analyte '{analyte}': no observations for subject '{subject}'")
        first = len(rows)
        for o in sel:
            rows.append(observation_row(analyte, o, transform, curve, df))
        layouts.append(
            _AnalyteLayout(
                name=analyte,
                expr_fn=fn,
                grad_fns=grads,
                symbols=sym_names,
                sym_is_output=tuple(is_out),
                sym_index=tuple(idx),
                transform=transform,
                curve=curve,
                obs=np.arange(first, len(rows)),
                formula=str(as_expr(target, where=f"observable map of {analyte!r}")),
            )
        )
        n_a = len(sel)
        sig_fixed += [s_fix] * n_a
        sig_param += [s_par] * n_a
        sig_scale += [scale] * n_a
    frame = pd.DataFrame(rows)
    if (frame["time"] < t0).any():
        bad = frame.loc[frame["time"] < t0].iloc[0]
        raise FitError(
            f"analyte '{bad['analyte']}': observation at time {bad['time']:g} before the model start t0={t0:g}"
        )
    times = np.unique(frame["time"].to_numpy(dtype=float))
    return ObservationTable(
        frame=frame,
        layouts=tuple(layouts),
        times=times,
        tidx=np.searchsorted(times, frame["time"].to_numpy(dtype=float)),
        value=frame["value"].to_numpy(dtype=float),
        lower=frame["lower"].to_numpy(dtype=float),
        upper=frame["upper"].to_numpy(dtype=float),
        code=frame["censoring"].map(CENSOR_CODES).to_numpy(dtype=np.int64),
        df=frame["df"].to_numpy(dtype=float),
        sig_fixed=np.asarray(sig_fixed),
        sig_param=np.asarray(sig_param, dtype=np.int64),
        sig_scale=np.asarray(sig_scale),
    )


def _transform_of(analyte: str, om: ObservableMap, model_noise: Any) -> Transform:
    """The comparison scale: as mapped, else from the model observable's noise model."""
    if om.transform is None:
        if model_noise is not None and model_noise.kind is NoiseKind.LOG10NORMAL:
            return Transform.LOG10
        if model_noise is not None and model_noise.kind is NoiseKind.LOGNORMAL:
            return Transform.LN
        return Transform.IDENTITY
    try:
        return Transform(om.transform)
    except ValueError:
        raise FitError(f"analyte '{analyte}': unknown transform '{om.transform}'") from None


def _target_function(
    analyte: str,
    target: str,
    model: ModelSpec,
    cm: CompiledModel,
    out_index: Mapping[str, int],
    slot_index: Mapping[str, int],
) -> tuple[Any, tuple[Any, ...], tuple[str, ...], list[bool], list[int]]:
    """The target as a function of model outputs and parameters (and its gradients)."""
    try:
        expr = as_expr(target, where=f"observable map of '{analyte}'")
    except (ModelError, ValueError, TypeError, SyntaxError) as exc:
        raise FitError(f"analyte '{analyte}': cannot read target '{target}': {exc}") from None
    syms = sorted(expr.free_symbols, key=str)
    sym_names = tuple(str(s) for s in syms)
    is_out, idx = [], []
    for s in sym_names:
        if s in out_index:
            is_out.append(True)
            idx.append(out_index[s])
        elif s in slot_index and cm.slot_kinds[slot_index[s]] in ("parameter", "compartment"):
            is_out.append(False)
            idx.append(slot_index[s])
        else:
            raise FitError(
                f"analyte '{analyte}': '{s}' in target '{target}' is not an output or "
                f"parameter of model '{model.id}' (outputs: {list(cm.outputs)})"
            )
    if not sym_names:
        raise FitError(f"analyte '{analyte}': target '{target}' depends on nothing")
    if len(syms) == 1 and expr == syms[0]:
        return None, (), sym_names, is_out, idx
    fn = _Lambdified(tuple(syms), expr)
    grads = tuple(_Lambdified(tuple(syms), sp.diff(expr, s)) for s in syms)
    return fn, grads, sym_names, is_out, idx


def _noise_terms(
    analyte: str,
    nz: Noise | float | str | None,
    model: ModelSpec,
    target: str,
    model_noise: Any,
    transform: Transform,
    curve: StandardCurve | None,
    names: Sequence[str],
    lower: Sequence[float],
    fixed_values: Mapping[str, float],
) -> tuple[int, float, float, float]:
    """``(estimated sigma index or -1, fixed sigma, sigma scale, Student-t df)`` of an analyte."""
    from_model = nz is None
    if nz is None:
        if model_noise is None:
            raise FitError(
                f"analyte '{analyte}': target '{target}' is not an observable; give its noise"
            )
        nz = Noise(model_noise.sigma)
    elif not isinstance(nz, Noise):
        nz = Noise(nz)
    if nz.distribution not in ("normal", "student_t"):
        raise FitError(f"analyte '{analyte}': unknown noise distribution '{nz.distribution}'")
    if nz.distribution == "student_t" and not nz.df > 0:
        raise FitError(f"analyte '{analyte}': Student-t df must be positive")
    df = float(nz.df) if nz.distribution == "student_t" else math.inf
    scale = 1.0
    if from_model and transform is Transform.CT and curve is not None:
        # the model's noise is in log10 units; on the Ct scale it is |slope| times larger
        scale = abs(curve.slope)
    if isinstance(nz.sigma, str):
        if nz.sigma in names:
            s_par, s_fix = list(names).index(nz.sigma), math.nan
        elif nz.sigma in fixed_values:
            s_par, s_fix = -1, fixed_values[nz.sigma]
        else:
            try:
                s_fix = model.parameter(nz.sigma).value
            except ModelError:
                raise FitError(
                    f"analyte '{analyte}': noise sigma '{nz.sigma}' is not a parameter"
                ) from None
            s_par = -1
    else:
        s_par, s_fix = -1, float(nz.sigma)
    if s_par < 0 and not (math.isfinite(s_fix) and s_fix > 0):
        raise FitError(f"analyte '{analyte}': noise sigma must be positive, got {s_fix}")
    if s_par >= 0 and lower[s_par] <= 0:
        raise FitError(
            f"analyte '{analyte}': estimated sigma '{nz.sigma}' needs a positive lower bound"
        )
    return s_par, s_fix, scale, df


def observation_row(
    analyte: str,
    o: Any,
    transform: Transform,
    curve: StandardCurve | None,
    df: float,
) -> dict[str, Any]:
    """One observation on the comparison scale of its analyte (a row of the table).

    Converts the value and censoring limits from the data's unit (linear, ``log10``, ``ln``, Ct)
    to the scale of ``transform``; a Ct scale on one side only swaps left and right censoring.

    Raises
    ------
    FitError
        If the observation lacks a value or limit, or cannot be log-transformed.
    """
    where = f"analyte '{analyte}', subject '{o.subject}', time {o.time:g}"
    cens = o.censoring
    if cens is Censoring.NONE and o.value is None:
        raise FitError(f"{where}: observation without a value and without censoring")
    if cens in (Censoring.LEFT, Censoring.RIGHT) and o.limit is None:
        raise FitError(f"{where}: {cens.value}-censored observation without a limit")
    value = o.value if o.value is not None else math.nan
    lo = o.limit if o.limit is not None else math.nan
    hi = o.upper if o.upper is not None else math.nan
    if transform is not Transform.IDENTITY:
        ds = _data_scale(o.unit)
        if ds == "ct" and curve is None:
            raise FitError(f"{where}: Ct data need a standard_curve in the ObservableMap")

        def to_log10(x: float) -> float:
            if math.isnan(x):
                return x
            if ds == "log10":
                return x
            if ds == "ln":
                return x / _LN10
            if ds == "ct":
                assert curve is not None
                return float(curve.ct_to_log10(x))
            if x <= 0:
                if cens is Censoring.LEFT or (cens is Censoring.INTERVAL and x == lo):
                    return -math.inf
                raise FitError(
                    f"{where}: value {x:g} {o.unit} cannot be log-transformed; record it as censored"
                )
            return math.log10(x)

        def from_log10(x: float) -> float:
            if math.isnan(x) or math.isinf(x):
                return x if transform is not Transform.CT else -x
            if transform is Transform.LOG10:
                return x
            if transform is Transform.LN:
                return x * _LN10
            assert curve is not None
            return float(curve.log10_to_ct(x))

        flip = (ds == "ct") != (transform is Transform.CT)
        value, lo, hi = (from_log10(to_log10(x)) for x in (value, lo, hi))
        if flip:
            if cens is Censoring.LEFT:
                cens = Censoring.RIGHT
            elif cens is Censoring.RIGHT:
                cens = Censoring.LEFT
            elif cens is Censoring.INTERVAL:
                lo, hi = hi, lo
    if cens is Censoring.INTERVAL and not lo <= hi:
        raise FitError(f"{where}: interval bounds are reversed")
    if cens is Censoring.LEFT and lo == -math.inf:
        raise FitError(f"{where}: left-censored at a limit of 0 carries no information")
    return {
        "analyte": analyte,
        "time": float(o.time),
        "value": value,
        "censoring": cens.value,
        "lower": lo,
        "upper": hi,
        "df": df,
    }
