"""Immutable, labelled simulation results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import SimulationError

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes

__all__ = [
    "MemberFailure",
    "NegativeState",
    "Trajectory",
    "find_negative_states",
    "member_failures",
]


@dataclass(frozen=True, slots=True)
class MemberFailure:
    """A batch member whose simulation failed."""

    member: int
    reason: str
    time: float


def member_failures(
    status: np.ndarray[Any, Any],
    t_reached: np.ndarray[Any, Any],
    messages: Mapping[int, str],
    *,
    unknown: str = "status",
) -> tuple[MemberFailure, ...]:
    """The failed members of a batch from its kernel status codes (0 = success) and the times
    reached; a code without a message reads ``"{unknown} {code}"``."""
    return tuple(
        MemberFailure(
            int(i), messages.get(int(status[i]), f"{unknown} {int(status[i])}"), float(t_reached[i])
        )
        for i in np.flatnonzero(status != 0)
    )


@dataclass(frozen=True, slots=True)
class NegativeState:
    """A species of a batch member that went meaningfully negative.

    ``value`` is the most negative value it reached and ``time`` the output time it was reached.
    """

    member: int
    state: str
    value: float
    time: float


NEGATIVE_ATOL_FACTOR = 100.0
"""A species is negative when below ``-max(NEGATIVE_ATOL_FACTOR * atol, NEGATIVE_RTOL * scale)``."""
NEGATIVE_RTOL = 1e-6
"""... where ``scale`` is the largest magnitude of that species over the member's trajectory."""


def find_negative_states(
    values: np.ndarray[Any, Any],
    times: np.ndarray[Any, Any],
    names: Sequence[str],
    kinds: Sequence[str],
    *,
    atol: float,
    columns: np.ndarray[Any, Any] | None = None,
) -> tuple[NegativeState, ...]:
    """The species outputs that went meaningfully negative, one record per member and species.

    A species of member ``i`` is flagged when its smallest value is below ``-tol`` with
    ``tol = max(100 * atol, 1e-6 * max |trajectory|)`` (over that member's trajectory of that
    species), so solver round-off around zero is not flagged. Only outputs of kind
    ``"species"`` are checked (observables, parameters and other outputs may be negative); NaN
    rows (failed members) are skipped.

    Parameters
    ----------
    values
        Outputs, shape ``(N, T, m)``.
    times
        Output times, shape ``(T,)``.
    names, kinds
        Name and kind of each output column.
    atol
        The solver's absolute tolerance.
    columns
        Precomputed indices of the species columns (default: from ``kinds``).
    """
    cols = (
        np.asarray([j for j, k in enumerate(kinds) if k == "species"], dtype=np.int64)
        if columns is None
        else columns
    )
    if cols.size == 0 or values.size == 0:
        return ()
    floor = NEGATIVE_ATOL_FACTOR * atol
    # cheap exit: no output at all below the absolute floor (one min over contiguous memory;
    # NaN rows of failed members make it NaN, and fall through)
    if float(np.min(values)) >= -floor:
        return ()
    first, last = int(cols[0]), int(cols[-1])
    contiguous = cols.size == last - first + 1 and bool(np.all(np.diff(cols) == 1))
    v = values[:, :, first : last + 1] if contiguous else values[:, :, cols]
    # species only (observables may be negative); fmin skips NaN
    if not float(np.fmin.reduce(v, axis=None)) < -floor:
        return ()
    low = np.fmin.reduce(v, axis=1)  # (N, k), NaN only where all NaN
    members = np.flatnonzero(np.any(low < -floor, axis=1))
    low = low[members]
    high = np.fmax.reduce(v[members], axis=1)
    scale = np.maximum(np.abs(low), np.abs(high))
    tol = np.maximum(floor, NEGATIVE_RTOL * np.where(np.isfinite(scale), scale, 0.0))
    hit = low < -tol
    out = []
    for a, c in zip(*np.nonzero(hit), strict=True):
        i = members[a]
        col = v[i, :, c]
        k = int(np.nanargmin(col))
        out.append(NegativeState(int(i), names[int(cols[c])], float(col[k]), float(times[k])))
    return tuple(out)


