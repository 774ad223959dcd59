"""The twin directory: atomic versioned saves, restore, and typed errors for damaged directories."""

from __future__ import annotations

import json
import shutil

import pytest
from twinhelpers import ANALYTE, make_prior

from immunetwin.errors import TwinFormatError
from immunetwin.twin import (
    DigitalTwin,
    TwinState,
    build_twin,
    read_twin_info,
    restore_version,
    twin_versions,
)


@pytest.fixture(scope="module")
def fresh(ke_data):
    """An uncalibrated twin (saving it needs no posterior; fast)."""
    return build_twin(
        ke_data, "ke2022_sarscov2", subject="p1", analytes=[ANALYTE], cutoff_day=3.0, t0=-11.0,
        prior=make_prior(), particles=20,
    )  # fmt: skip


def _current_folder(d):
    n = json.loads((d / "CURRENT").read_text())["version"]
    return d / "versions" / f"{n:06d}"


def test_versions_keep_and_restore(fresh, tmp_path):
    d = tmp_path / "tw"
    for _ in range(4):
        fresh.save(d, keep=3)
    vs = twin_versions(d)
    assert [v.number for v in vs] == [2, 3, 4] and [v.current for v in vs] == [0, 0, 1]
    assert all(v.readable and v.observations == len(fresh.data.observations) for v in vs)
    assert read_twin_info(d).version == 4
    assert restore_version(d, 2, keep=3) == 5
    assert [v.number for v in twin_versions(d)] == [3, 4, 5]
    back = DigitalTwin.load(d)
    assert back.config == fresh.config and back.state == TwinState(rng_state=back.state.rng_state)
    with pytest.raises(TwinFormatError, match="no version 1"):
        restore_version(d, 1)
    assert not [p for p in (d / "versions").iterdir() if p.name.startswith(".tmp")]


def test_a_failed_save_leaves_the_previous_version(fresh, tmp_path, monkeypatch):
    from immunetwin.twin import _format

    d = fresh.save(tmp_path / "tw")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(_format, "write_dataset", boom)
    with pytest.raises(OSError, match="disk full"):
        fresh.save(d)
    monkeypatch.undo()
    assert [v.number for v in twin_versions(d)] == [1]
    assert not [p for p in (d / "versions").iterdir() if p.name.startswith(".tmp")]
    assert DigitalTwin.load(d).subject == "p1"


@pytest.mark.parametrize(
    "damage, where",
    [
        (lambda f: (f / "twin.json").write_text('{"format": "immunetwin-tw'), "twin.json"),
        (lambda f: (f / "data.parquet").write_bytes(b"changed"), "data.parquet"),
        (lambda f: (f / "data.parquet").unlink(), "data.parquet"),
        (lambda f: (f / "model.xml").write_text("<sbml/>"), "model.xml"),
    ],
)
def test_damaged_directory_is_a_typed_one_line_error(fresh, tmp_path, damage, where):
    d = fresh.save(tmp_path / "tw")
    damage(_current_folder(d))
    with pytest.raises(TwinFormatError) as info:
        DigitalTwin.load(d)
    msg = str(info.value)
    assert where in msg and "\n" not in msg
    with pytest.raises(TwinFormatError):
        read_twin_info(d)


def test_foreign_and_garbled_pointer(fresh, tmp_path):
    with pytest.raises(TwinFormatError, match="not a twin directory"):
        DigitalTwin.load(tmp_path)
    d = fresh.save(tmp_path / "tw")
    (d / "CURRENT").write_text("garbage")
    with pytest.raises(TwinFormatError, match="CURRENT"):
        DigitalTwin.load(d)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "twin.json").write_text(json.dumps({"format": "something/9"}))
    with pytest.raises(TwinFormatError, match="unknown format"):
        DigitalTwin.load(tmp_path / "other")


def test_directory_written_before_versioning_still_loads(fresh, tmp_path):
    d = fresh.save(tmp_path / "tw")
    legacy = tmp_path / "legacy"
    shutil.copytree(_current_folder(d), legacy)
    doc = json.loads((legacy / "twin.json").read_text())
    doc["format"] = "immunetwin-twin/1"
    del doc["files"]
    (legacy / "twin.json").write_text(json.dumps(doc))
    back = DigitalTwin.load(legacy)
    assert back.config == fresh.config
    assert [v.number for v in twin_versions(legacy)] == [0]
    back.save(legacy)  # the first versioned save of an old directory
    assert read_twin_info(legacy).version == 1


def test_refuses_another_subjects_twin(ke_data, fresh, tmp_path):
    d = fresh.save(tmp_path / "tw")
    other = build_twin(
        ke_data, "ke2022_sarscov2", subject="p2", analytes=[ANALYTE], t0=-11.0, particles=20
    )
    with pytest.raises(TwinFormatError, match="subject 'p1'"):
        other.save(d)
    other.save(d, force=True)
    assert read_twin_info(d).subject == "p2"
