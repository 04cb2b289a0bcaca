"""The bus tables' migrations, shared by every service's Alembic history (each service's
revision calls them). Frozen like any migration: a later schema change gets a new
function here, never an edit of these."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

__all__ = [
    "downgrade_tables_0001",
    "downgrade_undeliverable",
    "upgrade_tables_0001",
    "upgrade_undeliverable",
]


def upgrade_tables_0001() -> None:
    """The outbox, the inbox, the channels' sequence numbers and the dead letters."""
    op.create_table(
        "channel_sequences",
        sa.Column("recipient", sa.String(length=80), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("recipient", name=op.f("pk_channel_sequences")),
    )
    op.create_table(
        "dead_letters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("received_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("subject_sender", sa.String(length=80), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_table(
        "inbox_channels",
        sa.Column("sender", sa.String(length=80), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sender", name=op.f("pk_inbox_channels")),
    )
    op.create_table(
        "inbox_messages",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("sender", sa.String(length=80), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger(), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("received_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_inbox_messages")),
    )
    op.create_table(
        "outbox_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("recipient", sa.String(length=80), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_items")),
    )
    with op.batch_alter_table("outbox_items", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_items_unsealed", ["message_id", "id"], unique=False)

    op.create_table(
        "outbox_messages",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=80), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_outbox_messages")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_unsent", ["sent_at", "recipient", "sequence"], unique=False
        )


def downgrade_tables_0001() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_unsent")

    op.drop_table("outbox_messages")
    with op.batch_alter_table("outbox_items", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_items_unsealed")

    op.drop_table("outbox_items")
    op.drop_table("inbox_messages")
    op.drop_table("inbox_channels")
    op.drop_table("dead_letters")
    op.drop_table("channel_sequences")


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
