"""A PEtab problem's YAML file read as a dataset (its measurement table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from immunetwin.data import read_dataset

CRAUSTE = (
    Path(__file__).resolve().parents[3]
    / "shared/data/petab-benchmark-immune/Crauste_CellSystems2017/Crauste_CellSystems2017.yaml"
)


def test_petab_yaml_reads_its_measurements() -> None:
    if not CRAUSTE.exists():
        pytest.skip("shared data not available")
    ds = read_dataset(CRAUSTE)
    s = ds.summary()
    assert s["observations"] == 21 and s["analytes"] == 4
    assert s["time_min"] == 4.0 and s["time_max"] == 28.0
