"""Shedding Hub YAML reader: all datasets load, every measurement accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from datahelpers import SHEDDING_HUB, shared

from immunetwin.data import Censoring, read_shedding_hub
from immunetwin.errors import DataError

FILES = sorted(SHEDDING_HUB.glob("*.yaml")) if SHEDDING_HUB.exists() else []


def _count(path: Path) -> int:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return sum(len(p["measurements"]) for p in doc["participants"])


def test_there_are_68_datasets() -> None:
    shared("shedding-hub")
    assert len(FILES) == 68


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_dataset_loads_and_reconciles(path: Path) -> None:
    ds = read_shedding_hub(path)
    assert len(ds.observations) + len(ds.skipped) == _count(path)
    assert all(s.reason for s in ds.skipped)
    assert ds.provenance.sha256 and ds.provenance.licence == "CC-BY-4.0"
    assert ds.provenance.doi or ds.provenance.url
    for a in ds.analyte_names:
        assert ds.reference_events[a]
        assert "biomarker" in ds.analytes[a] and "source_unit" in ds.analytes[a]


def test_negative_is_left_censored_at_lod() -> None:
    shared("shedding-hub")
    ds = read_shedding_hub(SHEDDING_HUB / "atmar2008norwalk.yaml")
    neg = [o for o in ds.observations if o.qualitative == "negative"]
    assert neg
    lod = ds.analytes[neg[0].analyte]["lod"]
    assert lod == 15000
    assert all(o.censoring is Censoring.LEFT and o.limit == lod and o.value is None for o in neg)


def test_negative_with_unknown_lod_is_censored_without_limit() -> None:
    shared("shedding-hub")
    ds = read_shedding_hub(SHEDDING_HUB / "woelfel2020virological.yaml")
    neg = [o for o in ds.observations if o.qualitative == "negative"]
    assert neg and all(o.censoring is Censoring.LEFT and o.limit is None for o in neg)


def test_negative_ct_is_censored_above_lod() -> None:
    shared("shedding-hub")
    ds = read_shedding_hub(SHEDDING_HUB / "alsharrah2020clinical.yaml")
    neg = [o for o in ds.observations if o.qualitative == "negative"]
    assert neg and all(
        o.unit == "Ct" and o.censoring is Censoring.RIGHT and o.limit == 41 for o in neg
    )


def test_unknown_time_is_skipped_with_reason() -> None:
    shared("shedding-hub")
    reasons = {s.reason for f in FILES for s in read_shedding_hub(f).skipped}
    assert "time: unknown" in reasons


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "x.yaml"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = """
title: t
doi: 10.0/x
description: d
analytes:
  a:
    description: d
    specimen: stool
    biomarker: norovirus
    unit: gc/mL
    limit_of_detection: 10
    limit_of_quantification: unknown
    reference_event: symptom onset
participants:
- attributes: {age: 3, sex: female}
  measurements:
  - {analyte: a, time: 1, value: 100}
  - {analyte: a, time: 2, value: negative}
  - {analyte: a, time: unknown, value: 5}
  - {analyte: a, time: 3, value: inconclusive}
  - {analyte: a, time: 4, value: weak positive}
"""


def test_small_file(tmp_path: Path) -> None:
    ds = read_shedding_hub(_write(tmp_path, GOOD))
    assert len(ds.observations) == 3 and len(ds.skipped) == 2
    assert ds.subjects[0].age == 3 and ds.subjects[0].sex == "female"
    assert ds.observations[2].censoring is Censoring.RIGHT and ds.observations[2].limit == 10


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("analyte: a, time: 1", "analyte: zz, time: 1", "unknown analyte"),
        ("unit: gc/mL", "unit: bogons/mL", "unknown unit"),
        ("time: 1,", "time: yesterday,", "time must be"),
        ("value: 100", "value: lots", "bad value"),
        ("participants:", "participantz:", "participants"),
    ],
)
def test_malformed_files_raise_dataerror_naming_element(
    tmp_path: Path, old: str, new: str, match: str
) -> None:
    p = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(DataError, match=match) as info:
        read_shedding_hub(p)
    assert str(p) in str(info.value)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="invalid YAML"):
        read_shedding_hub(_write(tmp_path, "a: [1, 2"))
    with pytest.raises(DataError, match="no such file"):
        read_shedding_hub(tmp_path / "nope.yaml")
