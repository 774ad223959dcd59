"""Continuous-time stochastic simulation of logical models (MaBoSS-like semantics).

Each species has an up rate and a down rate. In state ``x`` a species whose target level is
above its level moves up one level at its up rate, one whose target is below moves down at its
down rate; the next move is drawn by Gillespie's direct method. A population of independent
cells gives, on a time grid, the probability of each phenotype (a partial state) and the mean
level of each species. The kernel is compiled with numba.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from ..model import LogicalModelSpec
from ._logical_compile import compile_network

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["PhenotypeProbabilities", "stochastic_logical"]


@dataclass(frozen=True, eq=False)
class PhenotypeProbabilities:
    """Phenotype probabilities and mean levels over time for a population of cells.

    Attributes
    ----------
    probabilities
        Shape ``(len(times), len(phenotypes))``: fraction of cells in each phenotype.
    mean_levels
        Shape ``(len(times), len(species))``: mean level of each species.
    """

    model: str
    species: tuple[str, ...]
    phenotypes: tuple[str, ...]
    times: NDArray[np.float64]
    probabilities: NDArray[np.float64]
    mean_levels: NDArray[np.float64]
    n_cells: int
    seed: int

    def probability(self, phenotype: str) -> NDArray[np.float64]:
        """Probability of ``phenotype`` at each time."""
        if phenotype not in self.phenotypes:
            raise ModelError(f"no phenotype '{phenotype}' (known: {', '.join(self.phenotypes)})")
        return self.probabilities[:, self.phenotypes.index(phenotype)]

    def to_pandas(self) -> pd.DataFrame:
        """Probabilities (one column per phenotype) and mean levels (``mean:<species>``) by time."""
        import pandas as pd

        df = pd.DataFrame(self.probabilities, columns=list(self.phenotypes), index=self.times)
        means = pd.DataFrame(
            self.mean_levels, columns=[f"mean:{s}" for s in self.species], index=self.times
        )
        out = pd.concat([df, means], axis=1)
        out.index.name = "time"
        return out

    def plot(self, ax: Axes | None = None) -> Axes:
        """Phenotype probabilities against time."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        for k, name in enumerate(self.phenotypes):
            ax.plot(self.times, self.probabilities[:, k], label=name)
        ax.set_xlabel("time")
        ax.set_ylabel("probability")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{self.model}: {self.n_cells} cells")
        ax.legend()
        return ax


@numba.njit(cache=True)
def _target(x, i, reg_ptr, regulators, strides, tab_ptr, tables):
    idx = 0
    for k in range(reg_ptr[i], reg_ptr[i + 1]):
        idx += x[regulators[k]] * strides[k]
    return tables[tab_ptr[i] + idx]


@numba.njit(cache=True)
def _gillespie(
    x0, p_on, reg_ptr, regulators, strides, tab_ptr, tables, up, down, times, pheno, n_cells, seed
):
    np.random.seed(seed)
    n = x0.size
    n_t = times.size
    n_p = pheno.shape[0]
    counts = np.zeros((n_t, n_p), dtype=np.float64)
    sums = np.zeros((n_t, n), dtype=np.float64)
    rates = np.zeros(n, dtype=np.float64)
    x = np.empty(n, dtype=np.int64)
    for _cell in range(n_cells):
        for i in range(n):
            x[i] = x0[i]
            if p_on[i] >= 0.0:
                x[i] = 1 if np.random.random() < p_on[i] else 0
        t = 0.0
        ti = 0
        while ti < n_t:
            total = 0.0
            for i in range(n):
                tgt = _target(x, i, reg_ptr, regulators, strides, tab_ptr, tables)
                r = up[i] if tgt > x[i] else (down[i] if tgt < x[i] else 0.0)
                rates[i] = r
                total += r
            t_next = np.inf if total <= 0.0 else t - np.log(1.0 - np.random.random()) / total
            while ti < n_t and times[ti] < t_next:
                for i in range(n):
                    sums[ti, i] += x[i]
                for p in range(n_p):
                    ok = True
                    for i in range(n):
                        if pheno[p, i] >= 0 and pheno[p, i] != x[i]:
                            ok = False
                            break
                    if ok:
                        counts[ti, p] += 1.0
                ti += 1
            if ti >= n_t:
                break
            t = t_next
            u = np.random.random() * total
            acc = 0.0
            pick = n - 1
            for i in range(n):
                acc += rates[i]
                if u < acc and rates[i] > 0.0:
                    pick = i
                    break
            tgt = _target(x, pick, reg_ptr, regulators, strides, tab_ptr, tables)
            x[pick] += 1 if tgt > x[pick] else -1
    return counts / n_cells, sums / n_cells


def stochastic_logical(
    spec: LogicalModelSpec,
    *,
    times: Sequence[float] | NDArray[np.float64],
    phenotypes: Mapping[str, Mapping[str, int]],
    initial: Mapping[str, float] | None = None,
    rates: Mapping[str, tuple[float, float]] | None = None,
    n_cells: int = 1000,
    seed: int = 0,
) -> PhenotypeProbabilities:
    """Probabilities of phenotypes over time in a population of independent cells.

    Parameters
    ----------
    spec
        The logical model.
    times
        Increasing output times (starting at or after 0).
    phenotypes
        ``{name: {species: level}}``; a cell is in a phenotype when every named species has
        that level.
    initial
        Initial levels; for a Boolean species a value strictly between 0 and 1 is the
        probability that it starts on (MaBoSS's random initial states). Missing species start
        at their initial level, else 0.
    rates
        ``{species: (up, down)}``; default 1 per unit time both ways.
    n_cells, seed
        Population size and random seed (the result is reproducible for a seed).
    """
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or np.any(np.diff(t) < 0) or t[0] < 0:
        raise ModelError("stochastic_logical: times must be a non-empty increasing grid from >= 0")
    if n_cells < 1:
        raise ModelError(f"stochastic_logical: n_cells must be >= 1, got {n_cells}")
    net = compile_network(spec)
    x0 = net.state({}).astype(np.int64)
    p_on = np.full(net.n, -1.0)
    for sid, val in (initial or {}).items():
        i = spec.index(sid)
        if float(val).is_integer():
            x0[i] = net.state({sid: int(val)})[i]
        elif net.maxes[i] == 1 and 0.0 < val < 1.0:
            p_on[i] = float(val)
        else:
            raise ModelError(f"stochastic_logical: initial value {val} of '{sid}' is not a level")
    up = np.ones(net.n)
    down = np.ones(net.n)
    for sid, (u, d) in (rates or {}).items():
        if u < 0 or d < 0:
            raise ModelError(f"stochastic_logical: negative rate of '{sid}'")
        up[spec.index(sid)], down[spec.index(sid)] = u, d
    pheno = np.full((len(phenotypes), net.n), -1, dtype=np.int64)
    for k, levels in enumerate(phenotypes.values()):
        for sid, lvl in levels.items():
            pheno[k, spec.index(sid)] = int(net.state({sid: lvl})[spec.index(sid)])
    probs, means = _gillespie(
        x0, p_on, net.reg_ptr, net.regulators, net.strides, net.tab_ptr,
        net.tables.astype(np.int64), up, down, t, pheno, int(n_cells), int(seed),
    )  # fmt: skip
    for a in (t, probs, means):
        a.setflags(write=False)
    return PhenotypeProbabilities(
        spec.id, spec.species_ids, tuple(phenotypes), t, probs, means, int(n_cells), int(seed)
    )
