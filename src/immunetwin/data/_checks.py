"""Checks a dataset must pass before it is used for calibration: units and exact duplicates.

* :func:`check_units` raises a typed :class:`~immunetwin.errors.DataError` for an unknown or
  dimensionally inconsistent analyte unit, and for units of one analyte that cannot be converted
  into one another (``copies/mL`` and ``mg/dL``); it returns the unit each analyte is in.
* :func:`harmonize_units` converts every record of an analyte that mixes commensurable units
  (``copies/mL`` and ``copies/L``, ``log10 copies/mL``) into one unit.
* :func:`dedupe` collapses exact duplicate records into one (the dropped ones are listed in
  ``Dataset.skipped``, so loaded + skipped still equals the records read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from immunetwin.errors import DataError

from ._records import Dataset, Observation, SkippedRecord
from ._units import analyte_unit_problem, convert_value, normalize_unit

__all__ = ["MAX_ABS_TIME", "check_times", "check_units", "dedupe", "harmonize_units", "record_key"]

#: Largest absolute time accepted in a dataset (days since the reference event: ~2700 years).
MAX_ABS_TIME = 1e6


def _where(o: Observation, i: int) -> str:
    return o.origin or f"observation {i}"


def check_times(dataset: Dataset, *, rows_from: int | None = None) -> Dataset:
    """``dataset`` if every observation and intervention time lies within :data:`MAX_ABS_TIME`.

    Parameters
    ----------
    dataset : Dataset
    rows_from : int, optional
        For a table read one record per row: the row number of the first observation (the
        message then names the row), e.g. 1 for a CSV with a header.

    Raises
    ------
    DataError
        Naming the file and the record whose time is out of bounds.
    """
    file = dataset.provenance.source_file or None
    for i, o in enumerate(dataset.observations):
        if abs(o.time) > MAX_ABS_TIME:
            row: int | str = i + rows_from if rows_from is not None else _where(o, i)
            raise DataError(
                f"time {o.time:g} lies beyond +-{MAX_ABS_TIME:g} {dataset.time_unit}s",
                file=file,
                row=row,
            )
    for i, iv in enumerate(dataset.interventions):
        if abs(iv.time) > MAX_ABS_TIME:
            raise DataError(
                f"intervention time {iv.time:g} lies beyond +-{MAX_ABS_TIME:g}",
                file=file,
                row=f"intervention {i}",
            )
    return dataset


def _selected(dataset: Dataset, analytes: str | Iterable[str] | None) -> set[str]:
    if analytes is None:
        return set(dataset.analyte_names)
    names = {analytes} if isinstance(analytes, str) else set(analytes)
    unknown = sorted(names - set(dataset.analyte_names))
    if unknown:
        raise DataError(
            f"no analyte {unknown[0]!r} in the dataset", file=dataset.provenance.source_file
        )
    return names


def _target_unit(dataset: Dataset, analyte: str, units: Counter[str]) -> str:
    declared = dataset.analytes.get(analyte, {}).get("unit")
    if isinstance(declared, str) and normalize_unit(declared) in units:
        return normalize_unit(declared)
    return units.most_common(1)[0][0]


def check_units(dataset: Dataset, analytes: str | Iterable[str] | None = None) -> dict[str, str]:
    """Check the units of ``analytes`` (default: all) before the data are used.

    Parameters
    ----------
    dataset : Dataset
    analytes : str or iterable of str, optional
        The analyte(s) to check.

    Returns
    -------
    dict
        Analyte -> the unit its records are (or, after :func:`harmonize_units`, will be) in.

    Raises
    ------
    DataError
        An unknown or dimensionally inconsistent unit (``furlongs/fortnight``), or units of one
        analyte that are not convertible into each other; the message names the file, the
        analyte and the first record concerned.
    """
    file = dataset.provenance.source_file or None
    names = _selected(dataset, analytes)
    units: dict[str, Counter[str]] = {a: Counter() for a in names}
    first: dict[tuple[str, str], str] = {}
    for i, o in enumerate(dataset.observations):
        if o.analyte not in names:
            continue
        unit = normalize_unit(o.unit)
        units[o.analyte][unit] += 1
        if (o.analyte, unit) not in first:
            first[(o.analyte, unit)] = _where(o, i)
            problem = analyte_unit_problem(unit)
            if problem is not None:
                raise DataError(f"analyte {o.analyte!r}: {problem}", file=file, row=_where(o, i))
    out: dict[str, str] = {}
    for analyte, counts in units.items():
        if not counts:
            continue
        target = _target_unit(dataset, analyte, counts)
        for unit in counts:
            if unit == target:
                continue
            try:
                convert_value(1.0, unit, target)
            except DataError:
                raise DataError(
                    f"analyte {analyte!r} mixes units {target!r} and {unit!r}, which are not "
                    "convertible into each other",
                    file=file,
                    row=first[(analyte, unit)],
                ) from None
        out[analyte] = target
    return out


def _converted(o: Observation, target: str) -> Observation:
    def conv(x: float | None) -> float | None:
        return None if x is None else float(convert_value(x, o.unit, target))

    return replace(
        o,
        value=conv(o.value),
        limit=conv(o.limit),
        upper=conv(o.upper),
        loq=conv(o.loq),
        lob=conv(o.lob),
        unit=target,
    )


def harmonize_units(dataset: Dataset, analytes: str | Iterable[str] | None = None) -> Dataset:
    """Convert the records of each analyte into one unit (see :func:`check_units`).

    The unit kept is the analyte's declared unit (``Dataset.analytes[a]["unit"]``) when records
    use it, else the most frequent. Values, limits and record limits are converted; a curation
    step is recorded in the provenance. A dataset with nothing to convert comes back unchanged.

    Raises
    ------
    DataError
        As :func:`check_units`.
    """
    targets = check_units(dataset, analytes)
    changed = 0
    observations: list[Observation] = []
    for o in dataset.observations:
        target = targets.get(o.analyte)
        if target is not None and o.unit != target:
            o = _converted(o, target)
            changed += 1
        observations.append(o)
    if not changed:
        return dataset
    prov = dataset.provenance
    step = f"units harmonised: {changed} records converted ({', '.join(sorted(targets.values()))})"
    return replace(
        dataset,
        observations=tuple(observations),
        provenance=replace(prov, curation_steps=(*prov.curation_steps, step)),
    )


def record_key(o: Observation) -> tuple[Any, ...]:
    """What makes two records duplicates of each other (everything but their origin)."""
    return (
        o.subject,
        o.analyte,
        o.specimen,
        o.time,
        o.sample,
        o.value,
        normalize_unit(o.unit),
        o.censoring,
        o.limit,
        o.upper,
        o.qualitative,
        o.assay,
        o.loq,
        o.lob,
    )


def dedupe(dataset: Dataset) -> Dataset:
    """Collapse exact duplicate records into one (the first); list the others as skipped.

    Records are duplicates when they agree in everything but where they were read from (see
    :func:`record_key`). A dataset without duplicates comes back unchanged.

    Returns
    -------
    Dataset
        The dataset with one record per key; each dropped record becomes a
        :class:`SkippedRecord` whose reason names the record it duplicates.
    """
    seen: dict[tuple[Any, ...], int] = {}
    kept: list[Observation] = []
    dropped: list[SkippedRecord] = []
    for i, o in enumerate(dataset.observations):
        key = record_key(o)
        if key in seen:
            j = seen[key]
            dropped.append(
                SkippedRecord(
                    _where(o, i),
                    f"exact duplicate of {_where(dataset.observations[j], j)}",
                    o.subject,
                    {"analyte": o.analyte, "time": o.time, "value": o.value, "unit": o.unit},
                )
            )
            continue
        seen[key] = i
        kept.append(o)
    if not dropped:
        return dataset
    prov = dataset.provenance
    step = f"exact duplicates collapsed: {len(dropped)} records dropped (listed as skipped)"
    return replace(
        dataset,
        observations=tuple(kept),
        skipped=(*dataset.skipped, *dropped),
        provenance=replace(prov, curation_steps=(*prov.curation_steps, step)),
    )