def _readonly(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The result of :func:`~immunetwin.simulate.simulate`: one or a batch of trajectories.

    Attributes
    ----------
    model : str
        The model id.
    times : numpy.ndarray
        Output times, shape ``(T,)``.
    names : tuple of str
        Output names (species, observables and requested extra ids), in column order.
    values : numpy.ndarray
        Shape ``(N, T, m)``; rows of failed members are NaN (see :attr:`failures`).
    param_names : tuple of str
        Ids of the parameters (and compartments) in :attr:`param_values`.
    param_values : numpy.ndarray
        Shape ``(N, P)``: the N parameter sets used (see :attr:`params` for a table).
    sensitivity_params : tuple of str
        Parameters of the sensitivities (empty when none were asked for).
    sensitivities : numpy.ndarray or None
        ``d values / d param``, shape ``(N, T, m, k)``.
    failures : tuple of MemberFailure
        The members that failed.
    negatives : tuple of NegativeState
        The species that went meaningfully negative, per member (with the most negative value
        and its time); :attr:`negative_states` lists their names.
    backend : str
        The backend that computed it.
    """

    model: str
    times: np.ndarray[Any, Any]
    names: tuple[str, ...]
    values: np.ndarray[Any, Any]
    param_names: tuple[str, ...]
    param_values: np.ndarray[Any, Any]
    sensitivity_params: tuple[str, ...] = ()
    sensitivities: np.ndarray[Any, Any] | None = None
    failures: tuple[MemberFailure, ...] = ()
    backend: str = "compiled"
    kinds: tuple[str, ...] = field(default=())
    """Kind of each output: ``"species"``, ``"observable"``, ``"parameter"``, ``"compartment"``..."""
    negatives: tuple[NegativeState, ...] = ()
    """Species that went meaningfully negative, one record per member and species (see
    :attr:`negative_states`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", _readonly(np.asarray(self.times, dtype=float)))
        object.__setattr__(self, "values", _readonly(np.asarray(self.values, dtype=float)))
        if self.sensitivities is not None:
            object.__setattr__(self, "sensitivities", _readonly(self.sensitivities))
        object.__setattr__(
            self, "param_values", _readonly(np.asarray(self.param_values, dtype=float))
        )
        n, t, m = self.values.shape
        if t != self.times.shape[0] or m != len(self.names):
            raise ValueError("Trajectory: values shape does not match times and names")

    @property
    def params(self) -> pd.DataFrame:
        """The N parameter sets used, one row each, columns by parameter id."""
        return pd.DataFrame(self.param_values, columns=list(self.param_names))

    # ------------------------------------------------------------------ shape
    @property
    def n_members(self) -> int:
        """Number of trajectories in the batch."""
        return int(self.values.shape[0])

    @property
    def ok(self) -> np.ndarray[Any, Any]:
        """Boolean mask of members that succeeded."""
        mask = np.ones(self.n_members, dtype=bool)
        for f in self.failures:
            mask[f.member] = False
        return mask

    @property
    def negative_states(self) -> tuple[str, ...]:
        """Names of the species that went meaningfully negative in any member (empty if none).

        In output order; see :attr:`negatives` for the members, values and times.
        """
        hit = {r.state for r in self.negatives}
        return tuple(n for n in self.names if n in hit)

    def raise_on_failure(self) -> None:
        """Raise :class:`SimulationError` for the first failed member, if any."""
        if self.failures:
            f = self.failures[0]
            more = f" ({len(self.failures)} members failed)" if len(self.failures) > 1 else ""
            raise SimulationError(
                f.reason + more,
                model=self.model,
                member=f.member if self.n_members > 1 else None,
                time=f.time,
                params=dict(
                    zip(self.param_names, map(float, self.param_values[f.member]), strict=True)
                ),
            )

    def index(self, name: str) -> int:
        """Column index of output ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"'{name}' is not an output of model '{self.model}'; outputs: {list(self.names)}"
            ) from None

    def __getitem__(self, name: str) -> np.ndarray[Any, Any]:
        """Values of output ``name``: shape ``(T,)`` for one member, else ``(N, T)``."""
        col = self.values[:, :, self.index(name)]
        return col[0] if self.n_members == 1 else col

    def sensitivity(self, output: str, param: str) -> np.ndarray[Any, Any]:
        """``d output / d param`` over time, shape ``(T,)`` for one member else ``(N, T)``."""
        if self.sensitivities is None:
            raise KeyError("no sensitivities were computed; pass sensitivities=[...] to simulate()")
        try:
            k = self.sensitivity_params.index(param)
        except ValueError:
            raise KeyError(f"no sensitivity for parameter '{param}'") from None
        s = self.sensitivities[:, :, self.index(output), k]
        return s[0] if self.n_members == 1 else s

    def member(self, i: int) -> Trajectory:
        """Member ``i`` of a batch as a one-member trajectory."""
        sens = None if self.sensitivities is None else self.sensitivities[i : i + 1]
        fails = tuple(MemberFailure(0, f.reason, f.time) for f in self.failures if f.member == i)
        return Trajectory(
            self.model,
            self.times,
            self.names,
            self.values[i : i + 1],
            self.param_names,
            self.param_values[i : i + 1],
            self.sensitivity_params,
            sens,
            fails,
            self.backend,
            self.kinds,
            tuple(
                NegativeState(0, r.state, r.value, r.time) for r in self.negatives if r.member == i
            ),
        )

    # ------------------------------------------------------------------ export
    def to_pandas(self, *, member: int | None = None) -> pd.DataFrame:
        """A table with a ``time`` column and one column per output.

        For a batch, all members are stacked with a leading ``member`` column unless ``member`` is
        given.
        """
        if self.n_members == 1 or member is not None:
            i = 0 if member is None else member
            df = pd.DataFrame(self.values[i], columns=list(self.names))
            df.insert(0, "time", self.times)
            return df
        object.__setattr__(
            self, "param_values", _readonly(np.asarray(self.param_values, dtype=float))
        )
        n, t, m = self.values.shape
        df = pd.DataFrame(self.values.reshape(n * t, m), columns=list(self.names))
        df.insert(0, "time", np.tile(self.times, n))
        df.insert(0, "member", np.repeat(np.arange(n), t))
        return df

    def to_xarray(self) -> xr.Dataset:
        """An :class:`xarray.Dataset` with dims ``(member, time)`` and one variable per output."""
        import xarray as xr

        data = {
            name: (("member", "time"), self.values[:, :, j]) for j, name in enumerate(self.names)
        }
        ds = xr.Dataset(data, coords={"member": np.arange(self.n_members), "time": self.times})
        for j, col in enumerate(self.param_names):
            ds.coords[f"param_{col}"] = ("member", self.param_values[:, j])
        ds.attrs["model"] = self.model
        ds.attrs["backend"] = self.backend
        ds.attrs["negative_states"] = ",".join(self.negative_states)
        return ds

    def to_csv(self, path: str, **kwargs: Any) -> None:
        """Write :meth:`to_pandas` as CSV."""
        self.to_pandas().to_csv(path, index=False, **kwargs)

    def plot(
        self, names: Sequence[str] | None = None, *, ax: Axes | None = None, logy: bool = False
    ) -> Axes:
        """Plot outputs over time (all members of a batch, thin lines)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        names = list(names) if names is not None else list(self.names)
        alpha = 1.0 if self.n_members == 1 else max(0.05, 1.0 / np.sqrt(self.n_members))
        for j, name in enumerate(names):
            col = self.index(name)
            color = f"C{j % 10}"
            for i in range(self.n_members):
                ax.plot(
                    self.times,
                    self.values[i, :, col],
                    color=color,
                    alpha=alpha,
                    label=name if i == 0 else None,
                    lw=1.5 if self.n_members == 1 else 0.7,
                )
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("time")
        ax.set_title(self.model)
        ax.legend(loc="best", fontsize="small")
        return ax

    def __repr__(self) -> str:
        return (
            f"Trajectory(model={self.model!r}, members={self.n_members}, times={len(self.times)}, "
            f"outputs={len(self.names)}, failures={len(self.failures)}, backend={self.backend!r}"
            + (f", negative_states={self.negative_states!r}" if self.negatives else "")
            + ")"
        )
