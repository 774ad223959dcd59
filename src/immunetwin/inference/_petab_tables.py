"""Reading a PEtab (version 1) problem into plain, checked structures.

The ``petab`` library reads the YAML file and the tables; this module turns them into what a
:class:`~immunetwin.inference.PetabProblem` needs: the model, the parameter table as value
sources (a constant or an estimated parameter), the observable and noise formulas as SymPy
expressions, the simulation units (pairs of pre-equilibration and simulation condition) and one
record per measurement row. Features this reader does not handle are refused with an
:class:`~immunetwin.errors.UnsupportedPetabFeature` naming the feature and the table row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp

from ..errors import DataError, FitError, UnsupportedPetabFeature

__all__ = ["Measurement", "ObservableDef", "ParameterRow", "PetabTables", "read_tables", "Source"]

_SCALES = ("lin", "log", "log10")
_TRANSFORMS = ("lin", "log", "log10")
_NOISES = ("normal", "laplace")
_PRIORS = ("uniform", "parameterScaleUniform", "normal", "parameterScaleNormal")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value comes from: an estimated parameter (``index >= 0``) or a constant."""

    value: float
    index: int = -1


@dataclass(frozen=True, slots=True)
class ParameterRow:
    """One row of the parameter table."""

    id: str
    scale: str
    lower: float
    upper: float
    nominal: float
    estimate: bool
    prior: tuple[str, float, float] | None


