"""The operator tables' migrations, shared by every service's Alembic history (each
service's revision calls them). Frozen like any migration: a later schema change gets a
new function here, never an edit of these."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine
from jukinet.operators._tables import append_only_sql

__all__ = ["downgrade_0001", "upgrade_0001"]


def upgrade_0001() -> None:
    op.create_table(
        "operation_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_operation_log")),
    )
    with op.batch_alter_table("operation_log", schema=None) as batch_op:
        batch_op.create_index("ix_operation_log_actor_at", ["actor", "at"], unique=False)

    op.create_table(
        "operator_challenges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_challenges")),
    )
    with op.batch_alter_table("operator_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operator_challenges_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "operator_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("issued_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_operator_sessions")),
    )
    with op.batch_alter_table("operator_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operator_sessions_operator"), ["operator"], unique=False
        )

    op.create_table(
        "operators",
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("card_certificate", sa.Text(), nullable=False),
        sa.Column("card_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_operators")),
    )
    for statement in append_only_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade_0001() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE operation_log")  # its triggers go with it
        op.execute("DROP FUNCTION operation_log_append_only()")
    op.drop_table("operators")
    with op.batch_alter_table("operator_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_sessions_operator"))

    op.drop_table("operator_sessions")
    with op.batch_alter_table("operator_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_challenges_expires_at"))

    op.drop_table("operator_challenges")
    if op.get_bind().dialect.name != "postgresql":  # PostgreSQL dropped it (and its index) first
        with op.batch_alter_table("operation_log", schema=None) as batch_op:
            batch_op.drop_index("ix_operation_log_actor_at")

        op.drop_table("operation_log")
