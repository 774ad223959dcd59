"""HL7 FHIR R4 Bundles (``fhir.resources``, R4B models) to and from a Dataset.

Resources
---------
* ``Patient`` per subject: ``identifier`` (system ``urn:immunetwin:subject``) holds the subject
  id, ``gender`` the sex, an extension the covariates (JSON).
* ``Observation`` per observation: ``code`` = LOINC coding where the code map has one, plus the
  analyte name (system ``urn:immunetwin:analyte``); ``valueQuantity`` with the UCUM code; a
  censored value is ``valueQuantity.comparator`` ``<`` (left) or ``>`` (right) at the limit,
  with ``interpretation`` (``<`` off scale low / ``>`` off scale high, ``NEG`` / ``POS`` for
  qualitative results); interval censoring is ``valueRange``; a censored record of unknown
  limit is ``valueString`` (the qualitative result). ``method`` = assay, ``specimen.display`` =
  specimen, ``effectiveDateTime`` = anchor + time.
* ``MedicationAdministration`` (antiviral, drug, cytokine blockade) / ``Immunization``
  (vaccine) per intervention.
* one ``Basic`` resource with the dataset metadata (reference events, analytes, skipped
  records, provenance) as JSON.

Exact relative times, reference events and other details without a FHIR element travel in
extensions under ``https://immunetwin.org/fhir/StructureDefinition/``, so that
Dataset -> FHIR -> Dataset is lossless. Bundles from elsewhere (without these extensions) are
read with times in days since ``anchor`` (or since each patient's first observation).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from immunetwin.errors import DataError

from ._csv import reader_provenance, skipped_from_meta, write_sidecar
from ._provenance import Provenance
from ._records import (
    Censoring,
    Dataset,
    Intervention,
    InterventionKind,
    Observation,
    SkippedRecord,
    Subject,
)
from ._units import ucum_code

__all__ = [
    "DEFAULT_LOINC",
    "EXT",
    "from_fhir_bundle",
    "read_fhir",
    "to_fhir_bundle",
    "write_fhir",
]

EXT = "https://immunetwin.org/fhir/StructureDefinition/"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
_ANALYTE_SYSTEM = "urn:immunetwin:analyte"
_SUBJECT_SYSTEM = "urn:immunetwin:subject"
_INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_CODE = re.compile(r"[^\s]+(\s[^\s]+)*")
_ANCHOR = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)

#: Analyte (or ``"biomarker|unit"``, or biomarker) -> (LOINC code, display). Extend a copy and
#: pass it as ``loinc=`` to :func:`to_fhir_bundle`.
DEFAULT_LOINC: dict[str, tuple[str, str]] = {
    "SARS-CoV-2|Ct": (
        "94745-7",
        "SARS-CoV-2 (COVID-19) RNA [Cycle Threshold #] in Respiratory specimen by NAA with "
        "probe detection",
    ),
    "HIV-1 RNA": ("20447-9", "HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA"),
    "CD4+ T cells": ("24467-3", "CD3+CD4+ (T4 helper) cells [#/volume] in Blood"),
    "IL-6": ("26881-3", "Interleukin 6 [Mass/volume] in Serum or Plasma"),
}


def _ext(name: str, key: str, value: Any) -> dict[str, Any]:
    return {"url": EXT + name, key: value}


def _drop_empty(res: dict[str, Any]) -> dict[str, Any]:
    """Remove keys whose value is None or '' and extensions with empty strings (FHIR forbids
    empty strings)."""
    out = {k: v for k, v in res.items() if v is not None and v != ""}
    if "extension" in out:
        out["extension"] = [e for e in out["extension"] if all(v != "" for v in e.values())]
    return out


def _fhir_id(text: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9.\-]", "-", text)[:56] or "x"
    out, k = base, 1
    while out in used:
        k += 1
        out = f"{base}-{k}"
    used.add(out)
    return out


def _when(anchor: _dt.datetime, days: float) -> str | None:
    """Calendar time of ``days`` after ``anchor`` (None when out of the calendar's range)."""
    try:
        return (anchor + _dt.timedelta(days=days)).isoformat()
    except OverflowError:
        return None


def _loinc(analyte: str, meta: Mapping[str, Any], unit: str, table: Mapping[str, Any]) -> Any:
    biomarker = str(meta.get("biomarker", ""))
    for key in (analyte, f"{biomarker}|{unit}", biomarker):
        if key and key in table:
            return table[key]
    return None


def _quantity(value: float, unit: str, comparator: str | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value}
    if unit:
        q.update(unit=unit, system=UCUM, code=ucum_code(unit))
    if comparator:
        q["comparator"] = comparator
    return q


def _observation(
    o: Observation, rid: str, pid: str, ds: Dataset, table: Mapping[str, Any], anchor: Any
) -> dict[str, Any]:
    meta = ds.analytes.get(o.analyte, {})
    codings = [{"system": _ANALYTE_SYSTEM, "code": o.analyte}] if _CODE.fullmatch(o.analyte) else []
    lo = _loinc(o.analyte, meta, o.unit, table)
    if lo is not None:
        codings.insert(0, {"system": LOINC, "code": lo[0], "display": lo[1]})
    ext = [
        _ext("relative-time", "valueDecimal", o.time),
        _ext("reference-event", "valueString", ds.reference_events.get(o.analyte, "")),
        _ext("censoring", "valueCode", o.censoring.value),
        _ext("analyte", "valueString", o.analyte),
        _ext("unit", "valueString", o.unit),
    ]
    exact = (
        ("reported-value", o.value),
        ("limit", o.limit),
        ("upper", o.upper),
        ("loq", o.loq),
        ("lob", o.lob),
    )
    for name, v in exact:
        if v is not None:
            ext.append(_ext(name, "valueDecimal", v))
    for name, s in (("qualitative", o.qualitative), ("sample", o.sample), ("origin", o.origin)):
        if s:
            ext.append(_ext(name, "valueString", s))
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": codings or None, "text": o.analyte},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": _when(anchor, o.time),
        "extension": ext,
    }
    res = _drop_empty(res)
    if o.specimen:
        res["specimen"] = {"display": o.specimen}
    if o.assay:
        res["method"] = {"text": o.assay}
    interp: str | None = None
    if o.censoring is Censoring.NONE and o.value is not None:
        res["valueQuantity"] = _quantity(o.value, o.unit)
    elif o.censoring is Censoring.INTERVAL and o.limit is not None and o.upper is not None:
        res["valueRange"] = {"low": _quantity(o.limit, o.unit), "high": _quantity(o.upper, o.unit)}
    elif o.censoring in (Censoring.LEFT, Censoring.RIGHT) and o.limit is not None:
        comp = "<" if o.censoring is Censoring.LEFT else ">"
        res["valueQuantity"] = _quantity(o.limit, o.unit, comp)
        interp = comp
    else:
        res["valueString"] = o.qualitative or (
            "no value"
            if o.censoring is Censoring.NONE
            else f"{o.censoring.value}-censored, limit unknown"
        )
    if o.qualitative == "negative":
        interp = "NEG"
    elif o.qualitative.endswith("positive"):
        interp = "POS"
    if interp is not None:
        res["interpretation"] = [{"coding": [{"system": _INTERP, "code": interp}]}]
    return res


def _intervention(iv: Intervention, rid: str, pid: str, anchor: Any) -> dict[str, Any]:
    ext = [
        _ext("relative-time", "valueDecimal", iv.time),
        _ext("reference-event", "valueString", iv.reference_event),
        _ext("intervention-kind", "valueCode", iv.kind.value),
    ]
    if iv.duration is not None:
        ext.append(_ext("duration", "valueDecimal", iv.duration))
    if iv.dose_number is not None:
        ext.append(_ext("dose-number", "valueInteger", iv.dose_number))
    if iv.unit:
        ext.append(_ext("unit", "valueString", iv.unit))
    qty = _quantity(iv.amount, iv.unit) if iv.amount is not None else None
    if iv.kind is InterventionKind.VACCINE:
        res: dict[str, Any] = {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": {"text": iv.name},
            "patient": {"reference": f"Patient/{pid}"},
            "occurrenceDateTime": _when(anchor, iv.time),
        }
        if qty:
            res["doseQuantity"] = qty
        if iv.route:
            res["route"] = {"text": iv.route}
        if iv.dose_number is not None and iv.dose_number > 0:
            res["protocolApplied"] = [{"doseNumberPositiveInt": iv.dose_number}]
    else:
        res = {
            "resourceType": "MedicationAdministration",
            "status": "completed",
            "category": {"text": iv.kind.value},
            "medicationCodeableConcept": {"text": iv.name},
            "subject": {"reference": f"Patient/{pid}"},
        }
        if iv.duration:
            res["effectivePeriod"] = {
                "start": _when(anchor, iv.time),
                "end": _when(anchor, iv.time + iv.duration),
            }
        else:
            res["effectiveDateTime"] = _when(anchor, iv.time)
        dosage: dict[str, Any] = {}
        if qty:
            dosage["dose"] = qty
        if iv.route:
            dosage["route"] = {"text": iv.route}
        if dosage:
            res["dosage"] = dosage
    res["id"] = rid
    res["extension"] = ext
    if isinstance(res.get("effectivePeriod"), dict):
        period = _drop_empty(res["effectivePeriod"])
        res["effectivePeriod"] = period if {"start", "end"} <= set(period) else None
        if res["effectivePeriod"] is None:
            res["effectiveDateTime"] = _when(anchor, iv.time)
    return _drop_empty(res)


