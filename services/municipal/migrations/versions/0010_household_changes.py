"""households: every change of head (世帯主変更) with its dates and who recorded it

Revision ID: c09e50000010
Revises: c09e50000009
Create Date: 2026-11-29 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

revision: str = "c09e50000010"
down_revision: str | None = "c09e50000009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "household_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(length=32), nullable=False),
        sa.Column("previous_head_id", sa.String(length=32), nullable=True),
        sa.Column("head_id", sa.String(length=32), nullable=False),
        sa.Column("change_date", sa.Date(), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_changes")),
    )
    with op.batch_alter_table("household_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_household_changes_household_id"), ["household_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("household_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_changes_household_id"))
    op.drop_table("household_changes")
