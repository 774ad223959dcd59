"""PEtab measurement tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from datahelpers import SHARED, same_records, small_dataset

from immunetwin.data import read_petab, write_petab
from immunetwin.data._petab import PETAB_COLUMNS, petab_id
from immunetwin.errors import DataError


def test_petab_round_trip(tmp_path: Path) -> None:
    ds = small_dataset()
    p = write_petab(ds, tmp_path / "measurements.tsv")
    table = pd.read_csv(p, sep="\t")
    assert list(table.columns[: len(PETAB_COLUMNS)]) == list(PETAB_COLUMNS)
    assert all(petab_id(x) == x for x in table["simulationConditionId"])
    assert table["measurement"].notna().sum() == 6  # one censored record has no limit
    same_records(ds, read_petab(p))


def test_foreign_petab_table(tmp_path: Path) -> None:
    p = tmp_path / "m.tsv"
    p.write_text(
        "observableId\tsimulationConditionId\tmeasurement\ttime\nobs_V\tc0\t3.5\t1\nobs_V\tc0\t4\t2\n"
    )
    ds = read_petab(p, unit="log10 copies/mL")
    assert ds.subject_ids == ("c0",) and [o.value for o in ds.observations] == [3.5, 4.0]
    p.write_text("observableId\tsimulationConditionId\tmeasurement\ttime\nobs_V\tc0\tx\t1\n")
    with pytest.raises(DataError, match=r"row 1"):
        read_petab(p)
    p.write_text("a\tb\n1\t2\n")
    with pytest.raises(DataError, match="PEtab"):
        read_petab(p)


def test_benchmark_measurement_tables_load() -> None:
    tables = sorted((SHARED / "petab-benchmark-immune").rglob("measurement*.tsv"))
    if not tables:
        pytest.skip("petab-benchmark-immune not available")
    for t in tables:
        assert read_petab(t).observations
