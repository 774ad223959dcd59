"""Database URL, engine creation and Alembic migrations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

ENV_VAR = "IMMUNETWIN_DB"
MIGRATIONS = Path(__file__).parent / "migrations"


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


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (the parent folder of a SQLite file is created)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url)


def upgrade(engine: Engine) -> None:
    """Run Alembic's ``upgrade head`` on ``engine`` (creates or migrates the schema)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