def to_fhir_bundle(
    dataset: Dataset,
    *,
    loinc: Mapping[str, tuple[str, str]] | None = None,
    anchor: _dt.datetime = _ANCHOR,
) -> Any:
    """Convert a dataset into a FHIR ``Bundle`` (type ``collection``).

    Parameters
    ----------
    dataset : Dataset
    loinc : Mapping, optional
        Code map (default :data:`DEFAULT_LOINC`): analyte, ``"biomarker|unit"`` or biomarker ->
        (LOINC code, display).
    anchor : datetime
        Calendar time of each reference event (relative times are exact in an extension).

    Returns
    -------
    fhir.resources.R4B.bundle.Bundle
    """
    from fhir.resources.R4B.bundle import Bundle

    table = DEFAULT_LOINC if loinc is None else loinc
    used: set[str] = set()
    pids: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    for s in dataset.subjects:
        pid = pids[s.id] = _fhir_id(s.id, used)
        pat: dict[str, Any] = {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{"system": _SUBJECT_SYSTEM, "value": s.id}],
            "extension": [
                _ext(
                    "subject",
                    "valueString",
                    json.dumps({"age": s.age, "sex": s.sex, "attributes": dict(s.attributes)}),
                )
            ],
        }
        if s.sex in ("male", "female", "other", "unknown"):
            pat["gender"] = s.sex
        entries.append(pat)
    for i, o in enumerate(dataset.observations):
        entries.append(_observation(o, f"obs-{i}", pids[o.subject], dataset, table, anchor))
    for i, iv in enumerate(dataset.interventions):
        entries.append(_intervention(iv, f"iv-{i}", pids[iv.subject], anchor))
    meta = dataset.meta_dict()
    del meta["subjects"], meta["interventions"]
    entries.append(
        {
            "resourceType": "Basic",
            "id": "dataset-metadata",
            "code": {"text": "immunetwin dataset metadata"},
            "extension": [_ext("dataset-metadata", "valueString", json.dumps(meta, default=str))],
        }
    )
    try:
        return Bundle.model_validate(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": e} for e in entries],
            }
        )
    except ValueError as exc:  # pydantic.ValidationError
        raise DataError(f"cannot build FHIR bundle: {exc}") from None


def write_fhir(dataset: Dataset, path: str | Path, **kwargs: Any) -> Path:
    """Write a FHIR Bundle as JSON plus the ``.meta.json`` sidecar (kwargs: see
    :func:`to_fhir_bundle`)."""
    p = Path(path)
    p.write_text(to_fhir_bundle(dataset, **kwargs).model_dump_json(indent=1), encoding="utf-8")
    write_sidecar(dataset, p)
    return p