@dataclass(frozen=True, slots=True)
class ObservableDef:
    """One row of the observable table, parsed."""

    id: str
    formula: sp.Expr
    noise: sp.Expr
    transform: str
    distribution: str
    n_obs_pars: int
    n_noise_pars: int


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement row with its placeholders resolved to value sources."""

    row: int
    observable: str
    unit: int
    time: float
    value: float
    obs_pars: tuple[Source, ...]
    noise_pars: tuple[Source, ...]


@dataclass(frozen=True)
class PetabTables:
    """A read PEtab problem (see :func:`read_tables`)."""

    yaml_path: Path
    sbml_path: Path
    parameters: tuple[ParameterRow, ...]
    estimated: tuple[str, ...]
    sources: dict[str, Source]
    observables: dict[str, ObservableDef]
    units: tuple[tuple[str, str], ...]  # (preequilibration condition or "", simulation condition)
    conditions: pd.DataFrame
    measurements: tuple[Measurement, ...]
    measurement_df: pd.DataFrame
    raw: Any  # the petab.v1.Problem


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v).strip()


def _parse_sources(text: Any, n: int, sources: dict[str, Source], where: str) -> tuple[Source, ...]:
    s = _cell(text)
    if n == 0:
        return ()
    if not s:
        raise DataError(f"{n} placeholder value(s) needed, none given", row=where)
    parts = [p.strip() for p in s.split(";")]
    if len(parts) != n:
        raise DataError(f"{n} placeholder value(s) needed, {len(parts)} given", row=where)
    out = []
    for p in parts:
        try:
            out.append(Source(float(p)))
        except ValueError:
            if p not in sources:
                raise DataError(
                    f"placeholder value '{p}' is no number and not in the parameter table",
                    row=where,
                ) from None
            out.append(sources[p])
    return tuple(out)


def _n_placeholders(expr: sp.Expr, prefix: str, oid: str) -> int:
    n = 0
    names = {str(s) for s in expr.free_symbols}
    while f"{prefix}{n + 1}_{oid}" in names:
        n += 1
    return n


def _parameter_rows(pdf: pd.DataFrame) -> tuple[ParameterRow, ...]:
    rows = []
    for i, (pid, r) in enumerate(pdf.iterrows()):
        where = f"parameter table row {i + 1} ('{pid}')"
        scale = _cell(r.get("parameterScale", "lin")) or "lin"
        if scale not in _SCALES:
            raise UnsupportedPetabFeature(f"parameterScale '{scale}'", where)
        est = bool(int(float(r.get("estimate", 0))))
        nominal = float(r.get("nominalValue", math.nan))
        lo, hi = float(r.get("lowerBound", math.nan)), float(r.get("upperBound", math.nan))
        prior = None
        ptype = _cell(r.get("objectivePriorType", ""))
        if ptype:
            if ptype not in _PRIORS:
                raise UnsupportedPetabFeature(f"objectivePriorType '{ptype}'", where)
            pars = [float(x) for x in _cell(r.get("objectivePriorParameters", "")).split(";")]
            if len(pars) != 2:
                raise DataError("objectivePriorParameters needs two numbers", row=where)
            prior = (ptype, pars[0], pars[1])
        if est and not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise DataError(
                f"estimated parameter needs bounds lower < upper ({lo}, {hi})", row=where
            )
        if est and scale != "lin" and lo <= 0:
            raise DataError(f"{scale}-scaled parameter needs a positive lower bound", row=where)
        rows.append(ParameterRow(str(pid), scale, lo, hi, nominal, est, prior))
    return tuple(rows)


def _observables(odf: pd.DataFrame) -> dict[str, ObservableDef]:
    from petab.v1.math import sympify_petab

    out = {}
    for i, (oid, r) in enumerate(odf.iterrows()):
        where = f"observable table row {i + 1} ('{oid}')"
        tr = _cell(r.get("observableTransformation", "")) or "lin"
        nd = _cell(r.get("noiseDistribution", "")) or "normal"
        if tr not in _TRANSFORMS:
            raise UnsupportedPetabFeature(f"observableTransformation '{tr}'", where)
        if nd not in _NOISES:
            raise UnsupportedPetabFeature(f"noiseDistribution '{nd}'", where)
        try:
            f = sp.sympify(sympify_petab(_cell(r["observableFormula"])))
            nf = sp.sympify(sympify_petab(_cell(r.get("noiseFormula", "")) or "1"))
        except Exception as exc:  # noqa: BLE001 - the parser raises many kinds
            raise DataError(f"cannot parse formula: {exc}", row=where) from None
        both = f + nf
        out[str(oid)] = ObservableDef(
            str(oid),
            f,
            nf,
            tr,
            nd,
            _n_placeholders(both, "observableParameter", str(oid)),
            _n_placeholders(both, "noiseParameter", str(oid)),
        )
    return out


def read_tables(path: str | Path) -> PetabTables:
    """Read and check a PEtab v1 problem (YAML file).

    Raises
    ------
    DataError
        A missing file or a malformed table (the message names the table row).
    UnsupportedPetabFeature
        A PEtab feature this reader does not handle (named with its table row).
    """
    import petab.v1 as petab1
    import yaml

    p = Path(path)
    if not p.is_file():
        raise DataError("no such PEtab problem file", file=str(p))
    try:
        spec = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read YAML: {exc}", file=str(p)) from None
    fmt = str(spec.get("format_version", "")) if isinstance(spec, dict) else ""
    if not fmt.startswith("1"):
        raise UnsupportedPetabFeature(
            f"PEtab format_version '{fmt}' (only version 1 is read)", str(p)
        )
    probs = spec.get("problems") or []
    if len(probs) != 1:
        raise UnsupportedPetabFeature(f"{len(probs)} sub-problems in one YAML file", str(p))
    sbml = probs[0].get("sbml_files") or []
    if len(sbml) != 1:
        raise UnsupportedPetabFeature(f"{len(sbml)} SBML files", str(p))
    if probs[0].get("mapping_files"):
        raise UnsupportedPetabFeature("mapping table", str(p))
    try:
        raw = petab1.Problem.from_yaml(str(p))
    except Exception as exc:  # noqa: BLE001 - the library raises many kinds
        raise DataError(f"petab cannot load the problem: {exc}", file=str(p)) from None
    params = _parameter_rows(raw.parameter_df)
    estimated = tuple(r.id for r in params if r.estimate)
    sources: dict[str, Source] = {}
    for r in params:
        sources[r.id] = Source(r.nominal, estimated.index(r.id) if r.estimate else -1)
    observables = _observables(raw.observable_df)
    mdf = raw.measurement_df.reset_index(drop=True)
    cdf = raw.condition_df if raw.condition_df is not None else pd.DataFrame()
    units: list[tuple[str, str]] = []
    meas: list[Measurement] = []
    for i, r in mdf.iterrows():
        row = int(str(i)) + 1
        where = f"measurement table row {row}"
        oid = _cell(r["observableId"])
        if oid not in observables:
            raise DataError(f"unknown observableId '{oid}'", row=where)
        t = float(r["time"])
        if math.isinf(t):
            raise UnsupportedPetabFeature("steady-state measurement (time = inf)", where)
        pre = _cell(r.get("preequilibrationConditionId", ""))
        sim = _cell(r["simulationConditionId"])
        for c in (pre, sim):
            if c and c not in cdf.index:
                raise DataError(f"condition '{c}' is not in the condition table", row=where)
        key = (pre, sim)
        if key not in units:
            units.append(key)
        od = observables[oid]
        meas.append(
            Measurement(
                row,
                oid,
                units.index(key),
                t,
                float(r["measurement"]),
                _parse_sources(r.get("observableParameters", ""), od.n_obs_pars, sources, where),
                _parse_sources(r.get("noiseParameters", ""), od.n_noise_pars, sources, where),
            )
        )
    if not meas:
        raise FitError(f"{p}: the measurement table is empty")
    return PetabTables(
        yaml_path=p,
        sbml_path=p.parent / str(sbml[0]),
        parameters=params,
        estimated=estimated,
        sources=sources,
        observables=observables,
        units=tuple(units),
        conditions=cdf,
        measurements=tuple(meas),
        measurement_df=mdf,
        raw=raw,
    )


def placeholder_symbols(od: ObservableDef) -> tuple[list[str], list[str]]:
    """The observable's placeholder names (observable parameters, noise parameters)."""
    return (
        [f"observableParameter{j + 1}_{od.id}" for j in range(od.n_obs_pars)],
        [f"noiseParameter{j + 1}_{od.id}" for j in range(od.n_noise_pars)],
    )


def finite(x: Any) -> bool:
    """Whether ``x`` is a finite float."""
    try:
        return bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False
