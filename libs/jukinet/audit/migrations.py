"""Migrations of the audit tables, shared by the services' Alembic histories (each
service's revision calls them). Frozen like any migration: a later change gets a new
function here, never an edit of these."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine

__all__ = [
    "checkpoints_append_only_sql",
    "downgrade_anchor_signature_0001",
    "downgrade_checkpoints_0001",
    "upgrade_anchor_signature_0001",
    "upgrade_checkpoints_0001",
]


def checkpoints_append_only_sql(dialect: str) -> list[str]:
    """Triggers that refuse any UPDATE, DELETE or TRUNCATE of the checkpoints a witness
    keeps for other nodes."""
    table = "chain_checkpoints"
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{kind} BEFORE {kind.upper()} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for kind in ("update", "delete")
        ]
    return [
        "CREATE FUNCTION chain_checkpoints_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION chain_checkpoints_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION chain_checkpoints_append_only()",
    ]


def upgrade_checkpoints_0001() -> None:
    op.create_table(
        "chain_checkpoints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("node", sa.String(length=80), nullable=False),
        sa.Column("log", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_checkpoints")),
    )
    op.create_index(
        "ix_chain_checkpoints_node_log_seq", "chain_checkpoints", ["node", "log", "seq"]
    )
    for statement in checkpoints_append_only_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade_checkpoints_0001() -> None:
    op.drop_table("chain_checkpoints")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS chain_checkpoints_append_only()")


def upgrade_anchor_signature_0001() -> None:
    """Signed anchors (plain ADD COLUMN: SQLite keeps the table and its triggers)."""
    op.add_column(
        "provision_chain_anchor",
        sa.Column("last_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "provision_chain_anchor",
        sa.Column("anchored_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True),
    )
    op.add_column("provision_chain_anchor", sa.Column("signature", sa.LargeBinary(), nullable=True))


def downgrade_anchor_signature_0001() -> None:
    for column in ("signature", "anchored_at", "last_at"):
        op.drop_column("provision_chain_anchor", column)