# ---------------------------------------------------------------------- reading
def _exts(res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for e in res.get("extension") or []:
        url = str(e.get("url", ""))
        if url.startswith(EXT):
            vals = [v for k, v in e.items() if k.startswith("value")]
            out[url[len(EXT) :]] = vals[0] if vals else None
    return out


def _parse_time(text: Any, where: str, file: str | None) -> _dt.datetime:
    try:
        t = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        raise DataError(f"bad dateTime {text!r}", file=file, row=where) from None
    return t if t.tzinfo else t.replace(tzinfo=_dt.UTC)


def _fl(x: Any) -> float | None:
    return None if x is None else float(x)


def from_fhir_bundle(
    bundle: Any, *, anchor: _dt.datetime | None = None, file: str | None = None
) -> Dataset:
    """Convert a FHIR Bundle (object, JSON string or dict) to a dataset.

    Parameters
    ----------
    bundle : Bundle or str or dict
    anchor : datetime, optional
        For resources without immunetwin extensions: time zero (default: each patient's first
        ``effectiveDateTime``, reference event ``"first observation"``).
    file : str, optional
        Named in error messages.

    Raises
    ------
    DataError
        Invalid FHIR, unknown patient references, values without a number or unit.
    """
    from fhir.resources.R4B.bundle import Bundle

    try:
        if isinstance(bundle, (str, bytes)):
            raw = json.loads(bundle)
        elif isinstance(bundle, dict):
            raw = bundle
        elif hasattr(bundle, "model_dump_json"):
            raw = json.loads(bundle.model_dump_json())
        else:
            raise TypeError(f"expected a Bundle, JSON text or dict, got {type(bundle).__name__}")
        if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
            raise ValueError("resourceType is not 'Bundle'")
        Bundle.model_validate(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        raise DataError(f"not a valid FHIR R4 Bundle: {str(exc)[:300]}", file=file) from None
    try:
        return _from_raw(raw, anchor, file)
    except DataError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise DataError(f"bad FHIR content: {type(exc).__name__}: {exc}", file=file) from None


def _from_raw(raw: dict[str, Any], anchor: _dt.datetime | None, file: str | None) -> Dataset:
    entries = raw.get("entry") or []
    resources = [
        e["resource"]
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    subjects: list[Subject] = []
    pid_to_subject: dict[str, str] = {}
    meta: dict[str, Any] = {}
    for k, r in enumerate(resources):
        rt = r.get("resourceType")
        where = f"entry[{k}] {rt}/{r.get('id', '')}"
        if rt == "Patient":
            ids = [
                i.get("value")
                for i in r.get("identifier") or []
                if i.get("system") == _SUBJECT_SYSTEM
            ]
            sid = str(ids[0]) if ids else str(r.get("id") or f"patient-{k}")
            info: Any = {}
            ext = _exts(r)
            if "subject" in ext:
                try:
                    info = json.loads(ext["subject"])
                except (TypeError, ValueError):
                    raise DataError("bad subject extension", file=file, row=where) from None
            if not isinstance(info, dict) or not isinstance(info.get("attributes", {}), dict):
                raise DataError("bad subject extension", file=file, row=where)
            age = info.get("age")
            if not (age is None or isinstance(age, (int, float, str))):
                raise DataError("bad age in subject extension", file=file, row=where)
            sex = info.get("sex", r.get("gender"))
            subjects.append(
                Subject(sid, age, None if sex is None else str(sex), info.get("attributes", {}))
            )
            pid_to_subject[str(r.get("id", sid))] = sid
        elif rt == "Basic" and r.get("id") == "dataset-metadata":
            try:
                meta = json.loads(_exts(r).get("dataset-metadata") or "{}")
            except (TypeError, ValueError):
                raise DataError("bad dataset-metadata extension", file=file, row=where) from None
            if not isinstance(meta, dict):
                raise DataError("bad dataset-metadata extension", file=file, row=where)

    def subject_of(ref: Any, where: str) -> str:
        text = str((ref or {}).get("reference", ""))
        pid = text.rsplit("/", 1)[-1]
        if pid not in pid_to_subject:
            raise DataError(f"reference to unknown patient {text!r}", file=file, row=where)
        return pid_to_subject[pid]

    firsts: dict[str, _dt.datetime] = {}
    refs: dict[str, str] = dict(meta.get("reference_events") or {})
    observations: list[Observation] = []
    interventions: list[Intervention] = []
    skipped: list[SkippedRecord] = []

    def rel_time(ext: Mapping[str, Any], when: Any, sid: str, where: str) -> tuple[float, str]:
        if "relative-time" in ext:
            return float(ext["relative-time"]), str(ext.get("reference-event") or "")
        if when is None:
            raise DataError("no time (effective/occurrence dateTime)", file=file, row=where)
        t = _parse_time(when, where, file)
        zero = anchor if anchor is not None else firsts.setdefault(sid, t)
        event = "anchor" if anchor is not None else "first observation"
        return (t - zero).total_seconds() / 86400.0, event

    for k, r in enumerate(resources):
        rt = r.get("resourceType")
        where = f"entry[{k}] {rt}/{r.get('id', '')}"
        try:
            if rt == "Observation":
                obs = _read_observation(
                    r, subject_of(r.get("subject"), where), where, rel_time, refs
                )
                if isinstance(obs, SkippedRecord):
                    skipped.append(obs)
                else:
                    observations.append(obs)
            elif rt in ("MedicationAdministration", "Immunization"):
                interventions.append(_read_intervention(r, where, subject_of, rel_time))
        except DataError as exc:
            if exc.file is None:
                raise DataError(str(exc), file=file, row=where) from None
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise DataError(f"bad {rt}: {exc}", file=file, row=where) from None
    prov = meta.get("provenance")
    kw: dict[str, Any] = {}
    if isinstance(meta.get("analytes"), dict):
        kw["analytes"] = meta["analytes"]
    if isinstance(meta.get("metadata"), dict):
        kw["metadata"] = meta["metadata"]
    return Dataset(
        subjects=tuple(subjects),
        observations=tuple(observations),
        interventions=tuple(interventions),
        reference_events=refs,
        skipped=(*skipped_from_meta(meta.get("skipped", []), file), *skipped),
        provenance=Provenance.from_dict(prov, file=file) if prov else Provenance(),
        **kw,
    )


def _read_observation(
    r: Mapping[str, Any], sid: str, where: str, rel_time: Any, refs: dict[str, str]
) -> Observation | SkippedRecord:
    ext = _exts(r)
    code = r.get("code") or {}
    names = [c.get("code") for c in code.get("coding") or [] if c.get("system") == _ANALYTE_SYSTEM]
    analyte = str(ext.get("analyte") or (names[0] if names else code.get("text")) or "")
    if not analyte:
        codings = code.get("coding") or [{}]
        analyte = str(codings[0].get("code") or "")
    if not analyte:
        raise DataError("Observation without a code")
    time, event = rel_time(ext, r.get("effectiveDateTime"), sid, where)
    if event:
        refs.setdefault(analyte, event)
    interp = {c.get("code") for i in r.get("interpretation") or [] for c in i.get("coding") or []}
    q = r.get("valueQuantity")
    unit = str(ext.get("unit") or (q or {}).get("unit") or (q or {}).get("code") or "")
    value = _fl(ext.get("reported-value"))
    limit = upper = None
    censoring = Censoring(ext["censoring"]) if "censoring" in ext else None
    qual = str(ext.get("qualitative") or "")
    if q is not None:
        if q.get("value") is None:
            raise DataError("valueQuantity without a value")
        comp = q.get("comparator")
        if comp in ("<", "<="):
            censoring, limit = censoring or Censoring.LEFT, float(q["value"])
        elif comp in (">", ">="):
            censoring, limit = censoring or Censoring.RIGHT, float(q["value"])
        else:
            censoring, value = censoring or Censoring.NONE, float(q["value"])
    elif r.get("valueRange") is not None:
        rng = r["valueRange"]
        limit, upper = (
            _fl((rng.get("low") or {}).get("value")),
            _fl((rng.get("high") or {}).get("value")),
        )
        unit = unit or str((rng.get("low") or {}).get("unit") or "")
        censoring = censoring or Censoring.INTERVAL
    elif censoring is None:
        text = str(r.get("valueString") or "").lower()
        if interp & {"NEG", "ND", "<"} or text in ("negative", "not detected"):
            censoring, qual = Censoring.LEFT, qual or text
        elif interp & {"POS", "DET", ">"} or text.endswith("positive"):
            censoring, qual = Censoring.RIGHT, qual or text
        else:
            return SkippedRecord(
                where, "Observation without a quantitative or qualitative value", sid
            )
    if "limit" in ext or "censoring" in ext:
        limit = _fl(ext.get("limit"))
    if "upper" in ext or "censoring" in ext:
        upper = _fl(ext.get("upper"))
    return Observation(
        subject=sid,
        time=time,
        analyte=analyte,
        value=value,
        unit=unit,
        specimen=str((r.get("specimen") or {}).get("display") or ""),
        censoring=censoring,
        limit=limit,
        upper=upper,
        assay=str((r.get("method") or {}).get("text") or ""),
        qualitative=qual,
        sample=str(ext.get("sample") or ""),
        loq=_fl(ext.get("loq")),
        lob=_fl(ext.get("lob")),
        origin=str(ext.get("origin") or ""),
    )


def _read_intervention(
    r: Mapping[str, Any], where: str, subject_of: Any, rel_time: Any
) -> Intervention:
    ext = _exts(r)
    vaccine = r["resourceType"] == "Immunization"
    sid = subject_of(r.get("patient") if vaccine else r.get("subject"), where)
    if vaccine:
        when = r.get("occurrenceDateTime")
        name = (r.get("vaccineCode") or {}).get("text") or ""
        qty = r.get("doseQuantity")
        route = (r.get("route") or {}).get("text") or ""
        kind = InterventionKind.VACCINE
        applied = r.get("protocolApplied") or [{}]
        dose = applied[0].get("doseNumberPositiveInt")
        duration = _fl(ext.get("duration"))
    else:
        period = r.get("effectivePeriod") or {}
        when = r.get("effectiveDateTime") or period.get("start")
        name = (r.get("medicationCodeableConcept") or {}).get("text") or ""
        dosage = r.get("dosage") or {}
        qty = dosage.get("dose")
        route = (dosage.get("route") or {}).get("text") or ""
        kind_text = ext.get("intervention-kind") or (r.get("category") or {}).get("text") or "drug"
        kind = InterventionKind(kind_text)
        dose = None
        duration = _fl(ext.get("duration"))
        if duration is None and period.get("start") and period.get("end"):
            t0, t1 = (
                _parse_time(period["start"], where, None),
                _parse_time(period["end"], where, None),
            )
            duration = (t1 - t0).total_seconds() / 86400.0
    if "dose-number" in ext:
        dose = ext["dose-number"]
    time, event = rel_time(ext, when, sid, where)
    amount = _fl((qty or {}).get("value"))
    if amount is not None and not math.isfinite(amount):
        raise DataError("dose amount is not finite")
    return Intervention(
        subject=sid,
        time=time,
        kind=kind,
        name=str(name),
        amount=amount,
        unit=str(ext.get("unit") or (qty or {}).get("unit") or ""),
        duration=duration,
        reference_event=event,
        dose_number=None if dose is None else int(dose),
        route=str(route),
    )


def read_fhir(path: str | Path, *, anchor: _dt.datetime | None = None) -> Dataset:
    """Read a FHIR R4 Bundle (JSON file) into a dataset (see :func:`from_fhir_bundle`).

    Raises
    ------
    DataError
        Unreadable file or invalid bundle.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("no such file", file=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", file=str(p)) from None
    ds = from_fhir_bundle(text, anchor=anchor, file=str(p))
    upstream = ds.provenance if ds.provenance != Provenance() else None
    prov = reader_provenance(p, "immunetwin.data.read_fhir", upstream)
    return replace(ds, provenance=prov)
