"""The calibration problem: which data are which model output, what is estimated, with what priors.

A :class:`CalibrationProblem` binds a :class:`~immunetwin.model.ModelSpec` to one subject of a
:class:`~immunetwin.data.Dataset`. It owns a compiled, sensitivity-enabled simulator and evaluates
the negative log posterior (and its gradient, from the engine's forward sensitivities) for a batch
of parameter vectors at once: one batched simulation per call.

Every quantity is on the *estimation scale* ``theta``: ``log(value)`` for parameters estimated on
log scale (the default), the value itself otherwise (see :mod:`immunetwin.inference._priors`).

The class is assembled from private modules: its state and read-only accessors
(:mod:`._problem_state`), its evaluation (:mod:`._problem_eval`) and the observation table
(:mod:`._observations`); this module holds the constructor and the derived copies.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..data import Dataset, InterventionKind
from ..errors import FitError
from ..model import ModelSpec, Prior
from ..simulate import SolverOptions
from ._maps import Estimate, InterventionMap, Noise, ObservableMap, Residuals, Transform
from ._observations import build_observations
from ._priors import GaussianPrior, build_prior_terms
from ._problem_eval import _ProblemEvaluation
from ._problem_state import _TINY

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


def _fmt(x: float | None) -> str:
    return "None" if x is None else f"{x:g}"


class CalibrationProblem(_ProblemEvaluation):
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
        self._slot_index = {s: j for j, s in enumerate(self._cm.slots)}
        self._subject = self._select_subject(data, observables, subject)
        self._init_estimates(estimate)
        self._ps0 = self._fixed_slots(data, fixed, interventions)
        self._build_observations(observables, noise or {})
        self._init_priors(priors)
        self._finish_terms()

    # ------------------------------------------------------------------ construction steps
    def _select_subject(
        self, data: Dataset, observables: Mapping[str, ObservableMap | str], subject: str | None
    ) -> str:
        """The subject: as given, or the only one with observations of the mapped analytes."""
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
        return subject

    def _init_estimates(
        self, estimate: Sequence[str | Estimate] | Mapping[str, tuple[float, float]]
    ) -> None:
        """Names, scales, bounds and nominal values of the estimated quantities; their slots."""
        model, ids = self._model, self._model.ids()
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
        self._set_simulated(names, factor)

    def _set_simulated(self, names: list[str], factor: list[float]) -> None:
        """Which estimated quantities enter the simulation, their slots and scale factors."""
        ids = self._model.ids()
        used: set[str] = set()
        for _, ex in self._model.expressions():
            used |= {str(s) for s in ex.free_symbols}
        self._ode_idx = np.asarray(
            [i for i, n in enumerate(names) if ids[n] == "species" or n in used], dtype=np.int64
        )
        self._ode_slots = np.asarray(
            [self._slot_index[names[i]] for i in self._ode_idx], dtype=np.int64
        )
        self._ode_factor = np.asarray([factor[i] for i in self._ode_idx], dtype=float)

    def _fixed_slots(
        self,
        data: Dataset,
        fixed: Mapping[str, float] | None,
        interventions: Mapping[str, InterventionMap | None] | None,
    ) -> Array:
        """The slot vector with fixed values and the subject's mapped interventions set."""
        ps0: Array = self._cm.slot_values.copy()
        self._fixed_values = {}
        for k, v in (fixed or {}).items():
            self._set_fixed(ps0, str(k), float(v), "fixed")
        self._apply_interventions(ps0, data, dict(interventions or {}))
        return ps0

    def _apply_interventions(
        self, ps0: Array, data: Dataset, imap: dict[str, InterventionMap | None]
    ) -> None:
        """Set the slots of the subject's interventions (first dose of each mapped one)."""
        subject = self._subject
        ivs = [iv for iv in data.interventions if iv.subject == subject]
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

    def _init_priors(
        self,
        priors: Mapping[str, Prior]
        | GaussianPrior
        | tuple[Mapping[str, Prior], GaussianPrior]
        | None,
    ) -> None:
        """Univariate priors (the model's, overridden by those given) and a Gaussian prior."""
        model, ids, names = self._model, self._model.ids(), self._names
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
        table = build_observations(
            self._model,
            self._cm,
            self._data,
            self._subject,
            observables,
            noise,
            names=self._names,
            lower=[self._to_nat_1(i, self._lo[i]) for i in range(len(self._names))],
            fixed_values=self._fixed_values,
            slot_index=self._slot_index,
            t0=self._t0,
        )
        self._obs_frame = table.frame
        self._layouts = table.layouts
        self._times = table.times
        self._tidx = table.tidx
        self._value = table.value
        self._lower = table.lower
        self._upper = table.upper
        self._code = table.code
        self._df = table.df
        self._sig_fixed = table.sig_fixed
        self._sig_param = table.sig_param
        self._sig_scale = table.sig_scale

    # ------------------------------------------------------------------ derived copies
    def with_prior(
        self, prior: GaussianPrior | None, *, keep_univariate: bool = False
    ) -> CalibrationProblem:
        """A copy with another Gaussian prior (sharing the compiled simulator).

        The univariate priors of the parameters that ``prior`` covers are replaced; the others are
        kept when ``keep_univariate`` is true, else dropped (flat).
        """
        new = copy.copy(self)
        new._gauss = prior
        uni = dict(self._priors) if keep_univariate else {}
        new._priors = uni
        new._lo, new._hi = self._lo.copy(), self._hi.copy()
        new._prior_terms = build_prior_terms(
            self._names, tuple(bool(x) for x in self._log), uni, prior
        )
        new._finish_terms()
        return new

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
        new = copy.copy(self)
        new._ps0 = ps0
        return new

    def objective_from_outputs(self, theta: Array, outputs: Array, *, prior: bool = True) -> Array:
        """Negative log posterior (``prior=False``: likelihood) of ``theta`` from precomputed
        model outputs ``(N, len(times), len(output_names))`` instead of a simulation.

        ``+inf`` where an output is not finite. Same value as :meth:`objective` when
        ``outputs`` are the simulated outputs of ``theta`` at :attr:`times`.
        """
        from ._problem_outputs import given_outputs

        th = np.atleast_2d(np.asarray(theta, dtype=float))
        return np.asarray(given_outputs(self, th, outputs).objective(th, prior=prior))

    def predict_from_outputs(self, theta: Array, outputs: Array) -> tuple[Array, Array]:
        """Predictions ``mu (N, n_observations)`` on the comparison scale and ``ok (N,)`` from
        precomputed model outputs at :attr:`times` (see :meth:`objective_from_outputs`)."""
        from ._problem_outputs import given_outputs

        th = np.atleast_2d(np.asarray(theta, dtype=float))
        mu, _, ok = given_outputs(self, th, outputs).predict(th, jacobian=False)
        return mu, ok

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
