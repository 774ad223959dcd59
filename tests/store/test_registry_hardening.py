"""Registry hardening: WAL and busy timeout, typed one-line errors, column limits, a directory
registered once (with a migration that collapses old duplicates), ``verify``, missing drivers,
and concurrent writers in separate processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from immunetwin.store import Registry, RegistryError, TwinCheck

SRC = Path(__file__).resolve().parents[2] / "src"


def _copy(twin_dir: Path, dest: Path) -> Path:
    shutil.copytree(twin_dir, dest)
    return dest


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(db_url):
    reg = Registry(db_url)
    reg.list_twins()
    with reg.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_column_limits_are_checked_before_writing(db_url, twin_dir):
    reg = Registry(db_url)
    with pytest.raises(RegistryError, match="name is 300 characters long; .* at most 255"):
        reg.add_twin(twin_dir, name="x" * 300)
    assert reg.list_twins() == []


def test_database_errors_are_one_line_registry_errors(tmp_path):
    folder = tmp_path / "a-directory.sqlite"
    folder.mkdir()
    with pytest.raises(RegistryError) as info:
        Registry(f"sqlite:///{folder}").list_twins()
    assert "\n" not in str(info.value) and "cannot open the registry" in str(info.value)
    with pytest.raises(RegistryError, match="not a database URL"):
        Registry("::not a url::").list_twins()


def test_missing_postgres_driver_is_one_line_with_a_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_psycopg(name, *args, **kwargs):
        if name.split(".")[0] in ("psycopg", "psycopg2"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(RegistryError) as info:
        Registry("postgresql://user@localhost/registry").list_twins()
    msg = str(info.value)
    assert "\n" not in msg and "postgresql driver is not available" in msg
    assert "immunetwin[postgres]" in msg


def test_migration_collapses_duplicate_paths(tmp_path, twin_dir):
    from alembic import command
    from alembic.config import Config

    from immunetwin.store._db import MIGRATIONS, make_engine

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    row = {
        "name": "n",
        "subject": "s",
        "model_id": "m",
        "model_hash": "h",
        "data_sha256": "d",
        "immunetwin_version": "v",
        "created_at": "c",
        "n_updates": 0,
        "path": str(twin_dir),
    }
    with engine.begin() as conn:
        for i, at in enumerate(["2026-01-02", "2026-01-01", "2026-01-03"]):
            conn.execute(
                sa.text(
                    "insert into twins values (:id, :name, :subject, :model_id, :model_hash, "
                    ":data_sha256, :immunetwin_version, :created_at, :at, :n_updates, :path, null)"
                ),
                {**row, "id": f"id{i}", "at": at},
            )
    engine.dispose()
    reg = Registry(url)
    assert [r.id for r in reg.list_twins()] == ["id1"]  # the earliest registration is kept
    with pytest.raises(RegistryError, match="registered already"):
        reg.add_twin(twin_dir)


def test_verify_reports_damage_and_changes_nothing(db_url, twin_dir, tmp_path):
    reg = Registry(db_url)
    good = reg.add_twin(_copy(twin_dir, tmp_path / "good"))
    bad_dir = _copy(twin_dir, tmp_path / "bad")
    bad = reg.add_twin(bad_dir)
    gone = reg.add_twin(_copy(twin_dir, tmp_path / "gone"))
    parquet = next(p for p in bad_dir.rglob("data.parquet"))
    parquet.write_bytes(parquet.read_bytes()[:-10])
    shutil.rmtree(tmp_path / "gone")
    before = {p: p.stat().st_mtime_ns for p in bad_dir.rglob("*")}
    checks = {c.id: c for c in reg.verify()}
    assert isinstance(checks[good.id], TwinCheck) and checks[good.id].ok
    assert not checks[bad.id].ok and "does not load" in checks[bad.id].problems[-1]
    assert not checks[gone.id].ok and "is gone" in checks[gone.id].problems[0]
    assert {p: p.stat().st_mtime_ns for p in bad_dir.rglob("*")} == before
    assert len(reg.list_twins()) == 3

    from immunetwin.cli._app import _register, app

    _register()
    res = CliRunner().invoke(app, ["store", "verify", "--db", db_url])
    assert res.exit_code == 1
    lines = res.stdout.strip().splitlines()
    assert lines[-1].startswith("3 twin(s) checked, 2 damaged")
    assert sum(line.startswith("DAMAGED") for line in lines) == 2


def test_store_cli_errors_are_one_line(db_url, tmp_path):
    from immunetwin.cli._app import _register, app

    _register()
    runner = CliRunner()
    for args in (
        ["store", "add", str(tmp_path), "--db", db_url],
        ["store", "list", "--db", "::nope::"],
        ["store", "show", "x", "--db", f"sqlite:///{tmp_path}"],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


_WORKER = textwrap.dedent(
    """
    import json, sys
    from immunetwin.store import Registry, RegistryError
    url, own, shared = sys.argv[1:4]
    reg = Registry(url)
    out = {"own": reg.add_twin(own, name=own).id}
    try:
        out["shared"] = reg.add_twin(shared).id
    except RegistryError as exc:
        out["shared_error"] = str(exc)
    print(json.dumps(out))
    """
)


def _concurrent_writers(n: int, db_url: str, twin_dir: Path, tmp_path: Path) -> None:
    dirs = [_copy(twin_dir, tmp_path / f"t{i:02d}") for i in range(n)]
    shared = _copy(twin_dir, tmp_path / "shared")
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, db_url, str(d), str(shared)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for d in dirs
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum("shared" in r for r in results) == 1
    assert all("registered already" in r["shared_error"] for r in results if "shared" not in r)
    records = Registry(db_url).list_twins()
    assert len(records) == n + 1  # nothing lost, nothing duplicated
    assert len({r.path for r in records}) == n + 1 and len({r.id for r in records}) == n + 1
    by_path = {str(r.path): r for r in records}
    for r, d in zip(results, dirs, strict=True):
        rec = by_path[str(d.resolve())]
        assert rec.id == r["own"] and rec.name == str(d)
        assert rec.subject == "p1" and len(rec.model_hash) > 0  # not corrupt


def test_concurrent_writers_in_threads(db_url, twin_dir, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    dirs = [_copy(twin_dir, tmp_path / f"t{i}") for i in range(8)]
    shared = _copy(twin_dir, tmp_path / "shared")

    def add(d: Path) -> list[str]:
        reg = Registry(db_url)  # one engine (and connection pool) per writer
        try:
            ids = [reg.add_twin(d).id]
            try:
                ids.append(reg.add_twin(shared).id)
            except RegistryError as exc:
                assert "registered already" in str(exc)
            return ids
        finally:
            reg.close()

    with ThreadPoolExecutor(8) as pool:
        ids = [i for out in pool.map(add, dirs) for i in out]
    records = Registry(db_url).list_twins()
    assert sorted(r.id for r in records) == sorted(ids) and len(records) == len(dirs) + 1


@pytest.mark.slow
def test_concurrent_writer_processes_20(db_url, twin_dir, tmp_path):
    _concurrent_writers(20, db_url, twin_dir, tmp_path)
