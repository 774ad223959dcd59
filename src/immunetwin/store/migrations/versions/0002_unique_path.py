"""A twin directory is registered once: a unique index on ``twins.path``.

Rows registered more than once before this revision are collapsed to the earliest registration
of each path (the later duplicates are deleted), then the unique index is created.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM twins WHERE id NOT IN ("
            " SELECT id FROM twins AS t WHERE t.registered_at = ("
            "  SELECT MIN(u.registered_at) FROM twins AS u WHERE u.path = t.path))"
        )
    )
    # ties (same path, same registration time): keep the smallest id
    op.execute(
        sa.text("DELETE FROM twins WHERE id NOT IN (SELECT MIN(id) FROM twins GROUP BY path)")
    )
    op.create_index("ux_twins_path", "twins", ["path"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_twins_path", table_name="twins")
