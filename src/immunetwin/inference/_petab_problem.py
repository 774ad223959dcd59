"""A PEtab (version 1) problem as a multi-condition :class:`CalibrationProblem`.

:class:`PetabProblem` reads a PEtab problem (YAML + SBML + tables, see
:mod:`._petab_tables`) and evaluates its negative log-likelihood in PEtab's convention (plus the
parameter table's objective priors) as stacked residuals, like a :class:`CalibrationProblem`:
``fit``, ``profile`` and ``laplace`` accept it. All simulation units (pairs of
pre-equilibration and simulation condition) of all parameter vectors run in ONE batched
simulation with forward sensitivities; the estimated parameters are shared between conditions.

Estimation scale: ``theta = ln(x)`` for parameters on PEtab scale ``log`` or ``log10`` and
``theta = x`` for ``lin`` (the objective does not depend on the scale; PEtab-scaled values are
reported by :meth:`PetabProblem.to_petab_scale`).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp

from ..errors import DataError, FitError
from ..model import ModelSpec
from ..simulate import SolverOptions
from ._maps import Residuals
from ._petab_eval import _PetabEvaluation
from ._petab_tables import PetabTables, Source, read_tables
from ._priors import build_prior_terms
from ._problem import CalibrationProblem

__all__ = ["PetabProblem"]

Array = np.ndarray[Any, Any]
_TIME = ("time", "t")


def _without_overridden_assignments(model: ModelSpec, tables: PetabTables) -> ModelSpec:
    """The model without initial assignments to parameters the condition table sets.

    In PEtab a condition-table value replaces the parameter's value, also where the SBML model
    computes it with an initial assignment (species keep theirs: they are overridden through
    their initial state instead).
    """
    cols = set(tables.conditions.columns) | {r.id for r in tables.parameters}
    kinds = model.ids()
    drop = {
        ia.variable
        for ia in model.initial_assignments
        if ia.variable in cols and kinds.get(ia.variable) in ("parameter", "compartment")
    }
    if not drop:
        return model
    keep = tuple(ia for ia in model.initial_assignments if ia.variable not in drop)
    return dataclasses.replace(model, initial_assignments=keep)


class PetabProblem(_PetabEvaluation, CalibrationProblem):
    """A PEtab problem over several conditions sharing parameters.

    Parameters
    ----------
    path
        The PEtab problem's YAML file (format version 1).
    solver
        Solver options (default ``rtol=1e-8, atol=1e-10, max_steps=200000``).

    Raises
    ------
    DataError
        Missing files or malformed tables (the message names the table row).
    UnsupportedPetabFeature
        A PEtab feature that is not handled, named with its table row.
    """

    def __init__(self, path: str | Path, *, solver: SolverOptions | None = None) -> None:
        from ..model import from_sbml

        tables = read_tables(path)
        self._tables = tables
        self._model = _without_overridden_assignments(from_sbml(tables.sbml_path), tables)
        self._solver = solver or SolverOptions(rtol=1e-8, atol=1e-10, max_steps=200_000)
        self._t0 = 0.0
        self._subject = tables.yaml_path.stem
        self._setup_parameters(tables)
        self._setup_formulas(tables)
        self._setup_units(tables)
        self._setup_measurements(tables)
        self._priors = {}
        self._gauss = None
        self._prior_terms = build_prior_terms(
            self._names, tuple(bool(x) for x in self._log), {}, None
        )

    @classmethod
    def from_yaml(cls, path: str | Path, *, solver: SolverOptions | None = None) -> PetabProblem:
        """Read a PEtab problem from its YAML file (see the class docs)."""
        return cls(path, solver=solver)

    # ------------------------------------------------------------------ parameters
    def _setup_parameters(self, tables: PetabTables) -> None:
        rows = {r.id: r for r in tables.parameters}
        names = tables.estimated
        if not names:
            raise FitError(f"{tables.yaml_path}: no parameter is estimated")
        est = [rows[n] for n in names]
        self._names = tuple(names)
        self._scales = tuple(r.scale for r in est)
        self._log = np.asarray([r.scale != "lin" for r in est], dtype=bool)
        lo = np.asarray([r.lower for r in est])
        hi = np.asarray([r.upper for r in est])
        self._lo = np.where(self._log, np.log(np.where(self._log, lo, 1.0)), lo)
        self._hi = np.where(self._log, np.log(np.where(self._log, hi, 1.0)), hi)
        nom = np.asarray([r.nominal for r in est])
        nom = np.where(np.isfinite(nom), nom, 0.5 * (lo + hi))
        self._nominal = self._to_theta_arr(np.clip(nom, lo, hi))
        self._petab_priors = tuple(
            (names.index(r.id), r.prior[0], r.prior[1], r.prior[2])
            for r in est
            if r.prior is not None
        )

    # ------------------------------------------------------------------ formulas
    def _setup_formulas(self, tables: PetabTables) -> None:
        """Classify every formula symbol and compile the model with the outputs they need."""
        from ..simulate import compile_model

        model = self._model
        ids = model.ids()
        base = compile_model(model, sensitivities=True)
        extra: list[str] = [s for s in base.states if s not in base.outputs]
        kinds: dict[str, str] = {}
        ruled = {a.variable for a in model.assignment_rules} | {
            r.variable for r in model.rate_rules
        }
        slots = set(base.slots) - ruled - set(base.states)
        for od in tables.observables.values():
            ph_o = {f"observableParameter{j + 1}_{od.id}" for j in range(od.n_obs_pars)}
            ph_n = {f"noiseParameter{j + 1}_{od.id}" for j in range(od.n_noise_pars)}
            for s in sorted({str(x) for x in (od.formula + od.noise).free_symbols}):
                if s in ph_o or s in ph_n:
                    kinds[s] = "placeholder"
                elif s in _TIME and s not in ids:
                    kinds[s] = "time"
                elif s in tables.sources and s not in slots:
                    kinds[s] = "table"
                elif s in slots and ids.get(s) in ("parameter", "compartment"):
                    kinds[s] = "slot"
                elif s in ids and ids[s] in ("species", "parameter", "compartment"):
                    kinds[s] = "output"
                    if s not in base.outputs and s not in extra:
                        extra.append(s)
                else:
                    raise DataError(
                        f"observable '{od.id}': symbol '{s}' is no model entity, parameter "
                        "table id or placeholder",
                        row="observable table",
                    )
        self._sym_kind = kinds
        self._cm = compile_model(model, outputs=tuple(extra), sensitivities=True)
        self._slot_index = {s: j for j, s in enumerate(self._cm.slots)}
        self._out_index = {s: j for j, s in enumerate(self._cm.outputs)}
        self._state_out = np.asarray([self._out_index[s] for s in self._cm.states], dtype=np.int64)
        self._fns: dict[str, tuple[list[str], Any, list[Any], Any, list[Any]]] = {}
        for od in tables.observables.values():
            by_name = {str(x): x for x in (od.formula + od.noise).free_symbols}
            syms = sorted(by_name)
            symbols = [by_name[s] for s in syms]  # the parser's symbols (with assumptions)
            f = sp.lambdify(symbols, od.formula, "numpy")
            g = sp.lambdify(symbols, od.noise, "numpy")
            df = [sp.lambdify(symbols, sp.diff(od.formula, x), "numpy") for x in symbols]
            dg = [sp.lambdify(symbols, sp.diff(od.noise, x), "numpy") for x in symbols]
            self._fns[od.id] = (syms, f, df, g, dg)

    # ------------------------------------------------------------------ conditions
    def _condition_value(self, cond: str, col: str) -> Source | None:
        cdf = self._tables.conditions
        if not cond or col not in cdf.columns:
            return None
        v = cdf.at[cond, col]
        if isinstance(v, float | int | np.floating | np.integer):
            return None if math.isnan(float(v)) else Source(float(v))
        s = str(v).strip()
        if s == "" or s.lower() == "nan":
            return None
        try:
            return Source(float(s))
        except ValueError:
            pass
        if s in self._tables.sources:
            return self._tables.sources[s]
        raise DataError(
            f"condition '{cond}', column '{col}': '{s}' is no number and not in the parameter table",
            row="condition table",
        )

    def _unit_setup(
        self, cond: str
    ) -> tuple[Array, dict[int, Source], dict[int, Source], frozenset[int]]:
        """Slot template, slot -> estimated sources, state overrides and overridden states."""
        cm = self._cm
        ps = cm.slot_values.copy()
        slot_src: dict[int, Source] = {}
        x0_src: dict[int, Source] = {}
        for pid, src in self._tables.sources.items():
            j = self._slot_index.get(pid)
            if j is None:
                continue
            if src.index >= 0:
                slot_src[j] = src
            else:
                ps[j] = src.value * self._factor(j)
        cols = [c for c in self._tables.conditions.columns if c != "conditionName"]
        states = {s: i for i, s in enumerate(cm.states)}
        reset: set[int] = set()
        assigned = {ia.variable for ia in self._model.initial_assignments}
        for col in cols:
            found = self._condition_value(cond, col)
            if found is None:
                continue
            src = found
            j = self._slot_index.get(col)
            kind = cm.slot_kinds[j] if j is not None else ""
            if col in states and col in assigned:
                x0_src[states[col]] = src  # an initial assignment would override the slot
                reset.add(states[col])
            elif j is not None and kind in ("parameter", "compartment", "species_initial"):
                slot_src.pop(j, None)
                if col in states:
                    reset.add(states[col])
                if src.index >= 0:
                    slot_src[j] = src
                else:
                    ps[j] = src.value * self._factor(j)
            elif col in states:
                x0_src[states[col]] = src
                reset.add(states[col])
            else:
                raise DataError(
                    f"condition table column '{col}' is no parameter, species or compartment "
                    "of the model",
                    row=f"condition '{cond}'",
                )
        return ps, slot_src, x0_src, frozenset(reset)

    def _factor(self, j: int) -> float:
        if self._cm.slot_kinds[j] == "species_initial":
            return self._species_factor(self._cm.slots[j])
        return 1.0

    def _setup_units(self, tables: PetabTables) -> None:
        units = []
        needs_fd = False
        for pre, sim in tables.units:
            main = self._unit_setup(sim)
            preq = self._unit_setup(pre) if pre else None
            if preq is not None or main[2]:
                needs_fd = True
            units.append((main, preq, pre, sim))
        self._units = units
        self._needs_fd = needs_fd
        sens = sorted({j for (m, _, _, _) in units for j in m[1]})
        self._sens_slots = np.asarray(sens, dtype=np.int64)

    # ------------------------------------------------------------------ measurements
    def _setup_measurements(self, tables: PetabTables) -> None:
        meas = tables.measurements
        self._times = np.unique(np.asarray([m.time for m in meas], dtype=float))
        self._m_value = np.asarray([m.value for m in meas], dtype=float)
        self._m_unit = np.asarray([m.unit for m in meas], dtype=np.int64)
        self._m_tidx = np.searchsorted(self._times, [m.time for m in meas]).astype(np.int64)
        self._by_obs: dict[str, Array] = {}
        for i, m in enumerate(meas):
            self._by_obs.setdefault(m.observable, np.zeros(0, dtype=np.int64))
            self._by_obs[m.observable] = np.append(self._by_obs[m.observable], i)
        for m in meas:
            od = tables.observables[m.observable]
            if od.transform != "lin" and m.value <= 0:
                raise DataError(
                    f"measurement {m.value:g} of a {od.transform}-transformed observable must be "
                    "positive",
                    row=f"measurement table row {m.row}",
                )
        self._sig_var = {oid: self._noise_varies(oid) for oid in self._by_obs}
        self._value = self._m_value
        n_var = sum(len(self._by_obs[o]) for o, v in self._sig_var.items() if v)
        self._n_sig_res = n_var
        self._sig_offset = 60.0

    def _noise_varies(self, oid: str) -> bool:
        """Whether the noise of an observable can depend on the estimated parameters."""
        od = self._tables.observables[oid]
        rows = self._by_obs[oid]
        for s in (str(x) for x in od.noise.free_symbols):
            kind = self._sym_kind[s]
            if kind == "output":
                return True
            if kind == "table" and self._tables.sources[s].index >= 0:
                return True
            if kind == "slot":
                j = self._slot_index[s]
                if any(j in u[0][1] for u in self._units):
                    return True
            if kind == "placeholder":
                for i in rows:
                    m = self._tables.measurements[int(i)]
                    if any(x.index >= 0 for x in (*m.obs_pars, *m.noise_pars)):
                        return True
        return False

    # ------------------------------------------------------------------ public extras
    @property
    def tables(self) -> PetabTables:
        """The read PEtab tables."""
        return self._tables

    @property
    def n_observations(self) -> int:
        """Number of measurements."""
        return len(self._m_value)

    @property
    def petab_scales(self) -> dict[str, str]:
        """PEtab parameter scale (``lin``, ``log``, ``log10``) of each estimated parameter."""
        return dict(zip(self._names, self._scales, strict=True))

    def to_petab_scale(self, theta: Array) -> Array:
        """Values on the PEtab parameter scales from estimation-scale vectors."""
        t = np.asarray(theta, dtype=float)
        ten = np.asarray([s == "log10" for s in self._scales])
        return np.where(ten, t / math.log(10.0), t)

    def nominal_values(self) -> dict[str, float]:
        """The parameter table's nominal values of the estimated parameters."""
        rows = {r.id: r for r in self._tables.parameters}
        return {n: rows[n].nominal for n in self._names}

    def with_prior(self, prior: Any, *, keep_univariate: bool = False) -> CalibrationProblem:
        """Not available: a PEtab problem's priors come from its parameter table."""
        if prior is None:
            return self
        raise FitError("a PEtab problem takes its priors from the parameter table")

    def summary(self) -> dict[str, Any]:
        """A short description of the problem."""
        return {
            "problem": str(self._tables.yaml_path),
            "model": self._model.id,
            "model_hash": self._model.hash()[:12],
            "conditions": [f"{p}->{s}" if p else s for p, s in self._tables.units],
            "observables": sorted(self._by_obs),
            "observations": self.n_observations,
            "estimated": list(self._names),
            "scales": self.petab_scales,
            "priors": [f"{self._names[i]}: {k}({a:g}, {b:g})" for i, k, a, b in self._petab_priors],
        }

    def __repr__(self) -> str:
        return (
            f"PetabProblem({self._subject!r}, conditions={len(self._units)}, "
            f"measurements={self.n_observations}, estimate={len(self._names)})"
        )

    def simulation_table(self, theta: Array | None = None) -> pd.DataFrame:
        """The PEtab simulation table (measurement table with ``simulation``) at ``theta``.

        ``theta`` is one estimation-scale vector (default: the nominal values).
        """
        th = self.nominal if theta is None else np.asarray(theta, dtype=float)
        sim, _, _, _, ok = self.evaluate(th[None, :], jacobian=False)
        if not ok[0]:
            raise FitError(f"{self._subject}: the simulation failed at these parameters")
        out = self._tables.measurement_df.copy()
        out = out.drop(columns=["measurement"]).assign(simulation=sim[0])
        cols = [c for c in out.columns if c != "simulation"]
        order = cols[:3] + ["simulation"] + cols[3:]
        return pd.DataFrame(out[order])

    def residuals(self, theta: Array, *, jacobian: bool = True, prior: bool = True) -> Residuals:
        """Stacked residuals (measurements, noise terms, priors); see ``CalibrationProblem``."""
        return self._residuals(theta, jacobian=jacobian, prior=prior)
