"""Export a calibration problem as a PEtab (version 1) problem.

A :class:`PetabProblem` is written back from its tables (the SBML file is copied). Any other
:class:`CalibrationProblem` (one subject, e.g. a twin's) becomes one simulation condition named
after the subject that holds the fixed values, one observable per analyte (its target formula,
``lin``/``log``/``log10`` transformation, normal noise), the observations as measurements on the
data's natural scale and the estimated quantities in the parameter table (scale, bounds, nominal
value, univariate priors).

Censoring has no column in PEtab 1; it goes into three extension columns of the measurement
table that PEtab tools ignore: ``censoring`` (``none``, ``left``, ``right`` or ``interval``),
``lowerLimit`` and ``upperLimit`` (natural scale). A censored row's ``measurement`` is its limit
(the upper one for left-censored, the lower one otherwise), so a tool that ignores the extension
fits the limit as a value.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UnsupportedPetabFeature
from ._maps import Transform
from ._problem import CalibrationProblem

__all__ = ["CENSORING_COLUMNS", "export_petab"]

#: Extension columns of the measurement table that carry censoring.
CENSORING_COLUMNS: tuple[str, ...] = ("censoring", "lowerLimit", "upperLimit")

_TRANSFORM = {Transform.IDENTITY: "lin", Transform.LOG10: "log10", Transform.LN: "log"}
_PRIOR = {"normal": "normal", "lognormal": "logNormal", "uniform": "uniform"}


_ID = re.compile(r"^[A-Za-z_]\w*$")


def _pid(name: str, prefix: str) -> str:
    """A valid PEtab identifier from ``name``."""
    if _ID.match(name) and name.isascii():
        return name
    out = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return out if out and (out[0].isalpha() or out[0] == "_") else f"{prefix}_{out}"


def _natural(values: Any, transform: Transform) -> Any:
    v = np.asarray(values, dtype=float)
    if transform is Transform.LOG10:
        return 10.0**v
    if transform is Transform.LN:
        return np.exp(v)
    return v


def _write_tsv(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_csv(tmp, sep="\t", index=False)
    os.replace(tmp, path)


def _yaml(folder: Path, files: dict[str, str]) -> Path:
    import yaml

    body = {
        "format_version": 1,
        "parameter_file": files["parameters"],
        "problems": [
            {
                "condition_files": [files["conditions"]],
                "measurement_files": [files["measurements"]],
                "observable_files": [files["observables"]],
                "sbml_files": [files["model"]],
            }
        ],
    }
    out = folder / "problem.yaml"
    tmp = out.with_name(f".problem.yaml.{os.getpid()}.tmp")
    tmp.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    os.replace(tmp, out)
    return out


def _export_petab_problem(problem: Any, folder: Path) -> Path:
    import petab.v1 as petab1

    raw = problem.tables.raw
    shutil.copyfile(problem.tables.sbml_path, folder / "model.xml")
    petab1.write_condition_df(raw.condition_df, folder / "conditions.tsv")
    petab1.write_measurement_df(raw.measurement_df, folder / "measurements.tsv")
    petab1.write_observable_df(raw.observable_df, folder / "observables.tsv")
    petab1.write_parameter_df(raw.parameter_df, folder / "parameters.tsv")
    return _yaml(folder, _FILES)


_FILES = {
    "parameters": "parameters.tsv",
    "conditions": "conditions.tsv",
    "measurements": "measurements.tsv",
    "observables": "observables.tsv",
    "model": "model.xml",
}


def _formula(problem: CalibrationProblem, text: str) -> str:
    """The formula with the model's observables (not SBML entities) replaced by their expressions."""
    import sympy as sp

    if not text:
        return ""
    expr = sp.sympify(text, locals={s: sp.Symbol(s) for s in problem.model.ids()})
    subs = {}
    for sym in expr.free_symbols:
        ob = next((o for o in problem.model.observables if o.id == str(sym)), None)
        if ob is not None:
            subs[sym] = ob.expr
    return str(expr.subs(subs)) if subs else text


def _observable_rows(problem: CalibrationProblem, where: str) -> tuple[list[dict[str, Any]], Any]:
    obs = []
    for la in problem._layouts:  # noqa: SLF001 - same subpackage
        if la.transform not in _TRANSFORM:
            raise UnsupportedPetabFeature(f"'{la.transform.value}' comparison scale", where)
        oid = _pid(la.name, "obs")
        formula = _formula(problem, la.formula or (la.symbols[0] if la.symbols else ""))
        if not formula:
            raise UnsupportedPetabFeature("observable without a formula", f"analyte '{la.name}'")
        obs.append(
            {
                "observableId": oid,
                "observableName": la.name,
                "observableFormula": formula,
                "observableTransformation": _TRANSFORM[la.transform],
                "noiseFormula": f"noiseParameter1_{oid}",
                "noiseDistribution": "normal",
            }
        )
    return obs, problem._layouts  # noqa: SLF001


