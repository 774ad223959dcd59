"""Provenance records and checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from datahelpers import small_dataset

from immunetwin.data import Provenance, read_csv, sha256_file, write_csv
from immunetwin.errors import DataError


def test_sha256(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes(b"abc")
    assert sha256_file(p) == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(DataError):
        sha256_file(tmp_path / "none")


def test_dict_round_trip_and_steps() -> None:
    p = Provenance(doi="x", curation_steps=("a",), derived_from=(Provenance(url="u"),)).with_step(
        "b"
    )
    assert p.curation_steps == ("a", "b")
    assert Provenance.from_dict(p.to_dict()) == p
    with pytest.raises(DataError):
        Provenance.from_dict({"doi": 3})


def test_reread_export_records_reader_and_parent(tmp_path: Path) -> None:
    ds = small_dataset()
    back = read_csv(write_csv(ds, tmp_path / "d.csv"))
    prov = back.provenance
    assert prov.reader == "immunetwin.data.read_csv" and prov.reader_version
    assert prov.sha256 == sha256_file(tmp_path / "d.csv")
    assert prov.derived_from[0].doi == ds.provenance.doi
    assert prov.curation_steps[-1].startswith("read by immunetwin.data.read_csv")
