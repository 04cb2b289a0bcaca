"""The bus tables' migrations, shared by every service's Alembic history (each service's
revision calls them). Frozen like any migration: a later schema change gets a new
function here, never an edit of these."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

__all__ = ["downgrade_undeliverable", "upgrade_undeliverable"]


def upgrade_undeliverable() -> None:
    """Outbox items can be set aside (and resolved); sealed messages name their signer."""
    with op.batch_alter_table("outbox_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("undeliverable", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("set_aside_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resolved_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signed_by", sa.String(length=64), nullable=True))


def downgrade_undeliverable() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("signed_by")
    with op.batch_alter_table("outbox_items", schema=None) as batch_op:
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("set_aside_at")
        batch_op.drop_column("undeliverable")
