"""Adapters for the per-subject folders in shared/data."""

from __future__ import annotations

import pytest
from datahelpers import shared

from immunetwin.data import (
    ADAPTERS,
    STANDARD_CURVES,
    Censoring,
    InterventionKind,
    read_adapter,
    read_baccam2006,
    read_cart_cd22,
    read_kissler2021,
    read_liang2010,
    read_lucas2020,
)
from immunetwin.errors import DataError


def test_kissler() -> None:
    ds = read_kissler2021(shared("kissler-ct-trajectories"))
    assert len(ds.subjects) == 68 and len(ds.observations) == 2411
    cens = [o for o in ds.observations if o.censored]
    assert all(o.censoring is Censoring.RIGHT and o.limit == 40.0 for o in cens)
    loads = ds.apply_standard_curve(STANDARD_CURVES["kissler2021"])
    assert all(o.censoring is Censoring.LEFT for o in loads.observations if o.censored)


def test_liang() -> None:
    ds = read_liang2010(shared("hiv-liang2010"))
    assert ds.subject_ids == ("patient1", "patient2")
    cd4 = [o for o in ds.observations if o.analyte == "CD4+ T cells"]
    rna = [o for o in ds.observations if o.analyte == "HIV-1 RNA"]
    assert (
        len(cd4) == 25 and len(rna) == 84
    )  # SOURCE.md says 9 + 18 CD4 rows; the files have 8 + 17
    assert len(ds.skipped) == 84 - 25
    assert any(o.censoring is Censoring.LEFT and o.limit == 50.0 for o in rna)
    assert ds.interventions[0].kind is InterventionKind.ANTIVIRAL


def test_baccam() -> None:
    ds = read_baccam2006(shared("sbstoat-virus-examples"))
    assert len(ds.subjects) == 6 and len(ds.observations) == 42
    nd = [o for o in ds.observations if o.censored]
    assert nd and all(o.value is None and o.limit is None for o in nd)


def test_cart() -> None:
    ds = read_cart_cd22(shared("cart-cd22-cytokines"))
    assert len(ds.subjects) == 52 and len(ds.analyte_names) == 14
    assert len(ds.observations) == 11037 and len(ds.observations) + len(ds.skipped) == 15686
    assert all(o.unit == "pg/mL" for o in ds.observations)


def test_lucas() -> None:
    ds = read_lucas2020(shared("covid-impact-lucas2020"))
    assert len([s for s in ds.subjects if not s.attributes["control"]]) == 98
    assert {iv.kind for iv in ds.interventions} >= {
        InterventionKind.CYTOKINE_BLOCKADE,
        InterventionKind.DRUG,
    }
    assert all(s.reason.startswith("no time") for s in ds.skipped)


def test_dispatch_and_errors(tmp_path: object) -> None:
    folder = shared("hiv-liang2010")
    assert read_adapter(folder).subject_ids == ("patient1", "patient2")
    assert set(ADAPTERS) == {
        "kissler-ct-trajectories",
        "hiv-liang2010",
        "sbstoat-virus-examples",
        "cart-cd22-cytokines",
        "covid-impact-lucas2020",
    }
    with pytest.raises(DataError, match="no adapter"):
        read_adapter("/tmp/whatever")
    with pytest.raises(DataError, match="missing"):
        read_liang2010("/nonexistent")
