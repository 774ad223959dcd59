"""Create the twins table.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "twins",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("model_id", sa.String(255), nullable=False),
        sa.Column("model_hash", sa.String(64), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("immunetwin_version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("registered_at", sa.String(40), nullable=False),
        sa.Column("n_updates", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
    )
    op.create_index("ix_twins_name", "twins", ["name"])
    op.create_index("ix_twins_subject", "twins", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_twins_subject", table_name="twins")
    op.drop_index("ix_twins_name", table_name="twins")
    op.drop_table("twins")
