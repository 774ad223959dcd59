"""Writing a Dataset as a FHIR R4 Bundle (:func:`to_fhir_bundle`, :func:`write_fhir`).

The mapping is described in :mod:`immunetwin.data._fhir`.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from immunetwin.errors import DataError

from ._csv import write_sidecar
from ._fhir_common import (
    _ANALYTE_SYSTEM,
    _INTERP,
    _SUBJECT_SYSTEM,
    DEFAULT_LOINC,
    LOINC,
    UCUM,
    _ext,
)
from ._records import Censoring, Dataset, Intervention, InterventionKind, Observation
from ._units import ucum_code

__all__ = ["to_fhir_bundle", "write_fhir"]

_CODE = re.compile(r"[^\s]+(\s[^\s]+)*")
_ANCHOR = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


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
