"""The leaf records of a dataset: :class:`Subject`, :class:`Observation`, :class:`Intervention`,
:class:`SkippedRecord`, the censoring and intervention kinds, and the table columns.

See :mod:`immunetwin.data._records` for the conventions (times, censoring directions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from immunetwin.errors import DataError

__all__ = [
    "FRAME_COLUMNS",
    "TIDY_COLUMNS",
    "Censoring",
    "Intervention",
    "InterventionKind",
    "Observation",
    "SkippedRecord",
    "Subject",
]


class Censoring(StrEnum):
    """How an observation's value bounds the true value."""

    NONE = "none"
    LEFT = "left"
    RIGHT = "right"
    INTERVAL = "interval"


class InterventionKind(StrEnum):
    """Kind of an intervention."""

    ANTIVIRAL = "antiviral"
    VACCINE = "vaccine"
    DRUG = "drug"
    CYTOKINE_BLOCKADE = "cytokine_blockade"


#: Columns demanded of every tidy table.
TIDY_COLUMNS: tuple[str, ...] = (
    "subject",
    "time",
    "analyte",
    "specimen",
    "value",
    "unit",
    "censoring",
    "limit",
)
#: All columns written by :meth:`Dataset.to_frame` (tidy columns first).
FRAME_COLUMNS: tuple[str, ...] = (
    *TIDY_COLUMNS,
    "upper",
    "assay",
    "qualitative",
    "sample",
    "loq",
    "lob",
    "origin",
)


def _opt_float(x: float | None, what: str) -> None:
    if x is not None and not (isinstance(x, (int, float)) and math.isfinite(x)):
        raise DataError(f"{what} must be a finite number or None, got {x!r}")


@dataclass(frozen=True, slots=True)
class Subject:
    """A study participant.

    Attributes
    ----------
    id : str
        Identifier, unique within a dataset.
    age : float or str or None
        Age in years, or an age range as reported (e.g. ``"18-65"``).
    sex : str or None
        ``"female"``, ``"male"``, ``"unknown"`` or as reported.
    attributes : Mapping[str, Any]
        Further JSON-compatible covariates (symptomatic, vaccinated, treatment...).
    """

    id: str
    age: float | str | None = None
    sex: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise DataError(f"subject id must be a non-empty string, got {self.id!r}")


@dataclass(frozen=True, slots=True)
class Observation:
    """One measurement of one analyte in one subject at one time.

    Attributes
    ----------
    subject : str
        Subject id.
    time : float
        Days since the analyte's reference event.
    analyte : str
        Analyte name (a key of ``Dataset.analytes`` / ``reference_events``).
    value : float or None
        Reported number (see module docstring).
    unit : str
        Unit string (see :mod:`immunetwin.data._units`).
    specimen : str
        Specimen type (``"+"``-joined for pooled specimens).
    censoring : Censoring
        none / left / right / interval.
    limit : float or None
        Bound used for censoring (the detection limit for ``left``); lower bound of an interval.
    upper : float or None
        Upper bound of an interval-censored value.
    assay : str
        Assay / gene target / laboratory.
    qualitative : str
        Qualitative result as reported (``"negative"``, ``"weak positive"``...), else ``""``.
    sample : str
        Sample id when several records come from one sample.
    loq, lob : float or None
        Record-specific limits of quantification / blank.
    origin : str
        Where the record was read from (row or element path).
    """

    subject: str
    time: float
    analyte: str
    value: float | None
    unit: str
    specimen: str = ""
    censoring: Censoring = Censoring.NONE
    limit: float | None = None
    upper: float | None = None
    assay: str = ""
    qualitative: str = ""
    sample: str = ""
    loq: float | None = None
    lob: float | None = None
    origin: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.time, (int, float)) or not math.isfinite(self.time):
            raise DataError(f"observation time must be a finite number, got {self.time!r}")
        if not isinstance(self.censoring, Censoring):
            raise DataError(f"censoring must be a Censoring, got {self.censoring!r}")
        for name in ("value", "limit", "upper", "loq", "lob"):
            _opt_float(getattr(self, name), name)
        if self.censoring is Censoring.INTERVAL and (self.limit is None or self.upper is None):
            raise DataError("interval-censored observation needs limit and upper")

    @property
    def censored(self) -> bool:
        """True unless ``censoring`` is ``none``."""
        return self.censoring is not Censoring.NONE


@dataclass(frozen=True, slots=True)
class Intervention:
    """A dose of a treatment given to a subject.

    Attributes
    ----------
    subject : str
        Subject id.
    time : float
        Days since ``reference_event`` at the start of administration.
    kind : InterventionKind
        antiviral, vaccine, drug or cytokine blockade.
    name : str
        Agent (``"oseltamivir"``, ``"tocilizumab"``...).
    amount : float or None
        Dose amount in ``unit``.
    unit : str
        Unit of ``amount``.
    duration : float or None
        Days of administration (``None`` = single dose / unknown).
    reference_event : str
        Event that ``time`` counts from.
    dose_number : int or None
        Position in a dose series (1, 2, ...).
    route : str
        Route of administration.
    """

    subject: str
    time: float
    kind: InterventionKind
    name: str
    amount: float | None = None
    unit: str = ""
    duration: float | None = None
    reference_event: str = ""
    dose_number: int | None = None
    route: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.time, (int, float)) or not math.isfinite(self.time):
            raise DataError(f"intervention time must be a finite number, got {self.time!r}")
        if not isinstance(self.kind, InterventionKind):
            raise DataError(f"intervention kind must be an InterventionKind, got {self.kind!r}")
        _opt_float(self.amount, "amount")
        _opt_float(self.duration, "duration")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable representation."""
        return {
            "subject": self.subject,
            "time": self.time,
            "kind": self.kind.value,
            "name": self.name,
            "amount": self.amount,
            "unit": self.unit,
            "duration": self.duration,
            "reference_event": self.reference_event,
            "dose_number": self.dose_number,
            "route": self.route,
        }


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A source record that was not loaded, and why.

    Attributes
    ----------
    location : str
        Element path or row in the source file.
    reason : str
        Why it was skipped (e.g. ``"time: unknown"``).
    subject : str
        Subject id ('' if unknown).
    raw : Mapping[str, Any]
        The record as read (JSON-compatible).
    """

    location: str
    reason: str
    subject: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable representation."""
        return {
            "location": self.location,
            "reason": self.reason,
            "subject": self.subject,
            "raw": dict(self.raw),
        }


def _none_if_nan(x: Any) -> float | None:
    if x is None:
        return None
    f = float(x)
    return None if math.isnan(f) else f
