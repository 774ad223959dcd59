"""Parameter and initial-value tables of a batch: mappings or frames -> the slot matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import ModelError, UnsupportedFeature
from ..model import ModelSpec

if TYPE_CHECKING:
    from ._codegen import CompiledModel

ParamsLike = (
    Mapping[str, float] | Mapping[str, Sequence[float] | np.ndarray[Any, Any]] | pd.DataFrame | None
)


def _table(values: ParamsLike, what: str) -> tuple[int, dict[str, np.ndarray[Any, Any]]]:
    """Normalise a mapping/table of values into (N, columns of length N)."""
    if values is None:
        return 1, {}
    if isinstance(values, pd.DataFrame):
        cols = {str(c): values[c].to_numpy(dtype=float) for c in values.columns}
        return len(values), cols
    cols = {}
    n = None
    for k, v in values.items():
        arr = np.atleast_1d(np.asarray(v, dtype=float))
        if arr.ndim != 1:
            raise ModelError(f"{what} '{k}': expected a number or a 1-D array")
        if n is None or n == 1:
            n = max(n or 1, arr.shape[0])
        elif arr.shape[0] not in (1, n):
            raise ModelError(f"{what} '{k}': {arr.shape[0]} values, expected {n}")
        cols[str(k)] = arr
    n = n or 1
    return n, {
        k: np.broadcast_to(v, (n,)).copy() if v.shape[0] == 1 else v for k, v in cols.items()
    }


def _param_matrix(
    cm: CompiledModel, spec: ModelSpec, params: ParamsLike, initial: ParamsLike
) -> tuple[
    np.ndarray[Any, Any], np.ndarray[Any, Any], tuple[tuple[str, ...], np.ndarray[Any, Any]]
]:
    n_p, pcols = _table(params, "parameter")
    n_i, icols = _table(initial, "initial value")
    if n_p > 1 and n_i > 1 and n_p != n_i:
        raise ModelError(f"params has {n_p} sets but initial has {n_i}")
    n = max(n_p, n_i)
    slot_index = {s: j for j, s in enumerate(cm.slots)}
    ps = np.tile(cm.slot_values, (n, 1))
    for k, col in pcols.items():
        j = slot_index.get(k)
        if j is None or cm.slot_kinds[j] not in ("parameter", "compartment"):
            known = [
                s
                for s, kd in zip(cm.slots, cm.slot_kinds, strict=True)
                if kd in ("parameter", "compartment")
            ]
            raise ModelError(f"model '{spec.id}': unknown parameter '{k}'; parameters: {known}")
        ps[:, j] = col
    x0 = np.full((n, cm.n_states), np.nan)
    species = {s.id: s for s in spec.species}
    for k, col in icols.items():
        j = slot_index.get(k)
        if k not in species or j is None:
            raise ModelError(f"model '{spec.id}': '{k}' is not a species with an initial value")
        s = species[k]
        # the slot holds the declared quantity; the user gives the reported one
        if s.initial_is_amount and not s.has_only_substance_units:
            comp = slot_index.get(s.compartment)
            if comp is None:
                raise UnsupportedFeature(
                    "initial value of a species in a rule-sized compartment", k
                )
            ps[:, j] = col * ps[:, comp]
        elif not s.initial_is_amount and s.has_only_substance_units:
            comp = slot_index.get(s.compartment)
            if comp is None:
                raise UnsupportedFeature(
                    "initial value of a species in a rule-sized compartment", k
                )
            ps[:, j] = col / ps[:, comp]
        else:
            ps[:, j] = col
    shown = [j for j, kd in enumerate(cm.slot_kinds) if kd in ("parameter", "compartment")]
    return ps, x0, (tuple(cm.slots[j] for j in shown), ps[:, shown])
