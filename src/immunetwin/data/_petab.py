"""PEtab measurement tables (TSV) to and from a :class:`~immunetwin.data.Dataset`.

Written columns: the PEtab ones (``observableId`` = analyte as a PEtab id,
``simulationConditionId`` = subject as a PEtab id, ``measurement``, ``time``,
``preequilibrationConditionId``, ``observableParameters``, ``noiseParameters``, ``datasetId``,
``replicateId``) followed by immunetwin's own columns (``subject``, ``analyte``, ``value``,
``unit``, ``censoring``, ``limit``...), which PEtab tools ignore and which make the round trip
lossless. For censored records ``measurement`` holds the censoring limit (PEtab has no censoring
column; fitting code must read ``censoring``).

Tables written by other tools are read with ``subject = simulationConditionId``,
``analyte = observableId``, ``value = measurement`` and no censoring.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from immunetwin.errors import DataError

from ._csv import read_sidecar, reader_provenance, write_sidecar
from ._records import FRAME_COLUMNS, Dataset

__all__ = ["PETAB_COLUMNS", "petab_id", "read_petab", "to_petab_frame", "write_petab"]

#: Standard PEtab measurement-table columns, in the order written.
PETAB_COLUMNS: tuple[str, ...] = (
    "observableId",
    "preequilibrationConditionId",
    "simulationConditionId",
    "measurement",
    "time",
    "observableParameters",
    "noiseParameters",
    "datasetId",
    "replicateId",
)
_ID = re.compile(r"^[A-Za-z_]\w*$")


def petab_id(name: str, prefix: str = "x") -> str:
    """Make a valid PEtab identifier (``^[A-Za-z_][A-Za-z0-9_]*$``) from ``name``."""
    if _ID.match(name) and name.isascii():
        return name
    out = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return out if out and (out[0].isalpha() or out[0] == "_") else f"{prefix}_{out}"


def to_petab_frame(dataset: Dataset) -> pd.DataFrame:
    """The measurement table of ``dataset`` (PEtab columns, then immunetwin columns)."""
    tidy = dataset.to_frame()
    value = tidy["value"].to_numpy(dtype=float)
    limit = tidy["limit"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "observableId": [petab_id(a, "obs") for a in tidy["analyte"]],
            "preequilibrationConditionId": "",
            "simulationConditionId": [petab_id(s, "subject") for s in tidy["subject"]],
            "measurement": np.where(np.isnan(value), limit, value),
            "time": tidy["time"],
            "observableParameters": "",
            "noiseParameters": "",
            "datasetId": str(dataset.metadata.get("dataset", "") or ""),
            "replicateId": tidy["sample"],
        }
    )
    for c in FRAME_COLUMNS:
        if c != "time":
            frame[c] = tidy[c]
    return frame


def write_petab(dataset: Dataset, path: str | Path) -> Path:
    """Write a PEtab measurement table (TSV) plus the ``.meta.json`` sidecar."""
    p = Path(path)
    to_petab_frame(dataset).to_csv(p, sep="\t", index=False, quoting=csv.QUOTE_NONNUMERIC)
    write_sidecar(dataset, p)
    return p


def read_petab(path: str | Path, *, unit: str = "") -> Dataset:
    """Read a PEtab measurement table.

    Parameters
    ----------
    path : str or Path
        A TSV file with at least ``observableId``, ``simulationConditionId``, ``measurement``
        and ``time``.
    unit : str
        Unit given to every measurement of a foreign table without a ``unit`` column.

    Raises
    ------
    DataError
        Missing columns or bad cells (the message names the row).
    """
    p = Path(path)
    try:
        raw = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise DataError("no such file", file=str(p)) from None
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse TSV: {exc}", file=str(p)) from None
    need = ("observableId", "simulationConditionId", "measurement", "time")
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise DataError(f"not a PEtab measurement table: missing {missing}", file=str(p))
    ours = "analyte" in raw.columns and "subject" in raw.columns
    tidy: dict[str, Any] = {}
    if ours:
        for c in FRAME_COLUMNS:
            if c in raw.columns:
                tidy[c] = raw[c]
    else:
        meas = []
        for i, m in enumerate(raw["measurement"]):
            try:
                v = float(m)
            except ValueError:
                raise DataError(
                    f"measurement is not a number: {m!r}", file=str(p), row=i + 1
                ) from None
            if math.isinf(v):
                raise DataError("measurement is infinite", file=str(p), row=i + 1)
            meas.append(v)
        tidy = {
            "subject": raw["simulationConditionId"],
            "time": raw["time"],
            "analyte": raw["observableId"],
            "specimen": "",
            "value": meas,
            "unit": raw["unit"] if "unit" in raw.columns else unit,
            "censoring": "none",
            "limit": "",
            "sample": raw["replicateId"] if "replicateId" in raw.columns else "",
        }
        tidy["origin"] = [f"row {i + 1}" for i in range(len(raw))]
    frame = pd.DataFrame(tidy, index=raw.index)
    kwargs = read_sidecar(p) or {}
    upstream = kwargs.pop("provenance", None)
    prov = reader_provenance(p, "immunetwin.data.read_petab", upstream)
    return Dataset.from_frame(frame, provenance=prov, file=str(p), **kwargs)
