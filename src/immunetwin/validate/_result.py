"""The result of a predictive validation: typed records and summary, saved as JSON, plotted."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FitError
from ._plot import plot_validation
from ._records import ForecastRecord, ValidationSummary

__all__ = ["ValidationResult", "load_result"]


@dataclass(frozen=True)
class ValidationResult:
    """Records and summary of a predictive validation.

    Attributes
    ----------
    summary : ValidationSummary
        Coverage of the 50% and 90% intervals, median absolute error of the median forecast and
        of the baseline's, their relative reduction, CRPS, counts and settings.
    records : tuple of ForecastRecord
        One per held-out observation.
    """

    summary: ValidationSummary
    records: tuple[ForecastRecord, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"summary": ..., "records": [...]}`` (the JSON the command line writes)."""
        return {
            "summary": self.summary.to_dict(),
            "records": [r.to_dict() for r in self.records],
        }

    def save(self, path: str | Path) -> Path:
        """Write the JSON (atomically: a temporary file replaced into place)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p

    def plot(self, path: str | Path, *, max_subjects: int = 24) -> Path:
        """Observed vs forecast per subject (PNG)."""
        return plot_validation(self.records, self.summary, Path(path), max_subjects=max_subjects)


def load_result(path: str | Path) -> ValidationResult:
    """Read a result JSON written by :meth:`ValidationResult.save`."""
    p = Path(path)
    try:
        d: Mapping[str, Any] = json.loads(p.read_text())
        return ValidationResult(
            summary=ValidationSummary.from_dict(d["summary"]),
            records=tuple(ForecastRecord.from_dict(r) for r in d["records"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise FitError(f"{p}: not a validation result ({exc!r})") from None
