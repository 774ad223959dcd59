"""Tidy CSV / Parquet round trips and the metadata sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datahelpers import SHEDDING_HUB, same_records, shared, small_dataset

from immunetwin.data import (
    Dataset,
    read_csv,
    read_parquet,
    read_shedding_hub,
    write_csv,
    write_parquet,
)
from immunetwin.errors import DataError


def _datasets() -> list[Dataset]:
    out = [small_dataset()]
    if SHEDDING_HUB.exists():
        out += [
            read_shedding_hub(SHEDDING_HUB / f"{n}.yaml")
            for n in ("woelfel2020virological", "ke2022daily")
        ]
    return out


@pytest.mark.parametrize("k", range(3))
def test_csv_round_trip_preserves_every_record(tmp_path: Path, k: int) -> None:
    datasets = _datasets()
    if k >= len(datasets):
        pytest.skip("shared data not available")
    ds = datasets[k]
    p = write_csv(ds, tmp_path / "d.csv")
    back = read_csv(p)
    same_records(ds, back)
    assert dict(back.analytes) == json.loads(json.dumps(dict(ds.analytes)))
    assert back.provenance.doi == ds.provenance.doi
    assert back.provenance.reader == "immunetwin.data.read_csv"
    # CSV -> Dataset -> CSV is byte-identical
    p2 = write_csv(back, tmp_path / "e.csv")
    assert p2.read_bytes() == p.read_bytes()


def test_parquet_round_trip(tmp_path: Path) -> None:
    ds = small_dataset()
    back = read_parquet(write_parquet(ds, tmp_path / "d.parquet"))
    same_records(ds, back)


def test_sidecar_has_provenance(tmp_path: Path) -> None:
    shared("shedding-hub")
    ds = read_shedding_hub(SHEDDING_HUB / "woelfel2020virological.yaml")
    write_csv(ds, tmp_path / "w.csv")
    meta = json.loads((tmp_path / "w.csv.meta.json").read_text())
    prov = meta["provenance"]
    assert prov["doi"] == "10.1038/s41586-020-2196-x"
    assert len(prov["sha256"]) == 64 and prov["reader"] == "immunetwin.data.read_shedding_hub"
    assert prov["licence"] and prov["citation"] and prov["curation_steps"]


def test_csv_without_sidecar_and_bad_cells(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text(
        "subject,time,analyte,specimen,value,unit,censoring,limit\n007,1,x,,2.5,pg/mL,none,\n"
    )
    ds = read_csv(p)
    assert ds.subject_ids == ("007",) and ds.observations[0].value == 2.5
    p.write_text(
        "subject,time,analyte,specimen,value,unit,censoring,limit\n007,soon,x,,2.5,pg/mL,none,\n"
    )
    with pytest.raises(DataError, match=r"row 1"):
        read_csv(p)
    p.write_text("subject,time\n1,2\n")
    with pytest.raises(DataError, match="missing columns"):
        read_csv(p)
    with pytest.raises(DataError):
        read_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(DataError):
        read_parquet(bad)
