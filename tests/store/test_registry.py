"""The twin registry: Alembic migrations, add/list/get/load/remove, errors and the CLI."""

from __future__ import annotations

import re
import shutil
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from immunetwin.errors import ImmunetwinError
from immunetwin.store import Registry, RegistryError, TwinNotFound, TwinRecord, default_url
from immunetwin.twin import read_twin_info


def test_default_url(monkeypatch, tmp_path):
    monkeypatch.setenv("IMMUNETWIN_DB", "postgresql+psycopg://u@h/db")
    assert default_url() == "postgresql+psycopg://u@h/db"
    monkeypatch.delenv("IMMUNETWIN_DB")
    monkeypatch.setenv("HOME", str(tmp_path))
    url = default_url()
    assert url == f"sqlite:///{tmp_path / '.local/share/immunetwin/registry.sqlite'}"
    assert (tmp_path / ".local/share/immunetwin").is_dir()
    monkeypatch.setenv("IMMUNETWIN_DB", "sqlite:///x.sqlite")
    assert Registry().url == "sqlite:///x.sqlite"


def test_nothing_happens_until_first_use(db_url):
    reg = Registry(db_url)
    assert not Path(db_url.removeprefix("sqlite:///")).exists()
    assert reg.list_twins() == []
    assert Path(db_url.removeprefix("sqlite:///")).exists()


def test_migrations_create_schema(db_url):
    reg = Registry(db_url)
    reg.list_twins()
    insp = sa.inspect(reg.engine)
    assert set(insp.get_table_names()) == {"alembic_version", "twins"}
    cols = {c["name"] for c in insp.get_columns("twins")}
    assert {"id", "subject", "model_id", "model_hash", "data_sha256", "path", "report"} <= cols
    with reg.engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar() == "0002"
    reg.close()
    # a second registry on the same database re-runs `upgrade head` as a no-op
    assert Registry(db_url).list_twins() == []


def test_round_trip(db_url, twin_dir):
    reg = Registry(db_url)
    meta = read_twin_info(twin_dir)
    report = twin_dir.parent / "report.html"
    rec = reg.add_twin(twin_dir, name="p1 early", report=report)
    assert isinstance(rec, TwinRecord)
    assert re.fullmatch(r"[0-9a-f]{32}", rec.id)
    assert rec.name == "p1 early"
    assert rec.subject == "p1" == meta.subject
    assert rec.model_id == "ke2022_sarscov2"
    assert rec.model_hash == meta.model_hash
    assert rec.data_sha256 == meta.data_sha256
    assert rec.immunetwin_version == meta.immunetwin_version
    assert rec.created_at == meta.created_at
    assert rec.n_updates == 0
    assert rec.path == twin_dir.resolve() and rec.path.is_absolute()
    assert rec.report == report.resolve()
    with pytest.raises(FrozenInstanceError):
        rec.name = "other"  # type: ignore[misc]

    with pytest.raises(RegistryError, match=f"registered already \\(id {rec.id}\\)"):
        reg.add_twin(twin_dir / ".." / twin_dir.name)  # the same directory, another spelling
    copy = twin_dir.parent / "twin-copy"
    shutil.copytree(twin_dir, copy, dirs_exist_ok=True)
    other = reg.add_twin(copy)  # default name: the twin's own
    assert other.name == meta.name and other.report is None and other.id != rec.id

    fresh = Registry(db_url)  # a new connection sees the same rows
    assert {r.id for r in fresh.list_twins()} == {rec.id, other.id}
    assert fresh.get(rec.id) == rec
    twin = fresh.load_twin(rec.id)
    assert twin.subject == "p1" and twin.model.id == "ke2022_sarscov2"

    fresh.remove(rec.id)
    assert [r.id for r in fresh.list_twins()] == [other.id]
    assert twin_dir.is_dir()  # the directory itself is kept


def test_missing_id(db_url):
    reg = Registry(db_url)
    with pytest.raises(TwinNotFound, match="no twin with id 'nope'") as info:
        reg.get("nope")
    assert isinstance(info.value, ImmunetwinError) and isinstance(info.value, KeyError)
    with pytest.raises(TwinNotFound):
        reg.remove("nope")
    with pytest.raises(TwinNotFound):
        reg.load_twin("nope")


def test_not_a_twin_directory(db_url, tmp_path):
    with pytest.raises(RegistryError, match="not a twin directory"):
        Registry(db_url).add_twin(tmp_path)
    (tmp_path / "twin.json").write_text("{}")
    with pytest.raises(RegistryError, match="unreadable twin metadata"):
        Registry(db_url).add_twin(tmp_path)


def test_cli(db_url, twin_dir):
    from immunetwin.cli._app import _register, app

    _register()
    runner = CliRunner()
    res = runner.invoke(app, ["store", "--help"])
    assert res.exit_code == 0 and "list" in res.output and "add" in res.output
    for sub in ("list", "show", "add"):
        res = runner.invoke(app, ["store", sub, "--help"])
        assert res.exit_code == 0 and "--db" in res.output

    res = runner.invoke(app, ["store", "add", str(twin_dir), "--name", "cli twin", "--db", db_url])
    assert res.exit_code == 0, res.output
    twin_id = re.search(r"^id:\s+([0-9a-f]{32})$", res.output, re.M).group(1)

    res = runner.invoke(app, ["store", "list", "--db", db_url])
    assert res.exit_code == 0, res.output
    assert twin_id in res.output and "cli twin" in res.output and "p1" in res.output

    res = runner.invoke(app, ["store", "show", twin_id, "--db", db_url])
    assert res.exit_code == 0, res.output
    assert "ke2022_sarscov2" in res.output and str(twin_dir.resolve()) in res.output

    res = runner.invoke(app, ["store", "show", "nope", "--db", db_url])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"error: no twin with id 'nope' in the registry {db_url}"


def test_refresh_updates_the_record_of_a_registered_directory(db_url, twin_dir):
    reg = Registry(db_url)
    first = reg.add_twin(twin_dir, name="first")
    with pytest.raises(RegistryError, match="registered already"):
        reg.add_twin(twin_dir, name="second")
    again = reg.add_twin(twin_dir, name="second", refresh=True)
    assert again.id == first.id and again.name == "second"
    assert [(r.id, r.name) for r in Registry(db_url).list_twins()] == [(first.id, "second")]
