"""A registry database of digital twins (SQLite by default; any SQLAlchemy URL).

The registry records where each saved twin directory lives, together with the metadata of its
``twin.json`` (subject, model id and hash, data checksum, package version, creation time, number
of updates). The database URL is ``$IMMUNETWIN_DB`` when set, else a SQLite file under
``~/.local/share/immunetwin/``. The schema is created and upgraded with Alembic on first use.

Nothing is imported from SQLAlchemy or Alembic, and nothing touches the database, at import time.
"""

from __future__ import annotations

from ._db import default_url
from ._errors import RegistryError, TwinNotFound
from ._registry import Registry, TwinCheck, TwinRecord, verify_record

__all__ = [
    "Registry",
    "RegistryError",
    "TwinCheck",
    "TwinNotFound",
    "TwinRecord",
    "default_url",
    "verify_record",
]
