"""Real data sets shipped with immunetwin (see ``ATTRIBUTION.md`` for sources and licences)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["KE2022_NASAL", "path"]

_HERE = Path(__file__).resolve().parent

#: Nasal-swab SARS-CoV-2 RNA of the 60 participants of Ke et al. 2022 (Shedding Hub, CC BY 4.0).
KE2022_NASAL = "ke2022daily_nasal.csv"


def path(name: str = KE2022_NASAL) -> Path:
    """Path of a shipped data file."""
    p = _HERE / name
    if not p.exists():
        raise FileNotFoundError(
            f"no package data file '{name}' (have: {sorted(x.name for x in _HERE.glob('*.csv'))})"
        )
    return p
