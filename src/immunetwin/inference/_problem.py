"""The calibration problem: which data are which model output, what is estimated, with what priors.

A :class:`CalibrationProblem` binds a :class:`~immunetwin.model.ModelSpec` to one subject of a
:class:`~immunetwin.data.Dataset`. It owns a compiled, sensitivity-enabled simulator and evaluates
the negative log posterior (and its gradient, from the engine's forward sensitivities) for a batch
of parameter vectors at once: one batched simulation per call.

Every quantity is on the *estimation scale* ``theta``: ``log(value)`` for parameters estimated on
log scale (the default), the value itself otherwise (see :mod:`immunetwin.inference._priors`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp

from ..data import Censoring, Dataset, InterventionKind, StandardCurve
from ..errors import FitError, ModelError
from ..model import ModelSpec, NoiseKind, Prior, as_expr
from ..simulate import SolverOptions
from ._likelihood import CENSOR_CODES, observation_constant, residuals
from ._maps import Estimate, InterventionMap, Noise, ObservableMap, Residuals, Transform
from ._priors import GaussianPrior, PriorTerms, build_prior_terms

__all__ = [
    "CalibrationProblem",
    "Estimate",
    "InterventionMap",
    "Noise",
    "ObservableMap",
    "Residuals",
    "Transform",
]

Array = np.ndarray[Any, Any]
_TINY = 1e-300
_LN10 = math.log(10.0)


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


def _data_scale(unit: str) -> str:
    u = unit.strip().lower()
    if u == "ct":
        return "ct"
    if u.startswith("log10"):
        return "log10"
    if u.startswith("ln ") or u.startswith("log "):
        return "ln"
    return "linear"


def _fmt(x: float | None) -> str:
    return "None" if x is None else f"{x:g}"


class CalibrationProblem:
    """One subject's calibration problem.

    Parameters
    ----------
    model
        The model.
    data
        The data set; ``subject`` selects the subject (default: the only one with data on the
        mapped analytes).
    observables
        Analyte name -> :class:`ObservableMap` (or just the target string).
    estimate
        Parameter (or species initial value) ids to estimate, or :class:`Estimate` objects, or a
        mapping id -> ``(lower, upper)``.
    priors
        Priors on the natural values by id (:class:`~immunetwin.model.Prior`; default: the
        model's ``Parameter.prior`` where set), and/or a :class:`GaussianPrior` on the estimation
        scale (e.g. from a :class:`PopulationPrior`). Parameters without a prior have a flat
        prior on the estimation scale within their bounds. Pass a tuple
        ``(mapping, GaussianPrior)`` for both.
    subject
        Subject id.
    noise
        Analyte -> :class:`Noise` (or a number, or a parameter id); default: the observable's
        noise model.
    interventions
        Intervention name (or kind) -> :class:`InterventionMap` (``None`` to ignore it).
    fixed
        Values of non-estimated parameters (or species initial values) for this subject.
    solver
        Solver options of the simulations.
    t0
        Model start time on the data's clock.
    """

    def __init__(
        self,
        model: ModelSpec,
        data: Dataset,
        *,
        observables: Mapping[str, ObservableMap | str],
        estimate: Sequence[str | Estimate] | Mapping[str, tuple[float, float]],
        priors: Mapping[str, Prior]
        | GaussianPrior
        | tuple[Mapping[str, Prior], GaussianPrior]
        | None = None,
        subject: str | None = None,
        noise: Mapping[str, Noise | float | str] | None = None,
        interventions: Mapping[str, InterventionMap | None] | None = None,
        fixed: Mapping[str, float] | None = None,
        solver: SolverOptions | None = None,
        t0: float = 0.0,
    ) -> None:
        from ..simulate import compile_model

        if not isinstance(model, ModelSpec):
            raise FitError("CalibrationProblem: model must be a ModelSpec")
        if not isinstance(data, Dataset):
            raise FitError("CalibrationProblem: data must be a Dataset")
        if not observables:
            raise FitError("CalibrationProblem: no observables mapped")
        self._model = model
        self._data = data
        self._solver = solver or SolverOptions(rtol=1e-6, atol=1e-9, max_steps=5000)
        self._t0 = float(t0)
        self._cm = compile_model(model, sensitivities=True)
        cm = self._cm
        self._slot_index = {s: j for j, s in enumerate(cm.slots)}
        ids = model.ids()

        # ---------------------------------------------------------------- subject
        analytes = list(observables)
        have = {o.subject for o in data.observations if o.analyte in analytes}
        if not have:
            raise FitError(
                "no observations of the mapped analyte(s) "
                + ", ".join(f"'{a}'" for a in analytes)
                + f"; the data have {list(data.analyte_names)}"
            )
        if subject is None:
            if len(have) != 1:
                raise FitError(
                    f"CalibrationProblem: data hold {len(have)} subjects with the analytes "
                    f"{analytes}; pass subject=..."
                )
            subject = next(iter(have))
        if subject not in data.subject_ids:
            raise FitError(f"CalibrationProblem: unknown subject '{subject}'")
        self._subject = subject

        # ---------------------------------------------------------------- estimated parameters
        est: list[Estimate] = []
        if isinstance(estimate, Mapping):
            for key, bounds in estimate.items():
                est.append(Estimate(str(key), float(bounds[0]), float(bounds[1])))
        else:
            for e in estimate:
                est.append(e if isinstance(e, Estimate) else Estimate(str(e)))
        if not est:
            raise FitError("CalibrationProblem: nothing to estimate")
        names = [e.id for e in est]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise FitError(f"CalibrationProblem: parameter(s) {dup} estimated twice")
        lows: list[float] = []
        highs: list[float] = []
        logs: list[bool] = []
        nominal: list[float] = []
        factor: list[float] = []
        for e in est:
            kind = ids.get(e.id)
            lo: float | None
            hi: float | None
            if kind == "parameter":
                p = model.parameter(e.id)
                lo = e.lower if e.lower is not None else p.lower
                hi = e.upper if e.upper is not None else p.upper
                lg = p.log_scale if e.log_scale is None else e.log_scale
                nom = p.value
                fac = 1.0
            elif kind == "species":
                s = model.species_by_id(e.id)
                lo, hi = e.lower, e.upper
                lg = True if e.log_scale is None else e.log_scale
                nom = s.initial if s.initial is not None else float("nan")
                if e.id not in self._slot_index:
                    raise FitError(f"cannot estimate the initial value of species '{e.id}'")
                fac = self._species_factor(e.id)
            else:
                raise FitError(
                    f"cannot estimate '{e.id}': not a parameter or species of model '{model.id}'"
                )
            if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
                raise FitError(
                    f"estimated '{e.id}' needs finite bounds (got lower={_fmt(lo)}, upper={_fmt(hi)})"
                )
            if not lo < hi:
                raise FitError(f"estimated '{e.id}': lower bound {lo:g} >= upper bound {hi:g}")
            if lg and lo <= 0:
                raise FitError(
                    f"estimated '{e.id}' is on log scale but its lower bound is {lo:g}; give a "
                    "positive bound with Estimate(id, lower=...) or log_scale=False"
                )
            lows.append(float(lo))
            highs.append(float(hi))
            logs.append(bool(lg))
            nominal.append(float(nom))
            factor.append(fac)
        self._names = tuple(names)
        self._log = np.asarray(logs, dtype=bool)
        nat_lo, nat_hi = np.asarray(lows), np.asarray(highs)
        self._lo = np.where(self._log, np.log(np.maximum(nat_lo, _TINY)), nat_lo)
        self._hi = np.where(self._log, np.log(np.maximum(nat_hi, _TINY)), nat_hi)
        nom_arr = np.asarray(nominal)
        nom_arr = np.where(np.isfinite(nom_arr), nom_arr, 0.5 * (nat_lo + nat_hi))
        self._nominal = self._to_theta_arr(np.clip(nom_arr, nat_lo, nat_hi))

        # which estimated quantities enter the simulation
        used: set[str] = set()
        for _, ex in model.expressions():
            used |= {str(s) for s in ex.free_symbols}
        self._ode_idx = np.asarray(
            [i for i, n in enumerate(names) if ids[n] == "species" or n in used], dtype=np.int64
        )
        self._ode_slots = np.asarray(
            [self._slot_index[names[i]] for i in self._ode_idx], dtype=np.int64
        )
        self._ode_factor = np.asarray([factor[i] for i in self._ode_idx], dtype=float)

        # ---------------------------------------------------------------- fixed values
        ps0 = cm.slot_values.copy()
        self._fixed_values: dict[str, float] = {}
        for k, v in (fixed or {}).items():
            self._set_fixed(ps0, str(k), float(v), "fixed")
        ivs = [iv for iv in data.interventions if iv.subject == subject]
        imap = dict(interventions or {})
        for iv in ivs:
            key = iv.name if iv.name in imap else iv.kind.value
            if key not in imap:
                raise FitError(
                    f"intervention '{iv.name}' ({iv.kind.value}) of subject '{subject}' is not "
                    f"mapped onto the model; pass interventions={{'{iv.name}': InterventionMap(...)}}"
                    " (or None to ignore it)"
                )
            m = imap[key]
            if m is None:
                continue
            same = [x for x in ivs if (x.name if x.name in imap else x.kind.value) == key]
            if m.amount is not None and len(same) > 1:
                raise FitError(
                    f"intervention '{key}' of subject '{subject}' has {len(same)} doses; map "
                    "repeated doses with model events instead"
                )
            first = min(same, key=lambda x: x.time)
            if iv is not first:
                continue
            if m.time is not None:
                self._set_fixed(ps0, m.time, iv.time, f"intervention '{key}'")
            if m.amount is not None:
                if iv.amount is None:
                    raise FitError(f"intervention '{key}' of subject '{subject}' has no amount")
                self._set_fixed(ps0, m.amount, iv.amount, f"intervention '{key}'")
            if m.duration is not None:
                if iv.duration is None:
                    raise FitError(f"intervention '{key}' of subject '{subject}' has no duration")
                self._set_fixed(ps0, m.duration, iv.duration, f"intervention '{key}'")
            for pk, pv in m.values.items():
                self._set_fixed(ps0, pk, float(pv), f"intervention '{key}'")
        for k in imap:
            if k not in {iv.name for iv in ivs} | {iv.kind.value for iv in ivs}:
                valid = {x.value for x in InterventionKind}
                if k not in valid and not any(k == iv.name for iv in data.interventions):
                    raise FitError(f"interventions: '{k}' is no intervention name or kind")
        self._ps0 = ps0

        # ---------------------------------------------------------------- observations
        self._build_observations(observables, noise or {})

        # ---------------------------------------------------------------- priors
        uni: dict[str, Prior] = {}
        gauss: GaussianPrior | None = None
        if priors is None:
            pass
        elif isinstance(priors, GaussianPrior):
            gauss = priors
        elif isinstance(priors, tuple):
            uni, gauss = dict(priors[0]), priors[1]
        else:
            uni = dict(priors)
        spec_priors = {
            n: model.parameter(n).prior
            for n in names
            if ids[n] == "parameter" and model.parameter(n).prior is not None
        }
        merged: dict[str, Prior] = {k: v for k, v in spec_priors.items() if v is not None}
        merged.update(uni)
        for k in uni:
            if k not in self._names:
                raise FitError(f"prior for '{k}', which is not estimated")
        self._priors = merged
        self._gauss = gauss
        self._prior_terms = build_prior_terms(
            self._names, tuple(bool(x) for x in self._log), merged, gauss
        )
        # clip the box to uniform priors' support
        for n, pr in merged.items():
            i = self._names.index(n)
            if pr.kind in ("uniform", "loguniform"):
                lo_t, hi_t = self._to_theta_1(i, pr.a), self._to_theta_1(i, pr.b)
                self._lo[i] = max(self._lo[i], lo_t)
                self._hi[i] = min(self._hi[i], hi_t)
                if not self._lo[i] < self._hi[i]:
                    raise FitError(f"prior of '{n}' does not overlap the bounds")
        self._finish_terms()

    # ------------------------------------------------------------------ construction helpers
    def _species_factor(self, sid: str) -> float:
        s = self._model.species_by_id(sid)
        comp = self._slot_index.get(s.compartment)
        if s.initial_is_amount and not s.has_only_substance_units:
            if comp is None:
                raise FitError(f"cannot estimate species '{sid}' in a rule-sized compartment")
            return float(self._cm.slot_values[comp])
        if not s.initial_is_amount and s.has_only_substance_units:
            if comp is None:
                raise FitError(f"cannot estimate species '{sid}' in a rule-sized compartment")
            return 1.0 / float(self._cm.slot_values[comp])
        return 1.0

    def _set_fixed(self, ps0: Array, pid: str, value: float, what: str) -> None:
        if pid in self._names:
            raise FitError(f"{what}: '{pid}' is estimated and cannot be set")
        j = self._slot_index.get(pid)
        if j is None:
            raise FitError(
                f"{what}: '{pid}' is not a parameter or species of model '{self._model.id}'"
            )
        fac = self._species_factor(pid) if self._cm.slot_kinds[j] == "species_initial" else 1.0
        ps0[j] = value * fac
        self._fixed_values[pid] = float(value)

    def _build_observations(
        self,
        observables: Mapping[str, ObservableMap | str],
        noise: Mapping[str, Noise | float | str],
    ) -> None:
        model, cm = self._model, self._cm
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
            if om.transform is None:
                if model_noise is not None and model_noise.kind is NoiseKind.LOG10NORMAL:
                    transform = Transform.LOG10
                elif model_noise is not None and model_noise.kind is NoiseKind.LOGNORMAL:
                    transform = Transform.LN
                else:
                    transform = Transform.IDENTITY
            else:
                try:
                    transform = Transform(om.transform)
                except ValueError:
                    raise FitError(
                        f"analyte '{analyte}': unknown transform '{om.transform}'"
                    ) from None
            curve = om.standard_curve
            if transform is Transform.CT and curve is None:
                raise FitError(f"analyte '{analyte}': transform CT needs a standard_curve")
            # expression of outputs / parameters
            try:
                expr = as_expr(target, where=f"observable map of '{analyte}'")
            except (ModelError, ValueError, TypeError, SyntaxError) as exc:
                raise FitError(
                    f"analyte '{analyte}': cannot read target '{target}': {exc}"
                ) from None
            syms = sorted(expr.free_symbols, key=str)
            sym_names = tuple(str(s) for s in syms)
            is_out, idx = [], []
            for s in sym_names:
                if s in out_index:
                    is_out.append(True)
                    idx.append(out_index[s])
                elif s in self._slot_index and self._cm.slot_kinds[self._slot_index[s]] in (
                    "parameter",
                    "compartment",
                ):
                    is_out.append(False)
                    idx.append(self._slot_index[s])
                else:
                    raise FitError(
                        f"analyte '{analyte}': '{s}' in target '{target}' is not an output or "
                        f"parameter of model '{model.id}' (outputs: {list(cm.outputs)})"
                    )
            if not sym_names:
                raise FitError(f"analyte '{analyte}': target '{target}' depends on nothing")
            if len(syms) == 1 and expr == syms[0]:
                fn: Any = None
                grads: tuple[Any, ...] = ()
            else:
                fn = sp.lambdify(syms, expr, modules="numpy")
                grads = tuple(sp.lambdify(syms, sp.diff(expr, s), modules="numpy") for s in syms)
            # noise
            nz = noise.get(analyte)
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
                raise FitError(
                    f"analyte '{analyte}': unknown noise distribution '{nz.distribution}'"
                )
            if nz.distribution == "student_t" and not nz.df > 0:
                raise FitError(f"analyte '{analyte}': Student-t df must be positive")
            df = float(nz.df) if nz.distribution == "student_t" else math.inf
            scale = 1.0
            if from_model and transform is Transform.CT and curve is not None:
                # the model's noise is in log10 units; on the Ct scale it is |slope| times larger
                scale = abs(curve.slope)
            if isinstance(nz.sigma, str):
                if nz.sigma in self._names:
                    s_par, s_fix = self._names.index(nz.sigma), math.nan
                elif nz.sigma in self._fixed_values:
                    s_par, s_fix = -1, self._fixed_values[nz.sigma]
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
            if s_par >= 0 and self._to_nat_1(s_par, self._lo[s_par]) <= 0:
                raise FitError(
                    f"analyte '{analyte}': estimated sigma '{nz.sigma}' needs a positive lower bound"
                )
            # observations of this subject
            sel = [
                o
                for o in self._data.observations
                if o.subject == self._subject and o.analyte == analyte
            ]
            if not sel:
                raise FitError(
                    f"analyte '{analyte}': no observations for subject '{self._subject}'"
                )
            first = len(rows)
            for o in sel:
                rows.append(self._observation_row(analyte, o, transform, curve, df))
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
                )
            )
            n_a = len(sel)
            sig_fixed += [s_fix] * n_a
            sig_param += [s_par] * n_a
            sig_scale += [scale] * n_a
        frame = pd.DataFrame(rows)
        if (frame["time"] < self._t0).any():
            bad = frame.loc[frame["time"] < self._t0].iloc[0]
            raise FitError(
                f"analyte '{bad['analyte']}': observation at time {bad['time']:g} before the model start t0={self._t0:g}"
            )
        self._obs_frame = frame
        self._layouts = tuple(layouts)
        self._times = np.unique(frame["time"].to_numpy(dtype=float))
        self._tidx = np.searchsorted(self._times, frame["time"].to_numpy(dtype=float))
        self._value = frame["value"].to_numpy(dtype=float)
        self._lower = frame["lower"].to_numpy(dtype=float)
        self._upper = frame["upper"].to_numpy(dtype=float)
        self._code = frame["censoring"].map(CENSOR_CODES).to_numpy(dtype=np.int64)
        self._df = frame["df"].to_numpy(dtype=float)
        self._sig_fixed = np.asarray(sig_fixed)
        self._sig_param = np.asarray(sig_param, dtype=np.int64)
        self._sig_scale = np.asarray(sig_scale)

    def _observation_row(
        self,
        analyte: str,
        o: Any,
        transform: Transform,
        curve: StandardCurve | None,
        df: float,
    ) -> dict[str, Any]:
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

    def _finish_terms(self) -> None:
        """Collect the coefficient terms (prior Jacobians and sigma log terms)."""
        pt = self._prior_terms
        lin: dict[tuple[int, int], float] = {}
        for i, c, kd in zip(pt.lin_index, pt.lin_coef, pt.lin_kind, strict=True):
            lin[(int(i), int(kd))] = lin.get((int(i), int(kd)), 0.0) + float(c)
        obs_mask = self._code == 0
        lik_lin: dict[tuple[int, int], float] = {}
        const_lik = observation_constant(self._code, self._df)
        for i in np.unique(self._sig_param[obs_mask]):
            n_i = float(np.sum(obs_mask & (self._sig_param == i)))
            if i < 0:
                continue
            key = (int(i), 0 if self._log[i] else 1)
            lik_lin[key] = lik_lin.get(key, 0.0) + n_i
        fixed_mask = obs_mask & (self._sig_param < 0)
        const_lik += float(
            np.sum(np.log(self._sig_fixed[fixed_mask] * self._sig_scale[fixed_mask]))
        )
        est_mask = obs_mask & (self._sig_param >= 0)
        const_lik += float(np.sum(np.log(self._sig_scale[est_mask])))
        self._const_lik = const_lik
        self._lin_lik = self._lin_arrays(lik_lin)
        self._lin_prior = self._lin_arrays(lin)

    def _lin_arrays(
        self, terms: Mapping[tuple[int, int], float]
    ) -> tuple[Array, Array, Array, Array, float]:
        idx, kind, coef, ref = [], [], [], []
        const = 0.0
        for (i, kd), c in terms.items():
            if c == 0:
                continue
            bound = self._lo[i] if c > 0 else self._hi[i]
            if kd == 1:
                if bound <= 0:
                    raise FitError(f"'{self._names[i]}' needs a positive bound for its log term")
                u_ref = math.log(bound)
            else:
                u_ref = float(bound)
            idx.append(i)
            kind.append(kd)
            coef.append(c)
            ref.append(u_ref)
            const += c * u_ref - 0.5
        return (
            np.asarray(idx, dtype=np.int64),
            np.asarray(kind, dtype=np.int64),
            np.asarray(coef, dtype=float),
            np.asarray(ref, dtype=float),
            const,
        )

    # ------------------------------------------------------------------ scale helpers
    def _to_theta_1(self, i: int, x: float) -> float:
        return math.log(x) if self._log[i] else float(x)

    def _to_nat_1(self, i: int, t: float) -> float:
        return math.exp(t) if self._log[i] else float(t)

    def _to_theta_arr(self, x: Array) -> Array:
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self._log, np.log(np.where(self._log, x, 1.0)), x)

    # ------------------------------------------------------------------ public API
    @property
    def model(self) -> ModelSpec:
        """The model."""
        return self._model

    @property
    def data(self) -> Dataset:
        """The data set."""
        return self._data

    @property
    def subject(self) -> str:
        """The subject id."""
        return self._subject

    @property
    def names(self) -> tuple[str, ...]:
        """Ids of the estimated quantities, in the order of ``theta``."""
        return self._names

    @property
    def n_parameters(self) -> int:
        """Number of estimated quantities ``k``."""
        return len(self._names)

    @property
    def log_scale(self) -> dict[str, bool]:
        """Whether each estimated quantity is on log scale."""
        return {n: bool(x) for n, x in zip(self._names, self._log, strict=True)}

    @property
    def bounds(self) -> tuple[Array, Array]:
        """Lower and upper bounds of ``theta`` (estimation scale), each shape ``(k,)``."""
        return self._lo.copy(), self._hi.copy()

    @property
    def nominal(self) -> Array:
        """The model's values of the estimated quantities on the estimation scale (clipped)."""
        return self._nominal.copy()

    @property
    def times(self) -> Array:
        """Sorted unique observation times."""
        return self._times.copy()

    @property
    def observations(self) -> pd.DataFrame:
        """The observations on their comparison scale (analyte, time, value, censoring, lower, upper)."""
        return self._obs_frame.copy()

    @property
    def n_observations(self) -> int:
        """Number of observations (censored ones included)."""
        return int(len(self._value))

    @property
    def priors(self) -> dict[str, Prior]:
        """The univariate priors in use (natural scale)."""
        return dict(self._priors)

    @property
    def gaussian_prior(self) -> GaussianPrior | None:
        """The Gaussian prior on the estimation scale, if any."""
        return self._gauss

    @property
    def solver(self) -> SolverOptions:
        """The solver options."""
        return self._solver

    def to_natural(self, theta: Array) -> Array:
        """Natural values from estimation-scale vectors (any leading shape, last axis ``k``)."""
        t = np.asarray(theta, dtype=float)
        return np.where(self._log, np.exp(np.where(self._log, t, 0.0)), t)

    def to_theta(self, values: Mapping[str, float] | Array) -> Array:
        """Estimation-scale vector from natural values (a mapping by id or an array)."""
        if isinstance(values, Mapping):
            missing = [n for n in self._names if n not in values]
            if missing:
                raise FitError(f"to_theta: missing values for {missing}")
            arr = np.asarray([float(values[n]) for n in self._names])
        else:
            arr = np.asarray(values, dtype=float)
        if np.any(self._log & (arr <= 0)):
            bad = [n for n, b in zip(self._names, self._log & (arr <= 0), strict=True) if b]
            raise FitError(f"to_theta: log-scale parameter(s) {bad} must be positive")
        return self._to_theta_arr(arr)

    def with_prior(
        self, prior: GaussianPrior | None, *, keep_univariate: bool = False
    ) -> CalibrationProblem:
        """A copy with another Gaussian prior (sharing the compiled simulator).

        The univariate priors of the parameters that ``prior`` covers are replaced; the others are
        kept when ``keep_univariate`` is true, else dropped (flat).
        """
        new = object.__new__(CalibrationProblem)
        new.__dict__.update(self.__dict__)
        new._gauss = prior
        uni = dict(self._priors) if keep_univariate else {}
        new._priors = uni
        new._lo, new._hi = self._lo.copy(), self._hi.copy()
        new._prior_terms = build_prior_terms(
            self._names, tuple(bool(x) for x in self._log), uni, prior
        )
        new._finish_terms()
        return new

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of the simulated outputs (last axis of :meth:`simulate_outputs`' arrays)."""
        return tuple(self._cm.outputs)

    def with_fixed(self, values: Mapping[str, float]) -> CalibrationProblem:
        """A copy whose fixed (not estimated) parameters ``values`` take other values.

        Used for scenarios (an intervention's start and efficacy) on a calibrated problem; the
        compiled simulator is shared. Estimated parameters cannot be set here.
        """
        if not values:
            return self
        slot = {s: j for j, s in enumerate(self._cm.slots)}
        ps0 = self._ps0.copy()
        for pid, v in values.items():
            if pid in self._names:
                raise FitError(f"'{pid}' is estimated; it cannot be held at a value")
            j = slot.get(pid)
            if j is None:
                raise FitError(f"'{pid}' is no parameter of model '{self.model.id}'")
            factor = (
                self._species_factor(pid) if self._cm.slot_kinds[j] == "species_initial" else 1.0
            )
            ps0[j] = float(v) * factor
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._ps0 = ps0
        return new

    def summary(self) -> dict[str, Any]:
        """A short description of the problem (model, subject, data, parameters, priors)."""
        cens = self._obs_frame["censoring"].value_counts().to_dict()
        return {
            "model": self._model.id,
            "model_hash": self._model.hash()[:12],
            "subject": self._subject,
            "analytes": [la.name for la in self._layouts],
            "transforms": {la.name: la.transform.value for la in self._layouts},
            "observations": self.n_observations,
            "censoring": {str(k): int(v) for k, v in cens.items()},
            "estimated": list(self._names),
            "log_scale": self.log_scale,
            "bounds": {
                n: (self._to_nat_1(i, self._lo[i]), self._to_nat_1(i, self._hi[i]))
                for i, n in enumerate(self._names)
            },
            "priors": {k: f"{v.kind}({v.a:g}, {v.b:g})" for k, v in self._priors.items()},
            "gaussian_prior": None if self._gauss is None else list(self._gauss.names),
            "fixed": dict(self._fixed_values),
        }

    def __repr__(self) -> str:
        return (
            f"CalibrationProblem(model={self._model.id!r}, subject={self._subject!r}, "
            f"observations={self.n_observations}, estimate={list(self._names)})"
        )

    # ------------------------------------------------------------------ evaluation
    def simulate_outputs(
        self, theta: Array, *, sensitivities: bool = True, times: Array | None = None
    ) -> tuple[Array, Array | None, Array, Array]:
        """Simulate a batch: ``(Y (N,T,m), dY/dslot (N,T,m,k_ode) or None, PS (N,P), ok (N,))``."""
        from ..simulate import method_code

        th = np.atleast_2d(np.asarray(theta, dtype=float))
        N = th.shape[0]
        cm = self._cm
        ps = np.tile(self._ps0, (N, 1))
        nat = self.to_natural(th)
        if self._ode_idx.size:
            ps[:, self._ode_slots] = nat[:, self._ode_idx] * self._ode_factor
        tout = self._times if times is None else np.asarray(times, dtype=float)
        sidx = self._ode_slots if sensitivities else np.zeros(0, dtype=np.int64)
        opts = self._solver
        y, dy, status, _ = cm.run(
            tout,
            ps,
            sens_idx=sidx,
            method=method_code(opts.method),
            rtol=opts.rtol,
            atol=opts.atol,
            max_steps=opts.max_steps,
            t0=self._t0,
            parallel=bool(opts.parallel and N >= 4),
        )
        ok = (status == 0) & np.all(np.isfinite(y.reshape(N, -1)), axis=1)
        return y, (dy if sensitivities else None), ps, ok

    def predict(self, theta: Array, *, jacobian: bool = True) -> tuple[Array, Array | None, Array]:
        """Predictions on the comparison scale at the observations.

        Returns ``mu (N, n)``, ``d mu / d theta (N, n, k)`` (or ``None``) and ``ok (N,)``.
        """
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        N, k = th.shape
        if k != self.n_parameters:
            raise FitError(f"theta has {k} columns; the problem estimates {self.n_parameters}")
        y, dy, ps, ok = self.simulate_outputs(th, sensitivities=jacobian)
        n = self.n_observations
        mu = np.empty((N, n))
        dmu = np.zeros((N, n, k)) if jacobian else None
        nat = self.to_natural(th)
        # d slot / d theta for ODE quantities
        dslot = nat[:, self._ode_idx] * self._ode_factor
        dslot = np.where(self._log[self._ode_idx], dslot, self._ode_factor)
        slot_to_theta = {
            int(s): int(i) for s, i in zip(self._ode_slots, self._ode_idx, strict=True)
        }
        for la in self._layouts:
            ti = self._tidx[la.obs]
            cols = []
            dcols: list[Array | None] = []
            for is_out, j in zip(la.sym_is_output, la.sym_index, strict=True):
                if is_out:
                    cols.append(y[:, ti, j])
                    if dmu is not None and dy is not None:
                        d = np.zeros((N, ti.size, k))
                        d[:, :, self._ode_idx] = dy[:, ti, j, :] * dslot[:, None, :]
                        dcols.append(d)
                else:
                    cols.append(np.broadcast_to(ps[:, j : j + 1], (N, ti.size)))
                    if dmu is not None:
                        d = np.zeros((N, ti.size, k))
                        if j in slot_to_theta:
                            i = slot_to_theta[j]
                            pos = int(np.flatnonzero(self._ode_idx == i)[0])
                            d[:, :, i] = dslot[:, pos : pos + 1]
                        dcols.append(d)
            draw: Array | None
            if la.expr_fn is None:
                raw = cols[0]
                draw = dcols[0] if dmu is not None else None
            else:
                raw = np.broadcast_to(np.asarray(la.expr_fn(*cols), dtype=float), (N, ti.size))
                draw = None
                if dmu is not None:
                    draw = np.zeros((N, ti.size, k))
                    for g, dc in zip(la.grad_fns, dcols, strict=True):
                        gv = np.broadcast_to(np.asarray(g(*cols), dtype=float), (N, ti.size))
                        assert dc is not None
                        draw += gv[:, :, None] * dc
            m: Array
            dm: Array | float
            if la.transform is Transform.IDENTITY:
                m, dm = raw, 1.0
            else:
                pos_raw = np.maximum(raw, _TINY)
                clamp = raw > _TINY
                if la.transform is Transform.LN:
                    m = np.log(pos_raw)
                    dm = np.where(clamp, 1.0 / pos_raw, 0.0)
                else:
                    m = np.log10(pos_raw)
                    dm = np.where(clamp, 1.0 / (pos_raw * _LN10), 0.0)
                    if la.transform is Transform.CT:
                        c = la.curve
                        assert c is not None
                        m = c.intercept + c.slope * (m - c.log10_factor)
                        dm = dm * c.slope
            mu[:, la.obs] = m
            if dmu is not None and draw is not None:
                dmu[:, la.obs, :] = draw * np.asarray(dm)[..., None] if np.ndim(dm) else draw
        ok = ok & np.all(np.isfinite(mu), axis=1)
        return mu, dmu, ok

    def residuals(self, theta: Array, *, jacobian: bool = True, prior: bool = True) -> Residuals:
        """Stacked residuals (observations, sigma terms, and priors unless ``prior=False``).

        ``theta`` has shape ``(k,)`` or ``(N, k)``; one batched simulation evaluates all rows.
        """
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        N, k = th.shape
        mu, dmu, ok = self.predict(th, jacobian=jacobian)
        nat = self.to_natural(th)
        sp_idx = self._sig_param
        est = sp_idx >= 0
        sigma = np.broadcast_to(self._sig_fixed * self._sig_scale, (N, sp_idx.size)).copy()
        if est.any():
            sigma[:, est] = nat[:, sp_idx[est]] * self._sig_scale[est]
        mu_safe = np.where(np.isfinite(mu), mu, 0.0)
        r_obs, dr_dmu, dr_dsig = residuals(
            mu_safe, sigma, self._value, self._lower, self._upper, self._code, self._df
        )
        blocks = [r_obs]
        jblocks: list[Array] = []
        if jacobian:
            assert dmu is not None
            j_obs = dr_dmu[:, :, None] * dmu
            if est.any():
                cols = sp_idx[est]
                # d sigma / d theta = sigma (log) or scale (natural)
                dsig_dth = np.where(self._log[cols], sigma[:, est], self._sig_scale[est])
                contrib = dr_dsig[:, est] * dsig_dth
                rows = np.flatnonzero(est)
                j_obs[:, rows, cols] += contrib
            jblocks.append(j_obs)
        const = self._const_lik
        terms = [self._lin_lik]
        if prior:
            terms.append(self._lin_prior)
        for idx, kind, coef, ref, c0 in terms:
            if idx.size == 0:
                continue
            t = th[:, idx]
            u = np.where(kind == 1, np.log(np.maximum(t, _TINY)), t)
            arg = np.maximum(2.0 * coef * (u - ref) + 1.0, 1e-12)
            r = np.sqrt(arg)
            blocks.append(r)
            const += c0
            if jacobian:
                du = np.where(kind == 1, 1.0 / np.maximum(t, _TINY), 1.0)
                jj = np.zeros((N, idx.size, k))
                jj[:, np.arange(idx.size), idx] = coef * du / r
                jblocks.append(jj)
        if prior:
            pt: PriorTerms = self._prior_terms
            const += pt.const
            if pt.sq_index.size:
                t = th[:, pt.sq_index]
                f = np.where(
                    pt.sq_fun == 1,
                    np.exp(np.where(pt.sq_fun == 1, t, 0.0)),
                    np.where(pt.sq_fun == 2, np.log(np.maximum(t, _TINY)), t),
                )
                blocks.append((f - pt.sq_a) / pt.sq_b)
                if jacobian:
                    df = np.where(
                        pt.sq_fun == 1, f, np.where(pt.sq_fun == 2, 1.0 / np.maximum(t, _TINY), 1.0)
                    )
                    jj = np.zeros((N, pt.sq_index.size, k))
                    jj[:, np.arange(pt.sq_index.size), pt.sq_index] = df / pt.sq_b
                    jblocks.append(jj)
            if pt.mvn_index.size:
                d = th[:, pt.mvn_index] - pt.mvn_mean
                blocks.append(d @ pt.mvn_chol_inv.T)
                if jacobian:
                    jj = np.zeros((N, pt.mvn_index.size, k))
                    jj[:, :, pt.mvn_index] = pt.mvn_chol_inv
                    jblocks.append(jj)
        r_all = np.concatenate(blocks, axis=1)
        j_all = np.concatenate(jblocks, axis=1) if jacobian else None
        ok = ok & np.all(np.isfinite(r_all), axis=1)
        if j_all is not None:
            ok = ok & np.all(np.isfinite(j_all.reshape(N, -1)), axis=1)
        return Residuals(r=r_all, jac=j_all, const=float(const), ok=ok)

    def objective(
        self, theta: Array, *, gradient: bool = False, prior: bool = True
    ) -> Array | tuple[Array, Array]:
        """Negative log posterior (or, with ``prior=False``, negative log likelihood).

        ``theta``: shape ``(k,)`` or ``(N, k)`` on the estimation scale. Returns the values
        ``(N,)`` (``+inf`` where the simulation failed) and, with ``gradient=True``, also the
        gradients ``(N, k)`` computed from the engine's forward sensitivities.
        """
        res = self.residuals(theta, jacobian=gradient, prior=prior)
        val = res.objective
        if not gradient:
            return val
        assert res.jac is not None
        grad = np.einsum("nr,nrk->nk", res.r, res.jac)
        grad = np.where(res.ok[:, None], grad, np.nan)
        return val, grad

    def in_bounds(self, theta: Array) -> Array:
        """Whether each row of ``theta`` lies within the bounds."""
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        out: Array = np.all((th >= self._lo) & (th <= self._hi), axis=1)
        return out
