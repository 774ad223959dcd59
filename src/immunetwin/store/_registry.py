"""The :class:`Registry` of saved digital twins."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._db import default_url, make_engine, one_line, upgrade, with_retries
from ._errors import RegistryError, TwinNotFound

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ..twin import DigitalTwin
    from ._models import TwinRow

__all__ = ["Registry", "RegistryError", "TwinCheck", "TwinNotFound", "TwinRecord"]

T = TypeVar("T")


@dataclass(frozen=True)
class TwinRecord:
    """One registered twin: where its directory lives and the metadata of its ``twin.json``."""

    id: str
    name: str
    subject: str
    model_id: str
    model_hash: str
    data_sha256: str
    immunetwin_version: str
    created_at: str
    registered_at: str
    n_updates: int
    path: Path
    report: Path | None

    @classmethod
    def _from_row(cls, row: TwinRow) -> TwinRecord:
        return cls(
            id=row.id,
            name=row.name,
            subject=row.subject,
            model_id=row.model_id,
            model_hash=row.model_hash,
            data_sha256=row.data_sha256,
            immunetwin_version=row.immunetwin_version,
            created_at=row.created_at,
            registered_at=row.registered_at,
            n_updates=row.n_updates,
            path=Path(row.path),
            report=None if row.report is None else Path(row.report),
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _read_meta(twin_dir: Path) -> dict[str, Any]:
    from ..errors import TwinFormatError
    from ..twin import read_twin_info

    if not twin_dir.is_dir():
        raise RegistryError(f"{twin_dir} is not a twin directory (no twin.json)")
    try:
        info = read_twin_info(twin_dir)
    except TwinFormatError as exc:
        if "is not a twin directory" in str(exc):
            raise RegistryError(str(exc)) from None
        raise RegistryError(f"{twin_dir}: unreadable twin metadata ({exc})") from None
    created = info.created_at
    if created is None:
        created = datetime.fromtimestamp(twin_dir.stat().st_mtime, UTC).isoformat(
            timespec="seconds"
        )
    return {
        "default_name": info.name,
        "subject": info.subject,
        "model_id": info.model_id,
        "model_hash": info.model_hash,
        "data_sha256": info.data_sha256,
        "immunetwin_version": info.immunetwin_version,
        "created_at": created,
        "n_updates": info.n_updates,
    }


class Registry:
    """The registry database of twins at ``url`` (default: :func:`default_url`).

    The connection is opened and the schema migrated (Alembic ``upgrade head``) on first use.
    """

    def __init__(self, url: str | None = None):
        self.url = url if url is not None else default_url()
        self._engine: Engine | None = None

    def __repr__(self) -> str:
        return f"Registry({self.url!r})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (created and migrated on first access)."""
        if self._engine is None:
            from sqlalchemy.exc import SQLAlchemyError

            try:
                engine = make_engine(self.url)
                upgrade(engine)
            except (SQLAlchemyError, OSError) as exc:
                raise RegistryError(
                    f"cannot open the registry {self.url}: {one_line(exc)}"
                ) from None
            self._engine = engine
        return self._engine

    def _session(self) -> Any:
        from sqlalchemy.orm import Session

        return Session(self.engine, expire_on_commit=False)

    def _run(self, what: str, fn: Callable[[], T]) -> T:
        """Run one transaction ``fn`` with retries; a database error becomes a RegistryError."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return with_retries(fn)
        except SQLAlchemyError as exc:
            raise RegistryError(f"registry {self.url}: {what} failed: {one_line(exc)}") from None

    def add_twin(
        self,
        twin_dir: str | Path,
        *,
        name: str | None = None,
        report: str | Path | None = None,
        refresh: bool = False,
    ) -> TwinRecord:
        """Register the twin directory ``twin_dir`` (written by ``DigitalTwin.save``).

        With ``refresh``, a directory registered already keeps its id and its record is brought
        up to date with the directory (subject, model hash, data checksum, updates, name, report)
        instead of being refused.

        Raises
        ------
        RegistryError
            Not a twin directory, a value longer than its column, a directory registered
            already (the message names its id; not with ``refresh``), or a database error.
        """
        twin_dir = Path(twin_dir).expanduser().resolve()
        meta = _read_meta(twin_dir)
        report_path = None
        if report is not None:
            report_path = Path(report).expanduser().resolve()
            if not report_path.is_file():
                raise RegistryError(f"report {report_path} does not exist")
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "name": name if name is not None else meta["default_name"],
            "subject": meta["subject"],
            "model_id": meta["model_id"],
            "model_hash": meta["model_hash"],
            "data_sha256": meta["data_sha256"],
            "immunetwin_version": meta["immunetwin_version"],
            "created_at": meta["created_at"],
            "registered_at": _now(),
            "n_updates": meta["n_updates"],
            "path": str(twin_dir),
            "report": None if report_path is None else str(report_path),
        }
        _check_limits(values, twin_dir)
        return self._run(f"registering {twin_dir}", lambda: self._insert(values, refresh))

    def _insert(self, values: dict[str, Any], refresh: bool = False) -> TwinRecord:
        from sqlalchemy import select

        from ._models import TwinRow

        with self._session() as session, session.begin():
            existing = session.scalars(
                select(TwinRow).where(TwinRow.path == values["path"])
            ).first()
            if existing is not None and refresh:
                for key, value in values.items():
                    if key != "id":
                        setattr(existing, key, value)
                return TwinRecord._from_row(existing)
            if existing is not None:
                raise RegistryError(
                    f"{values['path']} is registered already (id {existing.id}) in {self.url}"
                )
            row = TwinRow(**values)
            session.add(row)
        return TwinRecord._from_row(row)

    def list_twins(self) -> list[TwinRecord]:
        """Every registered twin, oldest registration first."""

        def run() -> list[TwinRecord]:
            from sqlalchemy import select

            from ._models import TwinRow

            with self._session() as session:
                rows = session.scalars(select(TwinRow).order_by(TwinRow.registered_at, TwinRow.id))
                return [TwinRecord._from_row(r) for r in rows]

        return self._run("listing twins", run)

    def get(self, twin_id: str) -> TwinRecord:
        """The record of ``twin_id`` (:class:`TwinNotFound` if there is none)."""

        def run() -> TwinRecord:
            from ._models import TwinRow

            with self._session() as session:
                row = session.get(TwinRow, twin_id)
                if row is None:
                    raise TwinNotFound(twin_id, self.url)
                return TwinRecord._from_row(row)

        return self._run(f"reading twin {twin_id!r}", run)

    def load_twin(self, twin_id: str) -> DigitalTwin:
        """Load the twin ``twin_id`` from its directory."""
        from ..twin import DigitalTwin

        rec = self.get(twin_id)
        if not rec.path.is_dir():
            raise RegistryError(f"twin {twin_id}: its directory {rec.path} is gone")
        return DigitalTwin.load(rec.path)

    def remove(self, twin_id: str) -> None:
        """Forget ``twin_id`` (the twin directory itself is left alone)."""

        def run() -> None:
            from ._models import TwinRow

            with self._session() as session, session.begin():
                row = session.get(TwinRow, twin_id)
                if row is None:
                    raise TwinNotFound(twin_id, self.url)
                session.delete(row)

        self._run(f"removing twin {twin_id!r}", run)

    def verify(self) -> list[TwinCheck]:
        """Check every registered twin without changing anything (see :func:`verify_record`)."""
        return [verify_record(rec) for rec in self.list_twins()]

    def close(self) -> None:
        """Dispose of the engine's connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _check_limits(values: dict[str, Any], twin_dir: Path) -> None:
    from ._models import LIMITS

    for column, limit in LIMITS.items():
        value = values.get(column)
        if isinstance(value, str) and len(value) > limit:
            raise RegistryError(
                f"{twin_dir}: {column} is {len(value)} characters long; the registry holds at "
                f"most {limit}"
            )
        if isinstance(value, str) and "\x00" in value:
            raise RegistryError(f"{twin_dir}: {column} contains a NUL character")


