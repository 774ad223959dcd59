"""Bodies of the :class:`~immunetwin.data.Dataset` table conversions and curation steps.

The methods stay on :class:`~immunetwin.data.Dataset` (``to_frame``, ``from_frame``,
``rebase``, ``convert_units``, ``apply_standard_curve``); they call the helpers here, which
keeps :mod:`immunetwin.data._records` to the record types themselves. This module imports the
leaf records (:mod:`._record_types`) and knows :class:`Dataset` only as a type; ``_records``
imports this one (no import cycle).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from immunetwin.errors import DataError

from ._record_types import (
    FRAME_COLUMNS,
    TIDY_COLUMNS,
    Censoring,
    Observation,
    Subject,
    _none_if_nan,
)
from ._units import StandardCurve, convert_value, parse_unit

if TYPE_CHECKING:
    from ._records import Dataset

__all__ = [
    "apply_curve",
    "convert_dataset_units",
    "dataset_to_frame",
    "frame_records",
    "rebase_dataset",
]

_FLOAT_COLUMNS = ("time", "value", "limit", "upper", "loq", "lob")


# ---------------------------------------------------------------------- frames
def dataset_to_frame(ds: Dataset) -> pd.DataFrame:
    """One tidy row per observation of ``ds`` (body of :meth:`Dataset.to_frame`).

    Parameters
    ----------
    ds : Dataset

    Returns
    -------
    pandas.DataFrame
        Columns :data:`~immunetwin.data.FRAME_COLUMNS`; float columns ``float64`` (``NaN`` for
        ``None``), the others ``object``.
    """
    cols: dict[str, list[Any]] = {c: [] for c in FRAME_COLUMNS}
    for o in ds.observations:
        for c in FRAME_COLUMNS:
            v = getattr(o, c)
            if c in _FLOAT_COLUMNS:
                v = np.nan if v is None else float(v)
            elif c == "censoring":
                v = v.value
            cols[c].append(v)
    frame = pd.DataFrame(cols, columns=list(FRAME_COLUMNS))
    for c in _FLOAT_COLUMNS:
        frame[c] = frame[c].astype("float64")
    for c in FRAME_COLUMNS:
        if c not in _FLOAT_COLUMNS:
            frame[c] = frame[c].astype(object)
    return frame


def frame_records(
    frame: pd.DataFrame, subjects: Iterable[Subject] | None, file: str | None
) -> tuple[tuple[Subject, ...], tuple[Observation, ...]]:
    """Subjects and observations of a tidy table (the parsing part of :meth:`Dataset.from_frame`).

    Parameters
    ----------
    frame : pandas.DataFrame
        Needs :data:`~immunetwin.data.TIDY_COLUMNS`; the other frame columns are optional.
    subjects : iterable of Subject or None
        Known subjects; subjects only named in the table are appended bare, in order of first
        appearance.
    file : str or None
        Named in error messages.

    Returns
    -------
    subjects : tuple of Subject
    observations : tuple of Observation

    Raises
    ------
    DataError
        Missing columns or a bad cell (message names the 1-based row).
    """
    missing = [c for c in TIDY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"missing columns {missing}", file=file)
    observations: list[Observation] = []
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in frame.to_dict("records")
    ]
    for i, row in enumerate(records):
        try:
            observations.append(_row_to_observation(row))
        except (DataError, ValueError, TypeError) as exc:
            msg = str(exc).split(": ", 1)[-1] if isinstance(exc, DataError) else str(exc)
            raise DataError(msg, file=file, row=i + 1) from None
    subj = list(subjects) if subjects is not None else []
    known = {s.id for s in subj}
    for o in observations:
        if o.subject not in known:
            known.add(o.subject)
            subj.append(Subject(o.subject))
    return tuple(subj), tuple(observations)


def _row_to_observation(row: Mapping[str, Any]) -> Observation:
    def fl(key: str) -> float | None:
        v = row.get(key)
        if v is None or (isinstance(v, str) and v.strip() == ""):
            return None
        try:
            return _none_if_nan(v)
        except (TypeError, ValueError):
            raise DataError(f"column {key!r}: not a number: {v!r}") from None

    def st(key: str) -> str:
        v = row.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return str(v)

    time = fl("time")
    if time is None:
        raise DataError("column 'time': missing")
    subject, analyte = st("subject"), st("analyte")
    if not subject:
        raise DataError("column 'subject': missing")
    if not analyte:
        raise DataError("column 'analyte': missing")
    try:
        censoring = Censoring(st("censoring") or "none")
    except ValueError:
        raise DataError(f"column 'censoring': unknown value {row.get('censoring')!r}") from None
    return Observation(
        subject=subject,
        time=time,
        analyte=analyte,
        value=fl("value"),
        unit=st("unit"),
        specimen=st("specimen"),
        censoring=censoring,
        limit=fl("limit"),
        upper=fl("upper"),
        assay=st("assay"),
        qualitative=st("qualitative"),
        sample=st("sample"),
        loq=fl("loq"),
        lob=fl("lob"),
        origin=st("origin"),
    )


# ---------------------------------------------------------------------- curation
def rebase_dataset(
    ds: Dataset,
    new_event: str,
    offsets: Mapping[str, float],
    analytes: Iterable[str] | None,
) -> Dataset:
    """Body of :meth:`Dataset.rebase` (see there for the parameters).

    Raises
    ------
    DataError
        If the analytes have different reference events or a subject lacks an offset.
    """
    chosen = set(analytes) if analytes is not None else set(ds.analyte_names)
    events = {ds.reference_events.get(a, "") for a in chosen}
    if len(events) != 1:
        raise DataError(f"analytes to re-base have different reference events: {events}")
    old = events.pop()
    need = {o.subject for o in ds.observations if o.analyte in chosen}
    need |= {iv.subject for iv in ds.interventions if iv.reference_event == old}
    lacking = sorted(need - set(offsets))
    if lacking:
        raise DataError(f"no offset for subjects {lacking[:5]} (re-basing to {new_event!r})")
    obs = tuple(
        replace(o, time=o.time - float(offsets[o.subject])) if o.analyte in chosen else o
        for o in ds.observations
    )
    ivs = tuple(
        replace(iv, time=iv.time - float(offsets[iv.subject]), reference_event=new_event)
        if iv.reference_event == old
        else iv
        for iv in ds.interventions
    )
    refs = dict(ds.reference_events)
    refs.update(dict.fromkeys(chosen, new_event))
    return ds.with_step(
        f"rebase {sorted(chosen)} from {old!r} to {new_event!r}",
        observations=obs,
        interventions=ivs,
        reference_events=refs,
    )


def convert_dataset_units(ds: Dataset, to_unit: str, analytes: Iterable[str]) -> Dataset:
    """Body of :meth:`Dataset.convert_units` (see there for the parameters).

    Raises
    ------
    DataError
        Unknown or incompatible units.
    """
    chosen = set(analytes)
    parse_unit(to_unit)

    def conv(x: float | None, unit: str) -> float | None:
        return None if x is None else float(convert_value(x, unit, to_unit))

    obs = []
    for o in ds.observations:
        if o.analyte in chosen and o.unit != to_unit:
            o = replace(
                o,
                value=conv(o.value, o.unit),
                limit=conv(o.limit, o.unit),
                upper=conv(o.upper, o.unit),
                loq=conv(o.loq, o.unit),
                lob=conv(o.lob, o.unit),
                unit=to_unit,
            )
        obs.append(o)
    meta = {k: dict(v) for k, v in ds.analytes.items()}
    for a in chosen & set(meta):
        meta[a]["unit"] = to_unit
    return ds.with_step(
        f"convert {sorted(chosen)} to {to_unit!r}", observations=tuple(obs), analytes=meta
    )


_FLIP = {
    Censoring.LEFT: Censoring.RIGHT,
    Censoring.RIGHT: Censoring.LEFT,
    Censoring.NONE: Censoring.NONE,
    Censoring.INTERVAL: Censoring.INTERVAL,
}


def apply_curve(ds: Dataset, curve: StandardCurve, analytes: Iterable[str] | None) -> Dataset:
    """Body of :meth:`Dataset.apply_standard_curve` (see there for the parameters).

    Raises
    ------
    DataError
        ``curve`` is not a :class:`~immunetwin.data.StandardCurve`, or a selected analyte is
        not in Ct.
    """
    if not isinstance(curve, StandardCurve):
        raise DataError("apply_standard_curve needs a StandardCurve")
    chosen = (
        set(analytes)
        if analytes is not None
        else {o.analyte for o in ds.observations if o.unit == "Ct"}
    )

    def f(x: float | None) -> float | None:
        return None if x is None else float(curve.ct_to_log10(x))

    obs = []
    for o in ds.observations:
        if o.analyte in chosen:
            if o.unit != "Ct":
                raise DataError(f"analyte {o.analyte!r} is in {o.unit!r}, not Ct")
            lo, hi = f(o.limit), f(o.upper)
            if o.censoring is Censoring.INTERVAL:
                lo, hi = hi, lo
            o = replace(
                o,
                value=f(o.value),
                limit=lo,
                upper=hi,
                loq=f(o.loq),
                lob=f(o.lob),
                censoring=_FLIP[o.censoring],
                unit=curve.unit,
            )
        obs.append(o)
    meta = {k: dict(v) for k, v in ds.analytes.items()}
    for a in chosen & set(meta):
        meta[a]["unit"] = curve.unit
        meta[a]["standard_curve"] = curve.name
    return ds.with_step(
        f"Ct -> {curve.unit} for {sorted(chosen)} with standard curve {curve.name!r} "
        f"(slope {curve.slope}, intercept {curve.intercept}, "
        f"log10 factor {curve.log10_factor}; {curve.source})",
        observations=tuple(obs),
        analytes=meta,
    )
