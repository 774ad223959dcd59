"""Adapters for per-subject time series from paper supplements (``shared/data`` folders).

Each adapter reads one folder as copied from its upstream repository (see the folder's
``SOURCE.md``) and documents the curation choices it makes. Every source value is either loaded
or listed in ``Dataset.skipped`` with a reason.

=============================  ===========================  ==================================
folder                         adapter                      content
=============================  ===========================  ==================================
``kissler-ct-trajectories``    :func:`read_kissler2021`     SARS-CoV-2 Ct, 68 NBA players/staff
``hiv-liang2010``              :func:`read_liang2010`       HIV-1 RNA and CD4, 2 patients, ART
``sbstoat-virus-examples``     :func:`read_baccam2006`      influenza titres, 6 volunteers
``cart-cd22-cytokines``        :func:`read_cart_cd22`       14 serum cytokines, 52 CAR-T pts
``covid-impact-lucas2020``     :func:`read_lucas2020`       IMPACT cohort immune profiles
=============================  ===========================  ==================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from immunetwin.errors import DataError

from ._provenance import Provenance, package_version, sha256_file
from ._records import (
    Censoring,
    Dataset,
    Intervention,
    InterventionKind,
    Observation,
    SkippedRecord,
    Subject,
)

__all__ = [
    "ADAPTERS",
    "read_adapter",
    "read_baccam2006",
    "read_cart_cd22",
    "read_kissler2021",
    "read_liang2010",
    "read_lucas2020",
]


def _file(folder: str | Path, name: str) -> Path:
    p = Path(folder) / name
    if not p.is_file():
        raise DataError("expected file is missing", file=str(p))
    return p


def _csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    try:
        frame: pd.DataFrame = pd.read_csv(path, **kwargs)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse: {exc}", file=str(path)) from None
    return frame


def _need(frame: pd.DataFrame, cols: list[str], path: Path) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(f"missing columns {missing}", file=str(path))


def _prov(files: list[Path], reader: str, **kw: Any) -> Provenance:
    steps = tuple(f"also read {f.name} (sha256 {sha256_file(f)})" for f in files[1:])
    return Provenance(
        source_file=str(files[0]),
        sha256=sha256_file(files[0]),
        reader=f"immunetwin.data.{reader}",
        reader_version=package_version(),
        curation_steps=steps,
        **kw,
    )


def _num(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# --------------------------------------------------------------------------- Kissler 2021
def read_kissler2021(folder: str | Path) -> Dataset:
    """SARS-CoV-2 Ct trajectories of the NBA cohort (Kissler et al. 2021), ``ct_dat_clean.csv``.

    Curation: one observation per row, analyte ``SARS-CoV-2 RNA`` in ``Ct`` (``CT.Mean``),
    time = ``Date.Index`` (days since the person's first positive test in the record); Ct >= 40
    (the LOD; negatives are coded 40) is right-censored at 40. Assay: ``N1 (Yale)`` or
    ``T1 (Florida) adjusted to N1`` (``Adjusted`` = 1). ``Symptomatic`` and
    ``Novel.Persistent.Infection`` become subject attributes. To get log10 copies/mL use
    ``dataset.apply_standard_curve(STANDARD_CURVES["kissler2021"])`` explicitly.
    """
    path = _file(folder, "ct_dat_clean.csv")
    df = _csv(path, keep_default_na=True)
    cols = ["Person.ID", "Date.Index", "CT.Mean", "Adjusted", "Symptomatic"]
    _need(df, [*cols, "Novel.Persistent.Infection"], path)
    lod = 40.0
    subjects: dict[str, Subject] = {}
    obs: list[Observation] = []
    skipped: list[SkippedRecord] = []
    for i, row in enumerate(df.to_dict("records")):
        sid = str(row["Person.ID"])
        if sid not in subjects:
            sym = row["Symptomatic"]
            subjects[sid] = Subject(
                sid,
                attributes={
                    "symptomatic": {"Yes": True, "No": False}.get(str(sym), "unknown"),
                    "infection": str(row["Novel.Persistent.Infection"]),
                },
            )
        t, ct = _num(row["Date.Index"]), _num(row["CT.Mean"])
        if t is None or ct is None:
            skipped.append(SkippedRecord(f"row {i + 2}", "missing time or Ct", sid))
            continue
        adj = _num(row["Adjusted"])
        assay = "" if adj is None else ("T1 (Florida) adjusted to N1" if adj == 1 else "N1 (Yale)")
        censored = ct >= lod
        obs.append(
            Observation(
                subject=sid,
                time=t,
                analyte="SARS-CoV-2 RNA",
                value=ct,
                unit="Ct",
                specimen="anterior_nares_swab+oropharyngeal_swab",
                censoring=Censoring.RIGHT if censored else Censoring.NONE,
                limit=lod if censored else None,
                assay=assay,
                qualitative="negative" if censored else "",
                origin=f"row {i + 2}",
            )
        )
    return Dataset(
        subjects=tuple(subjects.values()),
        observations=tuple(obs),
        reference_events={"SARS-CoV-2 RNA": "first positive test"},
        analytes={
            "SARS-CoV-2 RNA": {
                "biomarker": "SARS-CoV-2",
                "unit": "Ct",
                "lod": lod,
                "specimen": "anterior_nares_swab+oropharyngeal_swab",
                "description": "RT-qPCR Ct (CT.Mean); negatives coded 40",
            }
        },
        metadata={"dataset": "kissler2021", "title": "Kissler et al. 2021 Ct trajectories"},
        skipped=tuple(skipped),
        provenance=_prov(
            [path],
            "read_kissler2021",
            doi="10.1371/journal.pbio.3001333",
            url="https://github.com/gradlab/CtTrajectories",
            licence="none stated (research use; do not redistribute)",
            citation="Kissler SM et al. Viral dynamics of acute SARS-CoV-2 infection and "
            "applications to diagnostic and public health strategies. PLoS Biol 19(7):e3001333 "
            "(2021)",
            title="Kissler 2021 NBA Ct trajectories",
        ).with_step("Ct >= 40 -> right-censored at the LOD 40"),
    )


# --------------------------------------------------------------------------- Liang 2010
def read_liang2010(folder: str | Path) -> Dataset:
    """HIV-1 RNA and CD4 counts of two patients under ART (Liang, Miao & Wu 2010).

    Curation: columns (no header) time (days since start of therapy), CD4 (cells/uL, ``-1`` =
    not measured -> listed in ``skipped``), HIV-1 RNA (copies/mL). RNA values at or below 50.12
    (the assay's lower limit, 10**1.7) are left-censored at 50. Each patient gets an
    antiviral intervention at day 0 (the four-drug regimen plus immune-based therapy).
    """
    files = [_file(folder, "patient1_set1.tsv"), _file(folder, "patient2_set2.tsv")]
    subjects, obs, ivs, skipped = [], [], [], []
    for k, path in enumerate(files, start=1):
        df = _csv(path, sep="\t", header=None)
        if df.shape[1] != 3:
            raise DataError(f"expected 3 columns, found {df.shape[1]}", file=str(path))
        sid = f"patient{k}"
        subjects.append(Subject(sid))
        ivs.append(
            Intervention(
                sid,
                0.0,
                InterventionKind.ANTIVIRAL,
                "four-drug antiretroviral regimen + immune-based therapy",
                reference_event="start of therapy",
            )
        )
        for i, (t, cd4, rna) in enumerate(df.itertuples(index=False)):
            where = f"{path.name} row {i + 1}"
            tt, c, r = _num(t), _num(cd4), _num(rna)
            if tt is None:
                raise DataError("time is not a number", file=str(path), row=i + 1)
            if c is None or c < 0:
                skipped.append(SkippedRecord(where, "CD4 not measured (-1)", sid, {"cd4": cd4}))
            else:
                obs.append(
                    Observation(sid, tt, "CD4+ T cells", c, "cells/uL", "blood", origin=where)
                )
            if r is None:
                skipped.append(SkippedRecord(where, "HIV-1 RNA missing", sid))
                continue
            cens = r <= 50.12
            obs.append(
                Observation(
                    sid,
                    tt,
                    "HIV-1 RNA",
                    r,
                    "copies/mL",
                    "plasma",
                    Censoring.LEFT if cens else Censoring.NONE,
                    50.0 if cens else None,
                    origin=where,
                )
            )
    return Dataset(
        subjects=tuple(subjects),
        observations=tuple(obs),
        interventions=tuple(ivs),
        reference_events={"CD4+ T cells": "start of therapy", "HIV-1 RNA": "start of therapy"},
        analytes={
            "CD4+ T cells": {"unit": "cells/uL", "specimen": "blood", "lod": None},
            "HIV-1 RNA": {
                "biomarker": "HIV-1",
                "unit": "copies/mL",
                "specimen": "plasma",
                "lod": 50.0,
            },
        },
        metadata={"dataset": "liang2010", "title": "Liang, Miao & Wu 2010 HIV under ART"},
        skipped=tuple(skipped),
        provenance=_prov(
            files,
            "read_liang2010",
            doi="10.1214/09-AOAS290",
            url="https://github.com/AndrasHartmann/HIV-PSO",
            licence="GPL-3.0 repository; research-use data from a publication",
            citation="Liang H, Miao H, Wu H. Ann Appl Stat 4(1):460-483 (2010)",
            title="HIV-1 viral load and CD4 under combination therapy",
        ).with_step("HIV-1 RNA <= 50.12 copies/mL -> left-censored at 50; CD4 -1 -> skipped"),
    )


# --------------------------------------------------------------------------- Baccam 2006
def read_baccam2006(folder: str | Path) -> Dataset:
    """Influenza A nasal-wash titres of 6 volunteers (Baccam et al. 2006, Table 1).

    Curation: ``Influenza.csv`` (no header, one row per volunteer, columns = days 1..7 after
    inoculation), log10 TCID50/mL. A 0 means no virus detected: left-censored with unknown
    limit (the table gives none), ``value=None``, ``qualitative="not detected"``.
    """
    path = _file(folder, "Influenza.csv")
    df = _csv(path, header=None)
    subjects, obs = [], []
    for i, row in enumerate(df.itertuples(index=False)):
        sid = f"volunteer{i + 1}"
        subjects.append(Subject(sid))
        for j, v in enumerate(row):
            x = _num(v)
            if x is None:
                raise DataError(
                    f"not a number: {v!r}", file=str(path), row=f"row {i + 1} col {j + 1}"
                )
            nd = x <= 0.0
            obs.append(
                Observation(
                    sid,
                    float(j + 1),
                    "influenza A virus",
                    None if nd else x,
                    "log10 TCID50/mL",
                    "nasal_lavage_fluid",
                    Censoring.LEFT if nd else Censoring.NONE,
                    qualitative="not detected" if nd else "",
                    origin=f"row {i + 1} col {j + 1}",
                )
            )
    return Dataset(
        subjects=tuple(subjects),
        observations=tuple(obs),
        reference_events={"influenza A virus": "inoculation"},
        analytes={
            "influenza A virus": {
                "biomarker": "influenza",
                "unit": "log10 TCID50/mL",
                "specimen": "nasal_lavage_fluid",
                "lod": None,
                "strain": "A/HK/123/77 (H1N1)",
            }
        },
        metadata={
            "dataset": "baccam2006",
            "title": "Kinetics of influenza A virus infection in humans",
        },
        provenance=_prov(
            [path],
            "read_baccam2006",
            doi="10.1128/JVI.01623-05",
            url="https://github.com/sys-bio/SBstoat",
            licence="MIT (repository); values transcribed from the paper",
            citation="Baccam P, Beauchemin C, Macken CA, Hayden FG, Perelson AS. J Virol "
            "80(15):7590-7599 (2006), Table 1",
            title="Kinetics of influenza A virus infection in humans",
        ).with_step("0 -> left-censored, limit unknown"),
    )


# --------------------------------------------------------------------------- CAR-T CD22
def read_cart_cd22(folder: str | Path) -> Dataset:
    """Serum cytokines after CD22 CAR-T infusion (Lichtenstein et al. 2021).

    Curation: one observation per row of ``day_after_infusion_data_export.csv`` with a value
    (pg/mL; rows without one are listed in ``skipped`` as not measured); time = days after
    infusion. CRS / HLH columns and, from the ID key, tocilizumab / steroid use become subject
    attributes (their timing is not in the files, so they are not interventions). No detection
    limits are given.
    """
    path = _file(folder, "day_after_infusion_data_export.csv")
    key_path = _file(folder, "id_key_15C0029_CD22_CAR_CRS.csv")
    df = _csv(path)
    _need(df, ["patient_id", "cytokines", "days", "cytokine_levels", "CRS", "max_grade_CRS"], path)
    key = _csv(key_path)
    _need(key, ["Randomized ID", "Toci", "Steroids"], key_path)
    extra = {
        str(r["Randomized ID"]): {
            "protocol_id": str(r.get("Protocol ID", "")),
            "tocilizumab": bool(r["Toci"] == 1),
            "steroids": bool(r["Steroids"] == 1),
        }
        for r in key.to_dict("records")
    }
    subjects: dict[str, Subject] = {}
    obs, skipped = [], []
    attr_cols = ["CRS", "max_grade_CRS", "date_CRS", "HLH", "days_HLH", "CRS grade"]
    for i, row in enumerate(df.to_dict("records")):
        sid = str(row["patient_id"])
        where = f"row {i + 2}"
        if sid not in subjects:
            attrs: dict[str, Any] = {}
            for c in attr_cols:
                v = row.get(c)
                if isinstance(v, float) and math.isnan(v):
                    v = None
                attrs[c] = v.item() if isinstance(v, np.generic) else v
            attrs.update(extra.get(sid, {}))
            subjects[sid] = Subject(sid, attributes=attrs)
        t, v = _num(row["days"]), _num(row["cytokine_levels"])
        if t is None or v is None:
            skipped.append(SkippedRecord(where, "not measured (empty cytokine_levels)", sid))
            continue
        obs.append(Observation(sid, t, str(row["cytokines"]), v, "pg/mL", "serum", origin=where))
    analytes = sorted({o.analyte for o in obs})
    return Dataset(
        subjects=tuple(subjects.values()),
        observations=tuple(obs),
        reference_events=dict.fromkeys(analytes, "CAR-T infusion"),
        analytes={a: {"unit": "pg/mL", "specimen": "serum", "lod": None} for a in analytes},
        metadata={"dataset": "cart_cd22", "title": "CD22 CAR-T serum cytokines"},
        skipped=tuple(skipped),
        provenance=_prov(
            [path, key_path],
            "read_cart_cd22",
            doi="10.1182/blood.2021011898",
            url="https://github.com/harel-coffee/car22-hlh-auto",
            licence="GPL-3.0 repository; de-identified research data (check before release)",
            citation="Lichtenstein DA, Schischlik F, Shao L, et al. Blood 138(24):2469-2484 (2021)",
            title="Characterization of HLH-like manifestations as a CRS variant in patients "
            "receiving CD22 CAR T cells",
        ),
    )


# --------------------------------------------------------------------------- IMPACT (Lucas)
_IMPACT_TREATMENTS = (
    ("HQ", "hydroxychloroquine", InterventionKind.DRUG, "DaysfromHQStart", "DaysfromHQEnd"),
    ("Toci", "tocilizumab", InterventionKind.CYTOKINE_BLOCKADE, "DayfromTociStart", None),
    ("CS", "corticosteroids", InterventionKind.DRUG, "DaysfromCSStart", "DaysfromCSEnd"),
    ("Rem", "remdesivir", InterventionKind.ANTIVIRAL, "DaysfromRemStart", "DaysfromRemEnd"),
)


def _impact_unit(col: str) -> tuple[str, str]:
    """(unit, specimen) of an IMPACT measurement column."""
    if col == "Npload":
        return "log10 copies/mL", "nasopharyngeal_swab"
    if col.startswith("IgE"):
        return "log10 ng/mL", "plasma"
    if col.endswith(("number", "num")):
        return "cells", "blood"
    if "of" in col:
        return "%", "blood"
    return "log10 pg/mL", "plasma"


def read_lucas2020(folder: str | Path) -> Dataset:
    """Yale IMPACT COVID-19 cohort (Lucas et al. 2020), ``impact_missing.csv``.

    Curation: one subject per patient (first 5 characters of ``ID``) or control (``HCW...``);
    time = ``DFSO`` (days from symptom onset); every non-empty measurement cell from ``Npload`` on
    is an observation (``Npload`` log10 copies/mL; ``...number`` cells as reported; other
    ``...of...`` columns %; cytokines log10 pg/mL; IgE log10 ng/mL). Control samples have no
    time: their values are listed in ``skipped``. Treatment start/end (hydroxychloroquine,
    tocilizumab, corticosteroids, remdesivir), given as days before the sample, become
    interventions at ``DFSO - DaysfromXStart`` (first visit that reports them). No detection
    limits are given.
    """
    path = _file(folder, "impact_missing.csv")
    df = _csv(path)
    _need(df, ["ID", "DFSO", "Age", "sex", "ICU", "Clinicalscore", "Npload"], path)
    measure_cols = [str(c) for c in df.columns[list(df.columns).index("Npload") :]]
    covariates = [
        "ICU",
        "Clinicalscore",
        "Coagulopathy",
        "LengthofStay",
        "LatestOutcome",
        "Ethnicity",
        "BMI",
    ]
    subjects: dict[str, Subject] = {}
    obs: list[Observation] = []
    ivs: dict[tuple[str, str], Intervention] = {}
    skipped: list[SkippedRecord] = []
    for i, row in enumerate(df.to_dict("records")):
        rid = str(row["ID"])
        sid = rid if rid.startswith("HCW") else rid[:5]
        where = f"row {i + 2} ({rid})"
        if sid not in subjects:
            attrs = {c: _num(row.get(c)) for c in covariates if c in row}
            attrs["control"] = rid.startswith("HCW")
            sex = {"M": "male", "F": "female"}.get(str(row["sex"]))
            subjects[sid] = Subject(sid, _num(row["Age"]), sex, attrs)
        t = _num(row["DFSO"])
        for col in measure_cols:
            v = _num(row[col])
            if v is None:
                continue
            unit, specimen = _impact_unit(col)
            if t is None:
                skipped.append(
                    SkippedRecord(
                        f"{where} {col}", "no time (healthy control sample)", sid, {col: v}
                    )
                )
                continue
            obs.append(
                Observation(sid, t, col, v, unit, specimen, sample=rid, origin=f"{where} {col}")
            )
        if t is None:
            continue
        for short, name, kind, start_col, end_col in _IMPACT_TREATMENTS:
            s = _num(row.get(start_col))
            if s is None or (sid, short) in ivs:
                continue
            e = _num(row.get(end_col)) if end_col else None
            dur = s - e if e is not None and s - e >= 0 else None
            ivs[(sid, short)] = Intervention(
                sid, t - s, kind, name, duration=dur, reference_event="symptom onset"
            )
    analytes = {
        c: {"unit": _impact_unit(c)[0], "specimen": _impact_unit(c)[1], "lod": None}
        for c in measure_cols
    }
    analytes["Npload"]["biomarker"] = "SARS-CoV-2"
    return Dataset(
        subjects=tuple(subjects.values()),
        observations=tuple(obs),
        interventions=tuple(ivs.values()),
        reference_events=dict.fromkeys(measure_cols, "symptom onset"),
        analytes=analytes,
        metadata={"dataset": "lucas2020", "title": "Yale IMPACT COVID-19 cohort"},
        skipped=tuple(skipped),
        provenance=_prov(
            [path],
            "read_lucas2020",
            doi="10.1038/s41586-020-2588-y",
            url="https://github.com/kexinwang3/spaco",
            licence="LGPL-2.1+ package; check the Nature article's data terms before release",
            citation="Lucas C, Wong P, Klein J, et al. Longitudinal analyses reveal immunological "
            "misfiring in severe COVID-19. Nature 584:463-469 (2020)",
            title="Yale IMPACT COVID-19 cohort",
        ).with_step(
            "treatment days-from-start -> interventions at DFSO - days; controls -> skipped"
        ),
    )


#: Folder name -> adapter.
ADAPTERS: dict[str, Callable[[str | Path], Dataset]] = {
    "kissler-ct-trajectories": read_kissler2021,
    "hiv-liang2010": read_liang2010,
    "sbstoat-virus-examples": read_baccam2006,
    "cart-cd22-cytokines": read_cart_cd22,
    "covid-impact-lucas2020": read_lucas2020,
}


def read_adapter(folder: str | Path) -> Dataset:
    """Read a ``shared/data`` folder with the adapter named after it (see :data:`ADAPTERS`).

    Raises
    ------
    DataError
        If no adapter is registered for the folder's name.
    """
    name = Path(folder).name
    if name not in ADAPTERS:
        raise DataError(
            f"no adapter for folder {name!r}; known: {sorted(ADAPTERS)}", file=str(folder)
        )
    return ADAPTERS[name](folder)
