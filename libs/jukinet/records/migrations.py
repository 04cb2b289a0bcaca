"""Migrations of the identity-record tables a prefecture and the agency hold, shared by
their Alembic histories (each service's revision calls them). Frozen like any migration:
a later schema change gets a new function here, never an edit of these."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

__all__ = [
    "downgrade_identity_0001",
    "downgrade_identity_0002",
    "upgrade_identity_0001",
    "upgrade_identity_0002",
]


def upgrade_identity_0001() -> None:
    """The identity records held and every version of them."""
    op.create_table(
        "identity_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change_reason", sa.String(length=32), nullable=False),
        sa.Column("change_date", sa.Date(), nullable=False),
        sa.Column("previous_code", sa.String(length=11), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("origin_message_id", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_history")),
    )
    with op.batch_alter_table("identity_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_history_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "identity_records",
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=200), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("change_reason", sa.String(length=32), nullable=False),
        sa.Column("change_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("origin_message_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("resident_code", name=op.f("pk_identity_records")),
    )
    with op.batch_alter_table("identity_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_identity_records_facts", ["birth_date", "sex", "name"], unique=False
        )
        batch_op.create_index(
            "ix_identity_records_municipality", ["municipality", "resident_code"], unique=False
        )


def downgrade_identity_0001() -> None:
    with op.batch_alter_table("identity_records", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_records_municipality")
        batch_op.drop_index("ix_identity_records_facts")

    op.drop_table("identity_records")
    with op.batch_alter_table("identity_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_history_resident_code"))

    op.drop_table("identity_history")


_RESIDENCY = (
    ("former_surname", 100), ("former_surname_kana", 200), ("nationality", 2),
    ("alias", 100), ("alias_kana", 200),
)  # fmt: skip


def upgrade_identity_0002() -> None:
    """A national's 旧氏 and a foreign resident's nationality and 通称, as the record now
    carries them (NULL for every record held before)."""
    with op.batch_alter_table("identity_records", schema=None) as batch_op:
        for name, length in _RESIDENCY:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))


def downgrade_identity_0002() -> None:
    with op.batch_alter_table("identity_records", schema=None) as batch_op:
        for name, _ in reversed(_RESIDENCY):
            batch_op.drop_column(name)
