"""Checks of command-line arguments: each bad value becomes a one-line :class:`CliError`.

The limits keep the work of one command bounded: a time grid has at most :data:`MAX_POINTS`
points and its times lie within ``[-MAX_TIME, MAX_TIME]``.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import ImmunetwinError

__all__ = [
    "MAX_POINTS",
    "MAX_TIME",
    "PLOT_SUFFIXES",
    "CliError",
    "check_finite",
    "check_grid",
    "check_plot_path",
    "check_tolerance",
]

#: Most output times of one simulation grid.
MAX_POINTS = 1_000_000
#: Largest absolute time accepted (model time units).
MAX_TIME = 1e9
#: File types a plot can be saved as.
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


class CliError(ImmunetwinError):
    """A bad command-line argument (reported on one line, exit code 2)."""


def check_finite(option: str, value: float) -> float:
    """``value`` if it is a finite number, else a :class:`CliError` naming ``option``."""
    if not math.isfinite(value):
        raise CliError(f"{option} {value!r}: must be a finite number")
    return value


def check_tolerance(option: str, value: float, *, upper: float = 1.0) -> float:
    """A solver tolerance: finite, > 0 and < ``upper``."""
    check_finite(option, value)
    if not 0.0 < value < upper:
        raise CliError(f"{option} {value!r}: must be > 0 and < {upper:g}")
    return value


def check_grid(t_start: float, t_end: float, points: int) -> None:
    """A bounded output grid: finite times within ``MAX_TIME``, ``t_end > t_start``, points bounded."""
    for option, value in (("--t-start", t_start), ("--t-end", t_end)):
        check_finite(option, value)
        if abs(value) > MAX_TIME:
            raise CliError(f"{option} {value:g}: must lie within +-{MAX_TIME:g}")
    if not t_end > t_start:
        raise CliError(f"--t-end ({t_end:g}) must be greater than --t-start ({t_start:g})")
    if not 2 <= points <= MAX_POINTS:
        raise CliError(f"--points {points}: must be between 2 and {MAX_POINTS}")


def check_plot_path(option: str, path: Path) -> Path:
    """A plot file whose suffix names a supported format (PNG, SVG or PDF)."""
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise CliError(
            f"{option} {str(path)!r}: unsupported plot type {path.suffix or '(none)'!r} "
            f"(use {', '.join(PLOT_SUFFIXES)})"
        )
    if path.exists() and path.is_dir():
        raise CliError(f"{option} {str(path)!r}: is a directory")
    return path
