"""Database URL, engine creation, Alembic migrations and database-error handling.

SQLite registries run in WAL mode with a busy timeout, and every transaction starts with
``BEGIN IMMEDIATE`` so that concurrent writers queue for the write lock instead of failing with
``database is locked`` halfway through; :func:`with_retries` retries the rare transaction that
still finds the database busy. Every database error leaves this module as a one-line
:class:`~immunetwin.store.RegistryError`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import RegistryError

if TYPE_CHECKING:
    from sqlalchemy import Engine

ENV_VAR = "IMMUNETWIN_DB"
MIGRATIONS = Path(__file__).parent / "migrations"
#: Seconds a SQLite connection waits for a lock before giving up (per attempt).
BUSY_TIMEOUT_S = 30.0
#: Attempts of one transaction when the database stays busy or locked.
RETRIES = 5
POSTGRES_HINT = "install the PostgreSQL driver with `pip install 'immunetwin[postgres]'`"

T = TypeVar("T")


def default_url() -> str:
    """``$IMMUNETWIN_DB`` if set, else ``sqlite:///~/.local/share/immunetwin/registry.sqlite``.

    The folder of the default SQLite file is created.
    """
    url = os.environ.get(ENV_VAR, "").strip()
    if url:
        return url
    folder = Path.home() / ".local" / "share" / "immunetwin"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'registry.sqlite').resolve()}"


def driver_url(url: str) -> str:
    """``url`` with the driver immunetwin uses for its dialect (psycopg 3 for PostgreSQL)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def one_line(exc: BaseException) -> str:
    """A database exception as one line: the driver's message, without SQL or links."""
    orig = getattr(exc, "orig", None)
    inner = orig if isinstance(orig, BaseException) else exc
    lines = [ln.strip() for ln in str(inner).splitlines() if ln.strip()]
    text = lines[0] if lines else type(inner).__name__
    return text[:300]


def _sqlite_events(engine: Engine) -> None:
    """WAL, busy timeout and ``BEGIN IMMEDIATE`` for every connection of ``engine``."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, explicitly
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (the parent folder of a SQLite file is created).

    Raises
    ------
    RegistryError
        A malformed URL, or a dialect whose driver is not installed (PostgreSQL: the message
        says how to install it).
    """
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(driver_url(url))
    except ArgumentError:
        raise RegistryError(f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})
        _sqlite_events(engine)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ImportError, NoSuchModuleError) as exc:
        hint = POSTGRES_HINT if backend == "postgresql" else "install its driver"
        raise RegistryError(
            f"registry {url}: the {backend} driver is not available ({one_line(exc)}); {hint}"
        ) from None


def upgrade(engine: Engine) -> None:
    """Run Alembic's ``upgrade head`` on ``engine`` (creates or migrates the schema)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def run() -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    with_retries(run)


def _busy(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text or "deadlock" in text


def with_retries(fn: Callable[[], T], *, attempts: int = RETRIES) -> T:
    """Call ``fn`` (one transaction), again after a short random wait while the database is busy.

    Raises
    ------
    sqlalchemy.exc.OperationalError
        The last error, if the database stayed busy for every attempt.
    """
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if not _busy(exc) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover
