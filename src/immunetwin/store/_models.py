"""SQLAlchemy ORM models of the registry (2.0 declarative style)."""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Column -> most characters it holds (checked before writing; see ``Registry.add_twin``).
LIMITS: dict[str, int] = {
    "id": 32,
    "name": 255,
    "subject": 255,
    "model_id": 255,
    "model_hash": 64,
    "data_sha256": 64,
    "immunetwin_version": 64,
    "created_at": 40,
    "registered_at": 40,
    "path": 4096,
    "report": 4096,
}


class Base(DeclarativeBase):
    """Declarative base of the registry tables."""


class TwinRow(Base):
    """One registered twin directory (a directory is registered once: ``path`` is unique)."""

    __tablename__ = "twins"
    __table_args__ = (Index("ux_twins_path", "path", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    subject: Mapped[str] = mapped_column(String(255), index=True)
    model_id: Mapped[str] = mapped_column(String(255))
    model_hash: Mapped[str] = mapped_column(String(64))
    data_sha256: Mapped[str] = mapped_column(String(64))
    immunetwin_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))
    registered_at: Mapped[str] = mapped_column(String(40))
    n_updates: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
