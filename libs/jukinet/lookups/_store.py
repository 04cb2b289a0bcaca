"""The lookup tables a serving node keeps: clients and grants (loaded from the permission
table), daily usage, the hash-chained provision log and its resident index, alerts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from jukinet.db.engine import UtcDateTime

__all__ = ["LookupTables", "append_only_sql", "drop_append_only_sql", "lookup_tables"]

_ID = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class LookupTables:
    clients: Table
    grants: Table
    usage: Table
    provisions: Table
    provision_subjects: Table
    chain_anchor: Table
    alerts: Table
    purge_guard: Table
    activity: Table


def lookup_tables(metadata: MetaData) -> LookupTables:
    clients = Table(
        "lookup_clients",
        metadata,
        Column("client", String(40), primary_key=True),
        Column("organisation", String(100), nullable=False),
        Column("sector", String(16), nullable=False),
        Column("suspended_at", UtcDateTime(), nullable=True),
        Column("suspended_reason", String(200), nullable=True),
        Column("reinstated_at", UtcDateTime(), nullable=True),
        Column("table_version", String(40), nullable=False),
    )
    grants = Table(
        "lookup_grants",
        metadata,
        Column("client", String(40), primary_key=True),
        Column("affair", String(60), primary_key=True),
        Column("item", String(200), nullable=False),
        Column("title", String(200), nullable=False),
        Column("legal_basis", String(200), nullable=False),
        Column("query_kinds", String(100), nullable=False),  # comma-separated
        Column("fields", String(200), nullable=False),  # comma-separated
        Column("valid_from", Date, nullable=False),
        Column("valid_until", Date, nullable=False),
        Column("daily_quota", Integer, nullable=False),
        Column("table_version", String(40), nullable=False),
    )
    usage = Table(
        "lookup_usage",
        metadata,
        Column("client", String(40), primary_key=True),
        Column("affair", String(60), primary_key=True),
        Column("day", Date, primary_key=True),
        Column("count", BigInteger, nullable=False),
    )
    provisions = Table(
        "provision_log",
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("at", UtcDateTime(), nullable=False),
        Column("client", String(80), nullable=False),
        Column("affair", String(60), nullable=False),
        Column("query_kind", String(16), nullable=False),
        Column("outcome", String(16), nullable=False),
        Column("reason", String(40), nullable=True),
        Column("residents", Text, nullable=False),  # JSON list of resident codes
        Column("fields", String(200), nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Column("signature", LargeBinary, nullable=False),
        Index("ix_provision_log_client_at", "client", "at"),
    )
    provision_subjects = Table(
        "provision_subjects",
        metadata,
        Column("resident_code", String(11), primary_key=True),
        Column("seq", BigInteger, primary_key=True),
    )
    chain_anchor = Table(
        "provision_chain_anchor",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("seq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
        Column("purged_before", UtcDateTime(), nullable=False),
        # signed by the node (see _chain.anchor_bytes); NULL only on anchors made before
        # anchors were signed, which verification refuses
        Column("last_at", UtcDateTime(), nullable=True),
        Column("anchored_at", UtcDateTime(), nullable=True),
        Column("signature", LargeBinary, nullable=True),
    )
    alerts = Table(
        "lookup_alerts",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("at", UtcDateTime(), nullable=False),
        Column("client", String(80), nullable=False),
        Column("rule", String(40), nullable=False),
        Column("detail", String(300), nullable=False),
        Column("suspended", Integer, nullable=False),
    )
    # A row here, inside the purge's own transaction, is the only way past the
    # append-only triggers (see APPEND_ONLY_SQL).
    purge_guard = Table("provision_purge_guard", metadata, Column("id", Integer, primary_key=True))
    # What the monitoring rules count, per client and second, kept by the provision
    # ledger as it logs: the rules read at most ten minutes of these rows, however many
    # provisions the log holds (see _monitor.py).
    activity = Table(
        "lookup_activity",
        metadata,
        Column("client", String(80), primary_key=True),
        Column("since", UtcDateTime(), primary_key=True),
        Column("lookups", BigInteger, nullable=False),
        Column("residents", BigInteger, nullable=False),
        Column("refusals", BigInteger, nullable=False),
    )
    return LookupTables(
        clients,
        grants,
        usage,
        provisions,
        provision_subjects,
        chain_anchor,
        alerts,
        purge_guard,
        activity,
    )


_PROTECTED = ("provision_log", "provision_subjects", "provision_chain_anchor")


def append_only_sql(dialect: str) -> list[str]:
    """Triggers that refuse any UPDATE of the provision log, its resident index and its
    anchor, and any DELETE (or TRUNCATE) except during a retention purge, which holds a
    row in provision_purge_guard."""
    if dialect == "sqlite":
        return [
            statement
            for table in _PROTECTED
            for statement in (  # table names are the constants above
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                "WHEN (SELECT count(*) FROM provision_purge_guard) = 0 "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
            )
        ]
    function = (
        "CREATE FUNCTION provision_log_append_only() RETURNS trigger AS $$ BEGIN "
        "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM provision_purge_guard) THEN "
        "RETURN OLD; END IF; "
        "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
    )
    triggers = [
        statement
        for table in _PROTECTED
        for statement in (
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION provision_log_append_only()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION provision_log_append_only()",
        )
    ]
    return [function, *triggers]


def drop_append_only_sql(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_{kind}"
            for table in _PROTECTED
            for kind in ("no_update", "no_delete")
        ]
    drops = [
        f"DROP TRIGGER IF EXISTS {table}_{kind} ON {table}"
        for table in _PROTECTED
        for kind in ("append_only", "no_truncate")
    ]
    return [*drops, "DROP FUNCTION IF EXISTS provision_log_append_only()"]
