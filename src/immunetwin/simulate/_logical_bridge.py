"""A bridge from logical modules to mechanistic (ODE) models.

A logical model run as a population of cells (:func:`stochastic_logical`) gives the
probability of a phenotype; a :class:`PhenotypeCoupling` maps that probability linearly onto a
parameter of an ODE :class:`~immunetwin.model.ModelSpec` (``low`` at probability 0, ``high`` at
probability 1). :func:`couple` returns the ODE spec with the coupled parameter values, ready for
:func:`simulate` or a digital twin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..model import ModelSpec
from ._logical_stochastic import PhenotypeProbabilities

__all__ = ["PhenotypeCoupling", "couple", "coupled_values"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PhenotypeCoupling:
    """``parameter = low + (high - low) * P(phenotype at time at)``.

    ``at`` is a time of the stochastic result (default: its last time).
    """

    phenotype: str
    parameter: str
    low: float
    high: float
    at: float | None = None


def coupled_values(
    result: PhenotypeProbabilities, couplings: Sequence[PhenotypeCoupling]
) -> dict[str, float]:
    """The parameter values that ``couplings`` read from ``result``."""
    out: dict[str, float] = {}
    for c in couplings:
        p = result.probability(c.phenotype)
        if c.at is None:
            k = p.size - 1
        else:
            hits = np.flatnonzero(np.isclose(result.times, c.at))
            if hits.size == 0:
                raise ModelError(f"coupling '{c.parameter}': time {c.at:g} is not an output time")
            k = int(hits[0])
        out[c.parameter] = float(c.low + (c.high - c.low) * p[k])
    return out


def couple(
    spec: ModelSpec, result: PhenotypeProbabilities, couplings: Sequence[PhenotypeCoupling]
) -> ModelSpec:
    """``spec`` with each coupled parameter set from the phenotype probabilities in ``result``."""
    return spec.with_parameters(coupled_values(result, couplings))
