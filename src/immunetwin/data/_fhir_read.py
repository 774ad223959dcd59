"""Reading a FHIR R4 Bundle into a Dataset (:func:`from_fhir_bundle`, :func:`read_fhir`).

The mapping is described in :mod:`immunetwin.data._fhir`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from immunetwin.errors import DataError

from ._checks import check_times
from ._csv import reader_provenance, skipped_from_meta
from ._fhir_common import _ANALYTE_SYSTEM, _SUBJECT_SYSTEM, _exts
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
from ._units import analyte_unit_problem, normalize_unit

__all__ = ["from_fhir_bundle", "read_fhir"]


def _parse_time(text: Any, where: str, file: str | None) -> _dt.datetime:
    try:
        t = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        raise DataError(f"bad dateTime {text!r}", file=file, row=where) from None
    return t if t.tzinfo else t.replace(tzinfo=_dt.UTC)


def _first_error(exc: BaseException) -> str:
    """One line for a validation error: pydantic's first error (where and what), else the text."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            more = len(errors()) - 1
            tail = f" (+{more} more)" if more else ""
            return f"{where}: {first.get('msg', '')}{tail}"[:300]
        except (TypeError, IndexError, KeyError, AttributeError):
            pass
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (" ".join(lines[:2]) if lines else type(exc).__name__)[:300]


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
        raise DataError(f"not a valid FHIR R4 Bundle: {_first_error(exc)}", file=file) from None
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
    read = _observation_value(r, ext, sid, where)
    if isinstance(read, SkippedRecord):
        return read
    value, unit, censoring, limit, upper, qual = read
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


_Value = tuple[float | None, str, Censoring, float | None, float | None, str]


def _quantity_unit(q: Mapping[str, Any], ext: Mapping[str, Any]) -> str:
    """The unit of a Quantity: its ``unit``, else its UCUM ``code`` (the extension's only when
    the Quantity has neither).

    Raises
    ------
    DataError
        No unit at all, or one that is unknown or not the unit of a measured analyte.
    """
    candidates = [str(x) for x in (q.get("unit"), q.get("code")) if x]
    if not candidates and ext.get("unit"):
        candidates = [str(ext["unit"])]
    if not candidates:
        raise DataError("valueQuantity without a unit")
    for text in candidates:
        unit = normalize_unit(text)
        if analyte_unit_problem(unit) is None:
            return unit
    raise DataError(str(analyte_unit_problem(normalize_unit(candidates[0]))))


def _observation_value(
    r: Mapping[str, Any], ext: Mapping[str, Any], sid: str, where: str
) -> _Value | SkippedRecord:
    """Value, unit, censoring, limits and qualitative result of an Observation.

    The standard ``valueQuantity`` / ``valueRange`` / ``valueString`` win over the package's
    extensions, which only fill in what the standard fields cannot say (the reported value of a
    censored record, record limits); a ``valueString`` is never read as a number.
    """
    interp = {c.get("code") for i in r.get("interpretation") or [] for c in i.get("coding") or []}
    q = r.get("valueQuantity")
    rng = r.get("valueRange")
    ext_censoring = Censoring(ext["censoring"]) if "censoring" in ext else None
    qual = str(ext.get("qualitative") or "")
    limit = _fl(ext.get("limit"))
    upper = _fl(ext.get("upper"))
    if q is not None:
        if q.get("value") is None:
            raise DataError("valueQuantity without a value")
        unit = _quantity_unit(q, ext)
        number = float(q["value"])
        comp = q.get("comparator")
        if comp in ("<", "<="):
            return _fl(ext.get("reported-value")), unit, Censoring.LEFT, number, upper, qual
        if comp in (">", ">="):
            return _fl(ext.get("reported-value")), unit, Censoring.RIGHT, number, upper, qual
        return number, unit, Censoring.NONE, limit, upper, qual
    if rng is not None:
        low, high = rng.get("low") or {}, rng.get("high") or {}
        unit = _quantity_unit(low or high, ext)
        limit, upper = _fl(low.get("value")), _fl(high.get("value"))
        if limit is None or upper is None:
            raise DataError("valueRange needs a low and a high value")
        return _fl(ext.get("reported-value")), unit, Censoring.INTERVAL, limit, upper, qual
    text = str(r.get("valueString") or "")
    unit = normalize_unit(str(ext.get("unit") or ""))
    if unit and analyte_unit_problem(unit) is not None:
        raise DataError(str(analyte_unit_problem(unit)))
    lowered = text.lower()
    if ext_censoring is not None:
        censoring = ext_censoring
    elif interp & {"NEG", "ND", "<"} or lowered in ("negative", "not detected"):
        censoring, limit, upper = Censoring.LEFT, None, None
    elif interp & {"POS", "DET", ">"} or lowered.endswith("positive"):
        censoring, limit, upper = Censoring.RIGHT, None, None
    else:
        return SkippedRecord(where, "Observation without a quantitative or qualitative value", sid)
    if censoring is Censoring.INTERVAL and (limit is None or upper is None):
        raise DataError("interval censoring without a valueRange")
    written = text in ("no value", f"{censoring.value}-censored, limit unknown")
    # the text is never a number; a censored record may keep its reported value (extension)
    value = None if censoring is Censoring.NONE else _fl(ext.get("reported-value"))
    return value, unit, censoring, limit, upper, qual or ("" if written else lowered)


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
    return check_times(replace(ds, provenance=prov))
