"""change notifications: the codes each body watches, their feed and its counter

Revision ID: c4a9e5000008
Revises: ac71f1700007
Create Date: 2026-11-29 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

revision: str = "c4a9e5000008"
down_revision: str | None = "ac71f1700007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = jukinet.db.engine.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "change_subscriptions",
        sa.Column("client", sa.String(length=40), nullable=False),
        sa.Column("affair", sa.String(length=60), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("since", _UTC, nullable=False),
        sa.Column("origin_code", sa.String(length=11), nullable=True),
        sa.PrimaryKeyConstraint(
            "client", "affair", "resident_code", name=op.f("pk_change_subscriptions")
        ),
    )
    op.create_index(
        "ix_change_subscriptions_code", "change_subscriptions", ["resident_code"], unique=False
    )
    op.create_index(
        "ix_change_subscriptions_origin",
        "change_subscriptions",
        ["client", "affair", "origin_code"],
        unique=False,
    )
    op.create_table(
        "change_feed",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("client", sa.String(length=40), nullable=False),
        sa.Column("affair", sa.String(length=60), nullable=False),
        sa.Column("watched_code", sa.String(length=11), nullable=False),
        sa.Column(
            "history_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("recorded_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_change_feed")),
    )
    op.create_index(
        "ix_change_feed_subscriber", "change_feed", ["client", "affair", "seq"], unique=False
    )
    op.create_index(
        "ix_change_feed_code", "change_feed", ["client", "affair", "watched_code"], unique=False
    )
    head = op.create_table(
        "change_feed_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_feed_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0}])


def downgrade() -> None:
    op.drop_table("change_feed_head")
    op.drop_index("ix_change_feed_code", table_name="change_feed")
    op.drop_index("ix_change_feed_subscriber", table_name="change_feed")
    op.drop_table("change_feed")
    op.drop_index("ix_change_subscriptions_origin", table_name="change_subscriptions")
    op.drop_index("ix_change_subscriptions_code", table_name="change_subscriptions")
    op.drop_table("change_subscriptions")