def _measurement_rows(problem: CalibrationProblem, cond: str) -> pd.DataFrame:
    frame = problem.observations
    rows = []
    names = problem.names
    for la in problem._layouts:  # noqa: SLF001
        oid = _pid(la.name, "obs")
        for i in la.obs:
            r = frame.iloc[int(i)]
            if not math.isinf(float(problem._df[int(i)])):  # noqa: SLF001
                raise UnsupportedPetabFeature("Student-t noise", f"analyte '{la.name}'")
            sp_ = int(problem._sig_param[int(i)])  # noqa: SLF001
            scale = float(problem._sig_scale[int(i)])  # noqa: SLF001
            if sp_ >= 0:
                if scale != 1.0:
                    raise UnsupportedPetabFeature("scaled estimated noise", f"analyte '{la.name}'")
                noise: str | float = names[sp_]
            else:
                noise = float(problem._sig_fixed[int(i)]) * scale  # noqa: SLF001
            cens = str(r["censoring"])
            lo = float(_natural(r["lower"], la.transform))
            hi = float(_natural(r["upper"], la.transform))
            if cens in ("left", "right"):  # one limit, in whichever column holds it
                lim = lo if math.isfinite(lo) else hi
                lo, hi = (math.nan, lim) if cens == "left" else (lim, math.nan)
            value = float(_natural(r["value"], la.transform)) if cens == "none" else math.nan
            if cens != "none":
                value = hi if cens == "left" else lo
            rows.append(
                {
                    "observableId": oid,
                    "simulationConditionId": cond,
                    "measurement": value,
                    "time": float(r["time"]) - problem._t0,  # noqa: SLF001
                    "noiseParameters": noise,
                    "censoring": cens,
                    "lowerLimit": lo if cens in ("right", "interval") else math.nan,
                    "upperLimit": hi if cens in ("left", "interval") else math.nan,
                }
            )
    return pd.DataFrame(rows)


def _parameter_rows(problem: CalibrationProblem) -> pd.DataFrame:
    gauss = problem.gaussian_prior
    lo, hi = problem.bounds
    nat_lo, nat_hi = problem.to_natural(lo), problem.to_natural(hi)
    nominal = problem.to_natural(problem.nominal)
    priors = problem.priors
    rows = []
    for i, n in enumerate(problem.names):
        log = problem.log_scale[n]
        row: dict[str, Any] = {
            "parameterId": n,
            "parameterScale": "log" if log else "lin",
            "lowerBound": float(nat_lo[i]),
            "upperBound": float(nat_hi[i]),
            "nominalValue": float(nominal[i]),
            "estimate": 1,
            "objectivePriorType": "",
            "objectivePriorParameters": "",
        }
        if gauss is not None and n in gauss.names:
            cov = gauss.cov.to_numpy()
            off = cov - np.diag(np.diag(cov))
            if np.any(off != 0):
                raise UnsupportedPetabFeature("correlated Gaussian prior", f"parameter '{n}'")
            sd = math.sqrt(float(np.diag(cov)[[str(c) for c in gauss.cov.index].index(n)]))
            row["objectivePriorType"] = "parameterScaleNormal"
            row["objectivePriorParameters"] = f"{float(gauss.mean[n])!r};{sd!r}"
        elif n in priors:
            pr = priors[n]
            kind = pr.kind
            if kind == "loguniform":
                row["objectivePriorType"] = "parameterScaleUniform" if log else ""
                row["objectivePriorParameters"] = f"{math.log(pr.a)!r};{math.log(pr.b)!r}"
                if not log:
                    raise UnsupportedPetabFeature("log-uniform prior on a linear parameter", n)
            else:
                row["objectivePriorType"] = _PRIOR[kind]
                row["objectivePriorParameters"] = f"{pr.a!r};{pr.b!r}"
        rows.append(row)
    return pd.DataFrame(rows)


def export_petab(problem: CalibrationProblem, folder: str | Path) -> Path:
    """Write ``problem`` as a PEtab v1 problem into ``folder``; returns the YAML file.

    Raises
    ------
    UnsupportedPetabFeature
        A part of the problem PEtab 1 cannot express (a Ct scale, Student-t noise, a
        correlated Gaussian prior), named with the analyte or parameter.
    """
    from ..model import to_sbml
    from ._petab_problem import PetabProblem

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(problem, PetabProblem):
        return _export_petab_problem(problem, out)
    where = f"problem of subject '{problem.subject}'"
    cond = _pid(problem.subject, "subject")
    obs, _ = _observable_rows(problem, where)
    fixed = problem.summary().get("fixed", {})
    cdf = pd.DataFrame([{"conditionId": cond, **{k: float(v) for k, v in fixed.items()}}])
    sbml = to_sbml(problem.model)
    tmp = out / f".model.xml.{os.getpid()}.tmp"
    tmp.write_text(sbml, encoding="utf-8")
    os.replace(tmp, out / "model.xml")
    _write_tsv(cdf, out / "conditions.tsv")
    _write_tsv(pd.DataFrame(obs), out / "observables.tsv")
    _write_tsv(_measurement_rows(problem, cond), out / "measurements.tsv")
    _write_tsv(_parameter_rows(problem), out / "parameters.tsv")
    return _yaml(out, _FILES)
