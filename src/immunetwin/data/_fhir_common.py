"""Shared pieces of the FHIR R4 mapping: code systems, the extension namespace, the LOINC map.

Used by :mod:`immunetwin.data._fhir_write` and :mod:`immunetwin.data._fhir_read`; the mapping
itself is described in :mod:`immunetwin.data._fhir`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_LOINC",
    "EXT",
    "LOINC",
    "UCUM",
]

EXT = "https://immunetwin.org/fhir/StructureDefinition/"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
_ANALYTE_SYSTEM = "urn:immunetwin:analyte"
_SUBJECT_SYSTEM = "urn:immunetwin:subject"
_INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

#: Analyte (or ``"biomarker|unit"``, or biomarker) -> (LOINC code, display). Extend a copy and
#: pass it as ``loinc=`` to :func:`~immunetwin.data.to_fhir_bundle`.
DEFAULT_LOINC: dict[str, tuple[str, str]] = {
    "SARS-CoV-2|Ct": (
        "94745-7",
        "SARS-CoV-2 (COVID-19) RNA [Cycle Threshold #] in Respiratory specimen by NAA with "
        "probe detection",
    ),
    "HIV-1 RNA": ("20447-9", "HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA"),
    "CD4+ T cells": ("24467-3", "CD3+CD4+ (T4 helper) cells [#/volume] in Blood"),
    "IL-6": ("26881-3", "Interleukin 6 [Mass/volume] in Serum or Plasma"),
}


def _ext(name: str, key: str, value: Any) -> dict[str, Any]:
    """An immunetwin extension ``{"url": EXT + name, key: value}``."""
    return {"url": EXT + name, key: value}


def _exts(res: Mapping[str, Any]) -> dict[str, Any]:
    """Values of the immunetwin extensions of a resource, by name (without :data:`EXT`)."""
    out: dict[str, Any] = {}
    for e in res.get("extension") or []:
        url = str(e.get("url", ""))
        if url.startswith(EXT):
            vals = [v for k, v in e.items() if k.startswith("value")]
            out[url[len(EXT) :]] = vals[0] if vals else None
    return out
