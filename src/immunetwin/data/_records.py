"""Typed records: :class:`Subject`, :class:`Observation`, :class:`Intervention`, :class:`Dataset`.

Conventions
-----------
* Times are in days (``Dataset.time_unit``) relative to the *reference event* of the analyte
  (``Dataset.reference_events[analyte]``) or, for interventions, to
  ``Intervention.reference_event``. Re-basing is explicit: :meth:`Dataset.rebase`.
* ``Observation.value`` is the number the source reported, or ``None`` when there is none
  (e.g. a qualitative ``negative``). ``censoring`` says how to read it:

  - ``none``: ``value`` is the measurement;
  - ``left``: the true value is below ``limit`` (e.g. below the detection limit);
  - ``right``: the true value is above ``limit``;
  - ``interval``: the true value lies in ``[limit, upper]``.

  ``limit`` may be ``None`` for a censored record whose bound is unknown. Directions refer to
  the *recorded scale*: a ``negative`` PCR result is left-censored in copies/mL but
  right-censored in Ct (a high Ct is a low load); :meth:`Dataset.apply_standard_curve` flips it.

The bodies of the table conversions (:meth:`Dataset.to_frame`, :meth:`Dataset.from_frame`) and
of the curation steps (:meth:`Dataset.rebase`, :meth:`Dataset.convert_units`,
:meth:`Dataset.apply_standard_curve`) live in :mod:`immunetwin.data._dataset_ops`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import pandas as pd

from immunetwin.errors import DataError

from ._provenance import Provenance
from ._units import StandardCurve

__all__ = [
    "FRAME_COLUMNS",
    "TIDY_COLUMNS",
    "Censoring",
    "Dataset",
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


@dataclass(frozen=True)
class Dataset:
    """Subjects, observations and interventions with their metadata and provenance.

    Attributes
    ----------
    subjects : tuple of Subject
    observations : tuple of Observation
    interventions : tuple of Intervention
    reference_events : Mapping[str, str]
        Analyte -> event its times count from (``"symptom onset"``, ``"inoculation"``...).
    analytes : Mapping[str, Mapping[str, Any]]
        Analyte metadata (biomarker, gene target, limits of detection/quantification...).
    metadata : Mapping[str, Any]
        Dataset-level metadata (title, description...).
    skipped : tuple of SkippedRecord
        Source records not loaded, each with a reason.
    provenance : Provenance
    time_unit : str
        Unit of all times (``"day"``).
    """

    subjects: tuple[Subject, ...]
    observations: tuple[Observation, ...]
    interventions: tuple[Intervention, ...] = ()
    reference_events: Mapping[str, str] = field(default_factory=dict)
    analytes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    skipped: tuple[SkippedRecord, ...] = ()
    provenance: Provenance = field(default_factory=Provenance)
    time_unit: str = "day"

    def __post_init__(self) -> None:
        ids = [s.id for s in self.subjects]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise DataError(f"duplicate subject ids: {dup}")
        known = set(ids)
        names = [o.subject for o in self.observations] + [v.subject for v in self.interventions]
        for i, name in enumerate(names):
            if name not in known:
                raise DataError(f"record refers to unknown subject {name!r}", row=i)

    # ------------------------------------------------------------------ views
    @property
    def subject_ids(self) -> tuple[str, ...]:
        """Subject ids in order."""
        return tuple(s.id for s in self.subjects)

    @property
    def analyte_names(self) -> tuple[str, ...]:
        """Analytes with at least one observation, in order of first appearance."""
        return tuple(dict.fromkeys(o.analyte for o in self.observations))

    def subject(self, subject_id: str) -> Subject:
        """The subject with id ``subject_id`` (``KeyError`` if absent)."""
        for s in self.subjects:
            if s.id == subject_id:
                return s
        raise KeyError(subject_id)

    def summary(self) -> dict[str, Any]:
        """Counts: subjects, analytes, observations, censored share, time span, skipped."""
        n = len(self.observations)
        censored = sum(o.censored for o in self.observations)
        times = [o.time for o in self.observations]
        return {
            "subjects": len(self.subjects),
            "analytes": len(self.analyte_names),
            "observations": n,
            "censored": censored,
            "censored_share": censored / n if n else 0.0,
            "time_min": min(times) if times else None,
            "time_max": max(times) if times else None,
            "interventions": len(self.interventions),
            "skipped": len(self.skipped),
        }

    # ------------------------------------------------------------------ frames
    def to_frame(self) -> pd.DataFrame:
        """One tidy row per observation (columns :data:`FRAME_COLUMNS`)."""
        from ._dataset_ops import dataset_to_frame

        return dataset_to_frame(self)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        subjects: Iterable[Subject] | None = None,
        interventions: Iterable[Intervention] = (),
        reference_events: Mapping[str, str] | None = None,
        analytes: Mapping[str, Mapping[str, Any]] | None = None,
        metadata: Mapping[str, Any] | None = None,
        skipped: Iterable[SkippedRecord] = (),
        provenance: Provenance | None = None,
        file: str | None = None,
    ) -> Dataset:
        """Build a dataset from a tidy table (inverse of :meth:`to_frame`).

        Parameters
        ----------
        frame : pandas.DataFrame
            Needs :data:`TIDY_COLUMNS`; the other :data:`FRAME_COLUMNS` are optional.
        subjects : iterable of Subject, optional
            Subject records; subjects only named in the table are created bare.
        file : str, optional
            Named in error messages.

        Raises
        ------
        DataError
            Missing columns or a bad cell (message names the row).
        """
        from ._dataset_ops import frame_records

        subj, observations = frame_records(frame, subjects, file)
        return cls(
            subjects=subj,
            observations=observations,
            interventions=tuple(interventions),
            reference_events=dict(reference_events or {}),
            analytes={k: dict(v) for k, v in (analytes or {}).items()},
            metadata=dict(metadata or {}),
            skipped=tuple(skipped),
            provenance=provenance or Provenance(),
        )

    # ------------------------------------------------------------------ curation
    def with_step(self, step: str, **changes: Any) -> Dataset:
        """Copy with ``changes`` applied and ``step`` appended to the provenance."""
        return replace(self, provenance=self.provenance.with_step(step), **changes)

    def rebase(
        self,
        new_event: str,
        offsets: Mapping[str, float],
        *,
        analytes: Iterable[str] | None = None,
    ) -> Dataset:
        """Re-express times relative to another reference event.

        Parameters
        ----------
        new_event : str
            Name of the new reference event (e.g. ``"first positive test"``).
        offsets : Mapping[str, float]
            Per subject: time of ``new_event`` on the *current* clock of the selected analytes.
            New time = old time - offset.
        analytes : iterable of str, optional
            Analytes to re-base (default: all). They must share one current reference event;
            interventions counted from that event are re-based too.

        Raises
        ------
        DataError
            If the analytes have different reference events or a subject lacks an offset.
        """
        from ._dataset_ops import rebase_dataset

        return rebase_dataset(self, new_event, offsets, analytes)

    def convert_units(self, to_unit: str, *, analytes: Iterable[str]) -> Dataset:
        """Convert the values, limits of the given analytes to ``to_unit`` (pint).

        Raises
        ------
        DataError
            Unknown or incompatible units (Ct needs :meth:`apply_standard_curve`).
        """
        from ._dataset_ops import convert_dataset_units

        return convert_dataset_units(self, to_unit, analytes)

    def apply_standard_curve(
        self, curve: StandardCurve, *, analytes: Iterable[str] | None = None
    ) -> Dataset:
        """Convert Ct observations to log10 copies with an explicit standard curve.

        Censoring directions flip (a Ct above the limit is a load below it).

        Parameters
        ----------
        curve : StandardCurve
            The assay's curve (see :data:`~immunetwin.data.STANDARD_CURVES`).
        analytes : iterable of str, optional
            Analytes to convert (default: every analyte measured in ``Ct``).
        """
        from ._dataset_ops import apply_curve

        return apply_curve(self, curve, analytes)

    # ------------------------------------------------------------------ sidecar
    def meta_dict(self) -> dict[str, Any]:
        """Everything except the observations, JSON-serialisable (the export sidecar)."""
        return {
            "schema": "immunetwin.data/1",
            "time_unit": self.time_unit,
            "provenance": self.provenance.to_dict(),
            "subjects": [
                {"id": s.id, "age": s.age, "sex": s.sex, "attributes": dict(s.attributes)}
                for s in self.subjects
            ],
            "interventions": [iv.to_dict() for iv in self.interventions],
            "reference_events": dict(self.reference_events),
            "analytes": {k: dict(v) for k, v in self.analytes.items()},
            "metadata": dict(self.metadata),
            "skipped": [s.to_dict() for s in self.skipped],
        }
