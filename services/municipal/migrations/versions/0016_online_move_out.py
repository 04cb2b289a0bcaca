"""resident cards, the online move-outs accepted, and the 転出証明書情報 received
(転出届の特例)

Revision ID: c09e50000016
Revises: c09e50000015
Create Date: 2026-11-29 11:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

revision: str = "c09e50000016"
down_revision: str | None = "c09e50000015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> jukinet.db.engine.UtcDateTime:
    return jukinet.db.engine.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "resident_cards",
        sa.Column("public_key", sa.String(length=43), nullable=False),
        sa.Column("resident_id", sa.String(length=32), nullable=False),
        sa.Column("issued_at", _utc(), nullable=False),
        sa.Column("revoked_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_resident_cards_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("public_key", name=op.f("pk_resident_cards")),
    )
    op.create_index(op.f("ix_resident_cards_resident_id"), "resident_cards", ["resident_id"])
    op.create_table(
        "online_move_outs",
        sa.Column("notice_id", sa.String(length=32), nullable=False),
        sa.Column("resident_id", sa.String(length=32), nullable=False),
        sa.Column("card_key", sa.String(length=43), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("visit_on", sa.Date(), nullable=False),
        sa.Column("destination", sa.String(length=6), nullable=False),
        sa.Column("signed_at", _utc(), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_online_move_outs_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("notice_id", name=op.f("pk_online_move_outs")),
        sa.UniqueConstraint("card_key", "nonce", name=op.f("uq_online_move_outs_card_key")),
    )
    op.create_index(op.f("ix_online_move_outs_resident_id"), "online_move_outs", ["resident_id"])
    op.create_table(
        "incoming_move_outs",
        sa.Column("notice_id", sa.String(length=32), nullable=False),
        sa.Column("sender", sa.String(length=6), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("visit_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column("resident_id", sa.String(length=32), nullable=True),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("notice_id", name=op.f("pk_incoming_move_outs")),
    )
    op.create_index(op.f("ix_incoming_move_outs_resident_code"), "incoming_move_outs",
                    ["resident_code"])  # fmt: skip
    op.create_index("ix_incoming_move_outs_status", "incoming_move_outs",
                    ["status", "valid_until"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_incoming_move_outs_status", table_name="incoming_move_outs")
    op.drop_index(op.f("ix_incoming_move_outs_resident_code"), table_name="incoming_move_outs")
    op.drop_table("incoming_move_outs")
    op.drop_index(op.f("ix_online_move_outs_resident_id"), table_name="online_move_outs")
    op.drop_table("online_move_outs")
    op.drop_index(op.f("ix_resident_cards_resident_id"), table_name="resident_cards")
    op.drop_table("resident_cards")
