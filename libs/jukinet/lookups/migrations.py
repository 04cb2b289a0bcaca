"""Migrations of the lookup tables (clients, grants, usage, alerts) and the provision log,
shared by the Alembic histories of the nodes that serve lookups (each service's revision
calls them). Frozen like any migration: a later schema change gets a new function here,
never an edit of these."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jukinet.db.engine
from jukinet.lookups._store import append_only_sql, drop_append_only_sql

__all__ = [
    "downgrade_activity_0002",
    "downgrade_tables_0001",
    "upgrade_activity_0002",
    "upgrade_tables_0001",
]


def upgrade_tables_0001() -> None:
    """The permission table's clients and grants, their usage and alerts, and the
    hash-chained provision log (append-only) with its anchor, purge guard and subjects."""
    op.create_table(
        "lookup_alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("client", sa.String(length=80), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("suspended", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookup_alerts")),
    )
    op.create_table(
        "lookup_clients",
        sa.Column("client", sa.String(length=40), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("suspended_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True),
        sa.Column("suspended_reason", sa.String(length=200), nullable=True),
        sa.Column("reinstated_at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=True),
        sa.Column("table_version", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("client", name=op.f("pk_lookup_clients")),
    )
    op.create_table(
        "lookup_grants",
        sa.Column("client", sa.String(length=40), nullable=False),
        sa.Column("affair", sa.String(length=60), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.Column("query_kinds", sa.String(length=100), nullable=False),
        sa.Column("fields", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=False),
        sa.Column("table_version", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("client", "affair", name=op.f("pk_lookup_grants")),
    )
    op.create_table(
        "lookup_usage",
        sa.Column("client", sa.String(length=40), nullable=False),
        sa.Column("affair", sa.String(length=60), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client", "affair", "day", name=op.f("pk_lookup_usage")),
    )
    op.create_table(
        "provision_chain_anchor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("purged_before", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provision_chain_anchor")),
    )
    op.create_table(
        "provision_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("client", sa.String(length=80), nullable=False),
        sa.Column("affair", sa.String(length=60), nullable=False),
        sa.Column("query_kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("residents", sa.Text(), nullable=False),
        sa.Column("fields", sa.String(length=200), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_provision_log")),
    )
    with op.batch_alter_table("provision_log", schema=None) as batch_op:
        batch_op.create_index("ix_provision_log_client_at", ["client", "at"], unique=False)

    op.create_table(
        "provision_purge_guard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provision_purge_guard")),
    )
    op.create_table(
        "provision_subjects",
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("resident_code", "seq", name=op.f("pk_provision_subjects")),
    )
    for statement in append_only_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade_tables_0001() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("provision_subjects")
    op.drop_table("provision_purge_guard")
    with op.batch_alter_table("provision_log", schema=None) as batch_op:
        batch_op.drop_index("ix_provision_log_client_at")

    op.drop_table("provision_log")
    op.drop_table("provision_chain_anchor")
    op.drop_table("lookup_usage")
    op.drop_table("lookup_grants")
    op.drop_table("lookup_clients")
    op.drop_table("lookup_alerts")


def upgrade_activity_0002() -> None:
    """Per-client, per-second activity counters for the monitoring rules. They start
    empty: the rules see no activity from before the upgrade (at most ten minutes)."""
    op.create_table(
        "lookup_activity",
        sa.Column("client", sa.String(length=80), nullable=False),
        sa.Column("since", jukinet.db.engine.UtcDateTime(timezone=True), nullable=False),
        sa.Column("lookups", sa.BigInteger(), nullable=False),
        sa.Column("residents", sa.BigInteger(), nullable=False),
        sa.Column("refusals", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client", "since", name=op.f("pk_lookup_activity")),
    )


def downgrade_activity_0002() -> None:
    op.drop_table("lookup_activity")
