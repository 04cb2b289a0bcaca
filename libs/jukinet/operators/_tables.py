"""The tables every office keeps about its operators: accounts with their IC card,
login challenges, sessions, and the append-only, hash-chained operation log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from jukinet.db.engine import UtcDateTime

__all__ = ["OperatorTables", "append_only_sql", "operator_tables"]

_OPERATION_LOG = "operation_log"


@dataclass(frozen=True)
class OperatorTables:
    operators: Table
    challenges: Table
    sessions: Table
    operation_log: Table

    @classmethod
    def of(cls, metadata: MetaData) -> OperatorTables:
        """The tables ``operator_tables`` put into ``metadata``."""
        t = metadata.tables
        return cls(
            t["operators"], t["operator_challenges"], t["operator_sessions"], t[_OPERATION_LOG]
        )


def operator_tables(metadata: MetaData) -> OperatorTables:
    operators = Table(
        "operators",
        metadata,
        Column("slug", String(40), primary_key=True),
        Column("role", String(16), nullable=False),
        Column("password_hash", String(200), nullable=False),
        Column("card_certificate", Text, nullable=False),  # PEM of the IC card's certificate
        Column("card_fingerprint", String(64), nullable=False),
        Column("failed_attempts", Integer, nullable=False),
        Column("locked_until", UtcDateTime(), nullable=True),
        Column("disabled", Boolean, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
    )
    challenges = Table(
        "operator_challenges",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("nonce", String(64), nullable=False),
        Column("expires_at", UtcDateTime(), nullable=False, index=True),
    )
    sessions = Table(
        "operator_sessions",
        metadata,
        Column("token_hash", String(64), primary_key=True),
        Column("operator", String(40), nullable=False, index=True),
        Column("role", String(16), nullable=False),
        Column("issued_at", UtcDateTime(), nullable=False),
        Column("expires_at", UtcDateTime(), nullable=False),
        Column("revoked", Boolean, nullable=False),
    )
    operation_log = Table(
        _OPERATION_LOG,
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("at", UtcDateTime(), nullable=False),
        Column("actor", String(120), nullable=False),
        Column("role", String(16), nullable=False),
        Column("action", String(60), nullable=False),
        Column("target", String(64), nullable=True),  # an opaque id, never personal data
        Column("outcome", String(40), nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Column("signature", LargeBinary, nullable=False),
        Index("ix_operation_log_actor_at", "actor", "at"),
    )
    return OperatorTables(operators, challenges, sessions, operation_log)


def append_only_sql(dialect: str) -> list[str]:
    """Triggers that refuse any UPDATE or DELETE of the operation log: entries are only
    ever appended (the hash chain detects what a database owner does around them)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {_OPERATION_LOG}_no_{op.lower()} BEFORE {op} ON {_OPERATION_LOG} "
            f"BEGIN SELECT RAISE(ABORT, '{_OPERATION_LOG} is append-only'); END"
            for op in ("UPDATE", "DELETE")
        ]
    return [
        "CREATE FUNCTION operation_log_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql",
        f"CREATE TRIGGER {_OPERATION_LOG}_append_only BEFORE UPDATE OR DELETE ON "
        f"{_OPERATION_LOG} FOR EACH ROW EXECUTE FUNCTION operation_log_append_only()",
        f"CREATE TRIGGER {_OPERATION_LOG}_no_truncate BEFORE TRUNCATE ON {_OPERATION_LOG} "
        "FOR EACH STATEMENT EXECUTE FUNCTION operation_log_append_only()",
    ]
