"""Curation helpers: detection-limit placeholders among reported values.

Some data sets report results under the detection limit as the limit itself (e.g. 900 copies/mL
for every negative swab) instead of marking them censored. A model then treats each of them as a
measured value, which biases fits and forecasts. :func:`find_limit_placeholder` spots the pattern:
the most extreme reported value of an analyte (the smallest; the largest for Ct) repeated far more
often than any other value. :func:`censor_placeholder` turns those records into censored ones, with
the value as their limit, and records the step in the provenance.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace

from ..errors import DataError
from ._records import Censoring, Dataset, Observation

__all__ = ["LimitPlaceholder", "censor_placeholder", "find_limit_placeholder"]


@dataclass(frozen=True)
class LimitPlaceholder:
    """A value that looks like a detection limit reported as a measurement.

    Attributes
    ----------
    analyte : str
        Analyte.
    value : float
        The repeated extreme value (data unit).
    count : int
        Uncensored records equal to it.
    total : int
        Uncensored records of the analyte.
    runner_up : int
        How often the next most frequent value occurs.
    side : Censoring
        ``LEFT`` (the limit is a floor) or ``RIGHT`` (a ceiling, for Ct).
    """

    analyte: str
    value: float
    count: int
    total: int
    runner_up: int
    side: Censoring


def _reported(ds: Dataset, analyte: str) -> list[Observation]:
    return [
        o
        for o in ds.observations
        if o.analyte == analyte
        and o.censoring is Censoring.NONE
        and o.value is not None
        and math.isfinite(o.value)
    ]


def _key(v: float) -> float:
    return float(f"{v:.9g}")  # equal as reported, not as rounded by a unit conversion


def find_limit_placeholder(
    dataset: Dataset,
    analyte: str,
    *,
    min_count: int = 10,
    min_share: float = 0.05,
    dominance: float = 5.0,
) -> LimitPlaceholder | None:
    """The analyte's limit placeholder, if its values show one (else ``None``).

    A placeholder is the smallest reported value (the largest for Ct) when it occurs at least
    ``min_count`` times, in at least ``min_share`` of the reported values, and at least
    ``dominance`` times as often as any other value.
    """
    obs = _reported(dataset, analyte)
    if len(obs) < min_count:
        return None
    is_ct = any(o.unit == "Ct" for o in obs)
    counts = Counter(_key(float(o.value)) for o in obs if o.value is not None)
    extreme = max(counts) if is_ct else min(counts)
    n = counts[extreme]
    others = [c for v, c in counts.items() if v != extreme]
    runner_up = max(others, default=0)
    if n < min_count or n < min_share * len(obs) or n < dominance * max(runner_up, 1):
        return None
    side = Censoring.RIGHT if is_ct else Censoring.LEFT
    return LimitPlaceholder(analyte, extreme, n, len(obs), runner_up, side)


def censor_placeholder(
    dataset: Dataset, analyte: str, value: float | None = None
) -> tuple[Dataset, int]:
    """Mark the records reported at a limit placeholder as censored at that limit.

    Parameters
    ----------
    dataset
        The data.
    analyte
        Analyte whose placeholder records are censored.
    value
        The placeholder (data unit); default: the one :func:`find_limit_placeholder` finds.

    Returns
    -------
    (Dataset, int)
        The new data set (a provenance step names the value and the count) and the number of
        records changed.

    Raises
    ------
    DataError
        If ``value`` is not given and the analyte shows no placeholder.
    """
    if analyte not in dataset.analyte_names:
        raise DataError(f"no analyte '{analyte}' (have {list(dataset.analyte_names)})")
    if value is None:
        found = find_limit_placeholder(dataset, analyte)
        if found is None:
            raise DataError(f"analyte '{analyte}': no detection-limit placeholder among its values")
        value, side = found.value, found.side
    else:
        is_ct = any(o.unit == "Ct" for o in _reported(dataset, analyte))
        side = Censoring.RIGHT if is_ct else Censoring.LEFT
    target = _key(float(value))
    changed = 0
    out: list[Observation] = []
    for o in dataset.observations:
        if (
            o.analyte == analyte
            and o.censoring is Censoring.NONE
            and o.value is not None
            and _key(float(o.value)) == target
        ):
            out.append(replace(o, value=None, censoring=side, limit=float(value)))
            changed += 1
        else:
            out.append(o)
    step = (
        f"curation: {changed} '{analyte}' records reported at {value:g} (a detection-limit "
        f"placeholder) marked {side.value}-censored at that limit"
    )
    return dataset.with_step(step, observations=tuple(out)), changed
