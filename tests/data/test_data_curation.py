"""Detection-limit placeholders: found, censored, linted; and on a real data set."""

from __future__ import annotations

import numpy as np
import pytest

from immunetwin.data import (
    Censoring,
    Dataset,
    LimitPlaceholderRule,
    Observation,
    Provenance,
    Subject,
    censor_placeholder,
    find_limit_placeholder,
    read_dataset,
)
from immunetwin.errors import DataError


def _ds(values: list[float], unit: str = "copies/mL") -> Dataset:
    obs = tuple(Observation("s", float(i), "v", v, unit) for i, v in enumerate(values))
    return Dataset(
        subjects=(Subject("s"),),
        observations=obs,
        reference_events={"v": "symptom onset"},
        provenance=Provenance(source_file="f.yaml"),
    )


def _spread(n: int, rng: np.random.Generator, lo: float, hi: float) -> list[float]:
    """``n`` distinct-looking values, log-uniform in [lo, hi]."""
    return [float(x) for x in np.round(np.exp(rng.uniform(np.log(lo), np.log(hi), n)), 1)]


def test_placeholder_found_and_censored() -> None:
    rng = np.random.default_rng(0)
    ds = _ds([900.0] * 30 + _spread(200, rng, 1e3, 1e7))
    found = find_limit_placeholder(ds, "v")
    assert found is not None
    assert (found.value, found.count, found.total, found.side) == (900.0, 30, 230, Censoring.LEFT)
    new, n = censor_placeholder(ds, "v")
    assert n == 30
    cens = [o for o in new.observations if o.censored]
    assert len(cens) == 30
    assert all(o.value is None and o.limit == 900.0 and o.censoring is Censoring.LEFT for o in cens)
    assert "placeholder" in new.provenance.curation_steps[-1]
    assert find_limit_placeholder(new, "v") is None  # nothing left to find


def test_ct_placeholder_is_a_ceiling() -> None:
    rng = np.random.default_rng(1)
    ds = _ds([40.0] * 25 + _spread(100, rng, 15.0, 39.0), unit="Ct")
    found = find_limit_placeholder(ds, "v")
    assert found is not None and found.value == 40.0 and found.side is Censoring.RIGHT
    new, n = censor_placeholder(ds, "v")
    assert n == 25 and all(o.censoring is Censoring.RIGHT for o in new.observations if o.censored)


def test_no_placeholder_when_values_are_spread_or_tied_elsewhere() -> None:
    rng = np.random.default_rng(2)
    assert find_limit_placeholder(_ds(_spread(300, rng, 1e3, 1e7)), "v") is None
    # frequent, but not the extreme value: not a limit
    assert find_limit_placeholder(_ds([5000.0] * 30 + _spread(200, rng, 1e2, 1e7)), "v") is None
    # the extreme repeated, but other values repeat nearly as often (a coarse scale)
    coarse = [900.0] * 20 + [1e4] * 10 + [1e5] * 10 + _spread(50, rng, 2e3, 1e6)
    assert find_limit_placeholder(_ds(coarse), "v") is None
    with pytest.raises(DataError, match="no detection-limit placeholder"):
        censor_placeholder(_ds(_spread(50, rng, 1e3, 1e7)), "v")
    with pytest.raises(DataError, match="no analyte"):
        censor_placeholder(_ds([1.0]), "w")


def test_lint_rule_names_value_and_count() -> None:
    rng = np.random.default_rng(3)
    found = list(LimitPlaceholderRule().check(_ds([900.0] * 30 + _spread(200, rng, 1e3, 1e7))))
    assert len(found) == 1
    assert "30 of 230" in found[0].message and "900" in found[0].message


def test_real_data_set_tsang2016(shared_data) -> None:
    # Tsang et al. 2016 report every influenza A RNA value below the limit as 900 copies/mL
    ds = read_dataset(shared_data / "shedding-hub" / "datasets" / "tsang2016individual.yaml")
    found = find_limit_placeholder(ds, "NPSOPS")
    assert found is not None and found.value == pytest.approx(900.0) and found.count == 345
    ke = read_dataset(shared_data / "shedding-hub" / "datasets" / "ke2022daily.yaml")
    assert all(find_limit_placeholder(ke, a) is None for a in ke.analyte_names)