@dataclass(frozen=True)
class TwinCheck:
    """The result of checking one registered twin (:meth:`Registry.verify`).

    Attributes
    ----------
    id : str
        Registry id.
    path : Path
        The twin directory.
    problems : tuple of str
        What is wrong (empty when the twin is sound).
    """

    id: str
    path: Path
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def verify_record(rec: TwinRecord) -> TwinCheck:
    """Check one registered twin: its directory loads and its metadata match the record.

    The twin is loaded with the public ``DigitalTwin.load`` (which verifies the model hash and
    the data checksum); nothing is written.
    """
    from ..twin import DigitalTwin

    problems: list[str] = []
    if not rec.path.is_dir():
        return TwinCheck(rec.id, rec.path, (f"directory {rec.path} is gone",))
    try:
        meta = _read_meta(rec.path)
    except RegistryError as exc:
        problems.append(str(exc))
    else:
        for field in ("subject", "model_id", "model_hash", "data_sha256"):
            if str(meta[field]) != str(getattr(rec, field)):
                problems.append(
                    f"stale record: {field} is {getattr(rec, field)!r} in the registry but "
                    f"{meta[field]!r} in the twin"
                )
    if rec.report is not None and not rec.report.is_file():
        problems.append(f"report {rec.report} is gone")
    try:
        DigitalTwin.load(rec.path)
    except Exception as exc:  # any failure to load is damage to report, not to raise
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        problems.append(f"does not load: {type(exc).__name__}: {lines[0] if lines else ''}")
    return TwinCheck(rec.id, rec.path, tuple(problems))
