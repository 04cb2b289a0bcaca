"""initial schema

Revision ID: 080d51b9013b
Revises:
Create Date: 2026-11-26 10:56:37.246301
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine
from jukinet.bus.migrations import downgrade_tables_0001, upgrade_tables_0001
from jukinet.records.migrations import downgrade_identity_0001, upgrade_identity_0001

revision: str = "080d51b9013b"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_tables_0001()
    upgrade_identity_0001()
    op.create_table(
        "origin_messages",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("forwarded_by", sa.String(length=6), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("received_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_origin_messages")),
    )
    with op.batch_alter_table("origin_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_origin_messages_municipality"), ["municipality"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("origin_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_origin_messages_municipality"))

    op.drop_table("origin_messages")
    downgrade_identity_0001()
    downgrade_tables_0001()
