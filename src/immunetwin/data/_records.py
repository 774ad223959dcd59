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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from immunetwin.errors import DataError

from ._dataset_ops import (
    apply_curve,
    convert_dataset_units,
    dataset_to_frame,
    frame_records,
    rebase_dataset,
)
from ._provenance import Provenance
from ._record_types import (
    FRAME_COLUMNS,
    TIDY_COLUMNS,
    Censoring,
    Intervention,
    InterventionKind,
    Observation,
    SkippedRecord,
    Subject,
)
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
        return rebase_dataset(self, new_event, offsets, analytes)

    def convert_units(self, to_unit: str, *, analytes: Iterable[str]) -> Dataset:
        """Convert the values, limits of the given analytes to ``to_unit`` (pint).

        Raises
        ------
        DataError
            Unknown or incompatible units (Ct needs :meth:`apply_standard_curve`).
        """
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
