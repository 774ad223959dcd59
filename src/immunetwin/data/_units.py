"""Units (pint), UCUM codes and Ct <-> log10 copies standard curves.

Every observation carries a unit string. Strings are normalised to a small canonical vocabulary
(``copies/mL``, ``copies/swab``, ``Ct``, ``log10 TCID50/mL``, ``pg/mL``, ``cells/uL``...) and
parsed by a :class:`pint.UnitRegistry` extended with counting units of virology (``copies``,
``TCID50``, ``PFU``, ``vp``, ``cells``) and per-specimen denominators (``swab``, ``reaction``,
``wet_gram``, ``dry_gram``, ``ng_hDNA``) that are deliberately *not* convertible to one another.

A ``log10 `` prefix marks a value on the decimal logarithmic scale of the unit that follows.
Cycle thresholds (``Ct``) are a unit of their own; they convert to copies only through an
explicit, assay-specific :class:`StandardCurve` (there is no default curve).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pint

from immunetwin.errors import DataError

__all__ = [
    "STANDARD_CURVES",
    "UNIT_ALIASES",
    "ParsedUnit",
    "StandardCurve",
    "analyte_unit_problem",
    "convert_value",
    "is_known_unit",
    "normalize_unit",
    "parse_unit",
    "ucum_code",
    "unit_registry",
]

#: Aliases (as found in sources) -> canonical unit strings. Extend freely.
UNIT_ALIASES: dict[str, str] = {
    "gc/mL": "copies/mL",
    "gc/ml": "copies/mL",
    "gc/swab": "copies/swab",
    "gc/wet gram": "copies/wet_gram",
    "gc/dry gram": "copies/dry_gram",
    "gc/reaction": "copies/reaction",
    "gc/ng": "copies/ng",
    "gc/ng hDNA": "copies/ng_hDNA",
    "cycle threshold": "Ct",
    "ct": "Ct",
    "CT": "Ct",
    "pfu/mL": "PFU/mL",
    "copies/ml": "copies/mL",
    "cells/µL": "cells/uL",
    "cells/μL": "cells/uL",
    "pg/ml": "pg/mL",
    "percent": "%",
}

_DEFINITIONS = (
    "copies = [genome_copies] = gc = copy = GE",
    "TCID50 = [infectious_dose_50]",
    "PFU = [plaque_forming_unit] = pfu",
    "vp = [virus_particle]",
    "cells = [cell] = cell",
    "swab = [swab]",
    "reaction = [reaction]",
    "wet_gram = [wet_mass]",
    "dry_gram = [dry_mass]",
    "ng_hDNA = [human_dna]",
    "Ct = [cycle_threshold]",
    "IU = [international_unit]",
)

#: UCUM codes of canonical units (case-sensitive UCUM; curly braces are annotations).
_UCUM: dict[str, str] = {
    "copies/mL": "{copies}/mL",
    "copies/swab": "{copies}/{swab}",
    "copies/wet_gram": "{copies}/g{wet}",
    "copies/dry_gram": "{copies}/g{dry}",
    "copies/reaction": "{copies}/{reaction}",
    "copies/ng": "{copies}/ng",
    "copies/ng_hDNA": "{copies}/ng{hDNA}",
    "Ct": "{Ct}",
    "PFU/mL": "[PFU]/mL",
    "vp/mL": "{vp}/mL",
    "TCID50/mL": "{TCID50}/mL",
    "pg/mL": "pg/mL",
    "ng/mL": "ng/mL",
    "cells/uL": "/uL",
    "cells": "{cells}",
    "%": "%",
    "mg": "mg",
    "mg/kg": "mg/kg",
    "dimensionless": "1",
}


#: UCUM codes (and common UCUM-style spellings) -> canonical units.
UCUM_ALIASES: dict[str, str] = {
    **{code: unit for unit, code in _UCUM.items() if code not in ("1", "%")},
    "{copies}/L": "copies/L",
    "{copies}/uL": "copies/uL",
    "{cells}/uL": "cells/uL",
    "{cells}/mL": "cells/mL",
    "[IU]/mL": "IU/mL",
    "[iU]/mL": "IU/mL",
    "{Ct_value}": "Ct",
    "{cycle_threshold}": "Ct",
}
UNIT_ALIASES.update(UCUM_ALIASES)

#: Dimensions an analyte quantity may count or weigh (the numerator of its unit).
_AMOUNT_DIMS = frozenset(
    {
        "[genome_copies]",
        "[infectious_dose_50]",
        "[plaque_forming_unit]",
        "[virus_particle]",
        "[cell]",
        "[international_unit]",
        "[mass]",
        "[substance]",
    }
)
#: Dimensions an analyte quantity may be expressed per (the denominator of its unit).
_PER_DIMS = frozenset(
    {
        "[length]",  # per volume ([length]^-3)
        "[swab]",
        "[reaction]",
        "[wet_mass]",
        "[dry_mass]",
        "[mass]",
        "[human_dna]",
        "[cell]",
    }
)


@lru_cache(maxsize=1)
def unit_registry() -> Any:
    """The shared pint registry, extended with virology counting units.

    Returns
    -------
    pint.UnitRegistry
        A registry in which ``copies``, ``TCID50``, ``PFU``, ``vp``, ``cells``, ``swab``,
        ``reaction``, ``wet_gram``, ``dry_gram``, ``ng_hDNA``, ``Ct`` and ``IU`` are defined.
    """
    ureg: Any = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    for line in _DEFINITIONS:
        ureg.define(line)
    return ureg


@dataclass(frozen=True, slots=True)
class ParsedUnit:
    """A parsed unit string.

    Attributes
    ----------
    text : str
        The canonical unit string.
    log10 : bool
        True when values are decimal logarithms of quantities in ``unit``.
    unit : pint.Unit
        The (linear) pint unit.
    """

    text: str
    log10: bool
    unit: Any


def normalize_unit(unit: str) -> str:
    """Map a unit string from a source to the canonical vocabulary.

    Parameters
    ----------
    unit : str
        A unit as written by a source, e.g. ``"gc/mL"`` or ``"cycle threshold"``.

    Returns
    -------
    str
        The canonical string (``"copies/mL"``, ``"Ct"``...); unknown strings come back stripped
        and unchanged (check them with :func:`is_known_unit`).
    """
    text = unit.strip()
    prefix = ""
    if text.lower().startswith("log10 "):
        prefix, text = "log10 ", text[6:].strip()
    elif text.startswith("{log10}"):  # as written by ucum_code
        prefix, text = "log10 ", text[7:].strip()
    return prefix + UNIT_ALIASES.get(text, text)


@lru_cache(maxsize=512)
def _parse(text: str) -> ParsedUnit:
    canonical = normalize_unit(text)
    log10 = canonical.startswith("log10 ")
    inner = canonical[6:] if log10 else canonical
    if inner in ("", "1", "dimensionless"):
        return ParsedUnit(canonical, log10, unit_registry().dimensionless)
    try:
        parsed = unit_registry().parse_units(inner.replace("%", "percent"))
    except Exception as exc:  # pint raises several unrelated types
        raise DataError(f"unknown unit {text!r} ({type(exc).__name__})") from None
    return ParsedUnit(canonical, log10, parsed)


def parse_unit(unit: str) -> ParsedUnit:
    """Parse a unit string.

    Parameters
    ----------
    unit : str
        A unit string, optionally prefixed by ``"log10 "``.

    Returns
    -------
    ParsedUnit

    Raises
    ------
    DataError
        If the unit is not known to the registry.
    """
    if not isinstance(unit, str):
        raise DataError(f"unit must be a string, got {type(unit).__name__}")
    return _parse(unit)


def analyte_unit_problem(unit: str) -> str | None:
    """Why ``unit`` cannot be the unit of a measured analyte, or ``None`` when it can.

    An analyte unit is unknown to the registry when it does not parse; it is dimensionally
    inconsistent unless it is dimensionless (``Ct``, ``%``, a ratio, a titre) or an amount
    (copies, TCID50, PFU, virus particles, cells, IU, mass or substance) per volume, per
    specimen unit (swab, reaction, gram of stool, ng of human DNA), per mass or per cell.
    ``furlongs/fortnight`` (a speed) or ``s`` (a time) are not.

    Parameters
    ----------
    unit : str
        A unit string (UCUM spellings such as ``{copies}/mL`` are accepted).

    Returns
    -------
    str or None
        A one-line reason, or ``None``.
    """
    try:
        parsed = parse_unit(unit)
    except DataError:
        return f"unknown unit {unit!r}"
    dims = dict(parsed.unit.dimensionality)
    if not dims or dims == {"[cycle_threshold]": 1}:
        return None
    up = {d: e for d, e in dims.items() if e > 0}
    down = {d: e for d, e in dims.items() if e < 0}
    amount = len(up) == 1 and all(d in _AMOUNT_DIMS and e == 1 for d, e in up.items())
    per = all(d in _PER_DIMS and e == (-3 if d == "[length]" else -1) for d, e in down.items())
    if amount and per:
        return None
    return (
        f"unit {unit!r} ({parsed.unit.dimensionality}) is not an amount per volume, specimen "
        "or mass, nor dimensionless"
    )


def is_known_unit(unit: str) -> bool:
    """Return whether ``unit`` parses (see :func:`parse_unit`)."""
    try:
        parse_unit(unit)
    except DataError:
        return False
    return True


def ucum_code(unit: str) -> str:
    """UCUM code of a canonical unit (log-scale units get a ``{log10}`` annotation).

    Parameters
    ----------
    unit : str
        A unit string.

    Returns
    -------
    str
        A UCUM code; units without a table entry are returned as written between braces.
    """
    canonical = normalize_unit(unit)
    if canonical.startswith("log10 "):
        return "{log10}" + _UCUM.get(canonical[6:], "{" + canonical[6:] + "}")
    return _UCUM.get(canonical, "{" + canonical + "}")


def convert_value(value: Any, from_unit: str, to_unit: str) -> Any:
    """Convert values between units, including linear <-> ``log10`` scales.

    Parameters
    ----------
    value : float or numpy.ndarray
        Value(s) in ``from_unit``.
    from_unit, to_unit : str
        Unit strings; their linear parts must have the same dimensionality.

    Returns
    -------
    float or numpy.ndarray
        Value(s) in ``to_unit``.

    Raises
    ------
    DataError
        If a unit is unknown or the units are not convertible (e.g. ``Ct`` to ``copies/mL``:
        use a :class:`StandardCurve`).
    """
    src, dst = parse_unit(from_unit), parse_unit(to_unit)
    try:
        factor = float((1.0 * src.unit).to(dst.unit).magnitude)
    except pint.DimensionalityError:
        raise DataError(f"cannot convert {from_unit!r} to {to_unit!r}") from None
    arr = np.asarray(value, dtype=float)
    linear = np.power(10.0, arr) if src.log10 else arr
    out = linear * factor
    if dst.log10:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log10(out)
    if src.log10 and dst.log10:  # exact, avoids round-off
        out = arr + math.log10(factor)
    return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True, slots=True)
class StandardCurve:
    """An assay-specific qPCR standard curve linking Ct to log10 copies.

    ``Ct = intercept + slope * (log10(copies per mL) - log10_factor)``, i.e.
    ``log10(copies/mL) = (Ct - intercept) / slope + log10_factor``.

    Attributes
    ----------
    name : str
        Identifier of the curve (recorded in provenance when applied).
    slope : float
        Cycles per decade (negative; -3.32 is 100 % efficiency).
    intercept : float
        Ct of one copy per reaction (or per the curve's reference volume).
    log10_factor : float
        log10 of the factor turning the curve's reference amount into copies per mL.
    unit : str
        Unit of the converted values (``"log10 copies/mL"`` by default).
    source : str
        Citation or DOI of the curve.
    """

    name: str
    slope: float
    intercept: float
    log10_factor: float = 0.0
    unit: str = "log10 copies/mL"
    source: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.slope) and self.slope < 0):
            raise DataError(f"standard curve {self.name!r}: slope must be negative and finite")
        if not (math.isfinite(self.intercept) and math.isfinite(self.log10_factor)):
            raise DataError(f"standard curve {self.name!r}: intercept/factor must be finite")
        if not parse_unit(self.unit).log10:
            raise DataError(f"standard curve {self.name!r}: unit must be a log10 unit")

    @property
    def efficiency(self) -> float:
        """Amplification efficiency, ``10**(-1/slope) - 1`` (1.0 = 100 %)."""
        return float(10.0 ** (-1.0 / self.slope) - 1.0)

    def ct_to_log10(self, ct: Any) -> Any:
        """Convert Ct value(s) to log10 copies (in :attr:`unit`)."""
        out = (np.asarray(ct, dtype=float) - self.intercept) / self.slope + self.log10_factor
        return float(out) if np.ndim(out) == 0 else out

    def log10_to_ct(self, log10_copies: Any) -> Any:
        """Convert log10 copies (in :attr:`unit`) to Ct value(s)."""
        arr = np.asarray(log10_copies, dtype=float)
        out = self.intercept + self.slope * (arr - self.log10_factor)
        return float(out) if np.ndim(out) == 0 else out


#: Published curves a user may pick explicitly (never applied by default).
STANDARD_CURVES: dict[str, StandardCurve] = {
    "kissler2021": StandardCurve(
        name="kissler2021",
        slope=-3.609714,
        intercept=40.93733,
        log10_factor=math.log10(250.0),
        unit="log10 copies/mL",
        source="Kissler et al. PLoS Biol 2021, doi:10.1371/journal.pbio.3001333 "
        "(github.com/gradlab/CtTrajectories: (Ct-40.93733)/(-3.609714)+log10(250))",
    ),
    "generic": StandardCurve(
        name="generic",
        slope=-1.0 / math.log10(2.0),
        intercept=40.0,
        unit="log10 copies/mL",
        source="assumed, not an assay's curve: 100 % amplification efficiency (a doubling per "
        "cycle) and Ct 40 at 1 copy/mL; copy numbers derived with it are relative, for data whose "
        "assay curve is unknown",
    ),
}
