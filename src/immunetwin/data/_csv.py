"""Tidy CSV / Parquet readers and writers, and the JSON metadata sidecar.

The table holds one row per observation (:data:`~immunetwin.data.FRAME_COLUMNS`). Everything
else (subjects and covariates, interventions, reference events, analyte metadata, skipped
records, provenance) goes into ``<file>.meta.json`` next to it, so a round trip loses nothing.
A table without a sidecar is read too (bare subjects, no metadata).
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from immunetwin.errors import DataError

from ._checks import check_times
from ._provenance import Provenance, package_version, sha256_file, sidecar_path
from ._record_types import (
    FRAME_COLUMNS,
    Intervention,
    InterventionKind,
    SkippedRecord,
    Subject,
    _none_if_nan,
)
from ._records import Dataset

__all__ = [
    "read_csv",
    "read_parquet",
    "read_sidecar",
    "write_csv",
    "write_parquet",
    "write_sidecar",
]


def write_sidecar(dataset: Dataset, path: str | Path) -> Path:
    """Write ``dataset``'s metadata and provenance as ``<path>.meta.json``.

    Returns
    -------
    Path
        The sidecar written.
    """
    target = sidecar_path(path)
    target.write_text(json.dumps(dataset.meta_dict(), indent=1, default=str), encoding="utf-8")
    return target


def read_sidecar(path: str | Path) -> dict[str, Any] | None:
    """Read the sidecar of ``path`` into keyword arguments of :meth:`Dataset.from_frame`.

    Returns ``None`` when there is no sidecar.

    Raises
    ------
    DataError
        Malformed sidecar.
    """
    side = sidecar_path(path)
    if not side.exists():
        return None
    fname = str(side)
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read metadata sidecar: {exc}", file=fname) from None
    if not isinstance(data, dict):
        raise DataError("metadata sidecar must be a JSON object", file=fname)
    refs = data.get("reference_events", {})
    analytes = data.get("analytes", {})
    metadata = data.get("metadata", {})
    if not (
        isinstance(refs, dict)
        and all(isinstance(v, str) for v in refs.values())
        and isinstance(analytes, dict)
        and all(isinstance(v, dict) for v in analytes.values())
        and isinstance(metadata, dict)
    ):
        raise DataError("bad reference_events / analytes / metadata", file=fname)
    return {
        "subjects": subjects_from_meta(data.get("subjects", []), fname),
        "interventions": interventions_from_meta(data.get("interventions", []), fname),
        "reference_events": refs,
        "analytes": analytes,
        "metadata": metadata,
        "skipped": skipped_from_meta(data.get("skipped", []), fname),
        "provenance": Provenance.from_dict(data.get("provenance", {}), file=fname),
    }


def reader_provenance(path: str | Path, reader: str, upstream: Provenance | None) -> Provenance:
    """Provenance of a dataset re-read from an export (keeps the upstream source fields)."""
    up = upstream or Provenance()
    return replace(
        up,
        source_file=str(path),
        sha256=sha256_file(path),
        reader=reader,
        reader_version=package_version(),
        curation_steps=(*up.curation_steps, f"read by {reader} from {Path(path).name}"),
        derived_from=(up,) if upstream is not None else (),
    )


def _finish(frame: pd.DataFrame, path: Path, reader: str) -> Dataset:
    kwargs = read_sidecar(path) or {}
    upstream = kwargs.pop("provenance", None)
    prov = reader_provenance(path, reader, upstream)
    ds = Dataset.from_frame(frame, provenance=prov, file=str(path), **kwargs)
    return check_times(ds, rows_from=1)


def write_csv(dataset: Dataset, path: str | Path) -> Path:
    """Write the tidy table as CSV plus the ``.meta.json`` sidecar.

    Returns
    -------
    Path
        The CSV written.
    """
    p = Path(path)
    # quote text (ids such as "007" stay text elsewhere; embedded CR/LF survive)
    dataset.to_frame().to_csv(p, index=False, quoting=csv.QUOTE_NONNUMERIC)
    write_sidecar(dataset, p)
    return p


def read_csv(path: str | Path) -> Dataset:
    """Read a tidy CSV (and its sidecar, if present).

    Raises
    ------
    DataError
        Unreadable file, missing columns, bad cells (the message names the row).
    """
    p = Path(path)
    try:
        frame = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise DataError("no such file", file=str(p)) from None
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse CSV: {exc}", file=str(p)) from None
    return _finish(frame, p, "immunetwin.data.read_csv")


def write_parquet(dataset: Dataset, path: str | Path) -> Path:
    """Write the tidy table as Parquet plus the ``.meta.json`` sidecar."""
    p = Path(path)
    dataset.to_frame().to_parquet(p, index=False)
    write_sidecar(dataset, p)
    return p


def read_parquet(path: str | Path) -> Dataset:
    """Read a tidy Parquet file (and its sidecar, if present).

    Raises
    ------
    DataError
        Unreadable file, missing columns, bad cells.
    """
    p = Path(path)
    try:
        frame = pd.read_parquet(p)
    except FileNotFoundError:
        raise DataError("no such file", file=str(p)) from None
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise DataError(f"cannot read Parquet: {type(exc).__name__}: {exc}", file=str(p)) from None
    for c in FRAME_COLUMNS:
        if c in frame.columns and frame[c].dtype == object:
            frame[c] = frame[c].where(frame[c].notna(), "")
    return _finish(frame, p, "immunetwin.data.read_parquet")


def subjects_from_meta(data: Any, file: str | None = None) -> list[Subject]:
    """Subjects from the ``subjects`` list of a sidecar (see :meth:`Dataset.meta_dict`)."""
    if not isinstance(data, list):
        raise DataError("'subjects' must be a list", file=file)
    out = []
    for i, s in enumerate(data):
        if not isinstance(s, dict) or not isinstance(s.get("id"), str):
            raise DataError("subject needs a string 'id'", file=file, row=f"subjects[{i}]")
        attrs = s.get("attributes") or {}
        age = s.get("age")
        sex = s.get("sex")
        if not isinstance(attrs, dict) or not (age is None or isinstance(age, (int, float, str))):
            raise DataError("bad subject attributes/age", file=file, row=f"subjects[{i}]")
        if sex is not None and not isinstance(sex, str):
            raise DataError("subject sex must be a string", file=file, row=f"subjects[{i}]")
        out.append(Subject(s["id"], age, sex, attrs))
    return out


def interventions_from_meta(data: Any, file: str | None = None) -> list[Intervention]:
    """Interventions from a sidecar's ``interventions`` list."""
    if not isinstance(data, list):
        raise DataError("'interventions' must be a list", file=file)
    out = []
    for i, d in enumerate(data):
        where = f"interventions[{i}]"
        if not isinstance(d, dict):
            raise DataError("intervention must be an object", file=file, row=where)
        try:
            dose = d.get("dose_number")
            out.append(
                Intervention(
                    subject=str(d["subject"]),
                    time=float(d["time"]),
                    kind=InterventionKind(d["kind"]),
                    name=str(d.get("name", "")),
                    amount=_none_if_nan(d.get("amount")),
                    unit=str(d.get("unit") or ""),
                    duration=_none_if_nan(d.get("duration")),
                    reference_event=str(d.get("reference_event") or ""),
                    dose_number=None if dose is None else int(dose),
                    route=str(d.get("route") or ""),
                )
            )
        except (KeyError, TypeError, ValueError, DataError) as exc:
            raise DataError(f"bad intervention: {exc}", file=file, row=where) from None
    return out


def skipped_from_meta(data: Any, file: str | None = None) -> list[SkippedRecord]:
    """Skipped records from a sidecar's ``skipped`` list."""
    if not isinstance(data, list):
        raise DataError("'skipped' must be a list", file=file)
    out = []
    for i, d in enumerate(data):
        if not isinstance(d, dict) or not isinstance(d.get("reason"), str):
            raise DataError("skipped record needs a 'reason'", file=file, row=f"skipped[{i}]")
        raw = d.get("raw") or {}
        out.append(
            SkippedRecord(
                str(d.get("location", "")),
                d["reason"],
                str(d.get("subject", "")),
                raw if isinstance(raw, dict) else {"raw": raw},
            )
        )
    return out
