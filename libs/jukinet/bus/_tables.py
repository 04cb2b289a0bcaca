"""The outbox, inbox and dead-letter tables every node keeps in its own database.

Defined with SQLAlchemy Core against the service's own ``MetaData`` so each service's
Alembic migrations own them like any other table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
)

from jukinet.db.engine import UtcDateTime

__all__ = ["BusTables", "bus_tables", "set_aside"]

_ID = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class BusTables:
    outbox_items: Table
    outbox_messages: Table
    channel_sequences: Table
    inbox_messages: Table
    inbox_channels: Table
    dead_letters: Table


def bus_tables(metadata: MetaData) -> BusTables:
    outbox_items = Table(
        "outbox_items",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("recipient", String(80), nullable=False),
        Column("message_type", String(64), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("message_id", String(32), nullable=True),
        # set aside: a reason code while the item cannot be sealed (it travels again
        # when retried); resolved_at once an operator has closed it for good
        Column("undeliverable", String(64), nullable=True),
        Column("set_aside_at", UtcDateTime(), nullable=True),
        Column("resolved_at", UtcDateTime(), nullable=True),
        Index("ix_outbox_items_unsealed", "message_id", "id"),
    )
    outbox_messages = Table(
        "outbox_messages",
        metadata,
        Column("message_id", String(32), primary_key=True),
        Column("recipient", String(80), nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("subject", String(120), nullable=False),
        Column("token", Text, nullable=False),
        Column("item_count", Integer, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("sent_at", UtcDateTime(), nullable=True),
        # SHA-256 of the signing certificate: an unsent message signed by another one (a
        # rotation) is sealed again before it is published
        Column("signed_by", String(64), nullable=True),
        Index("ix_outbox_messages_unsent", "sent_at", "recipient", "sequence"),
    )
    channel_sequences = Table(
        "channel_sequences",
        metadata,
        Column("recipient", String(80), primary_key=True),
        Column("last_sequence", BigInteger, nullable=False),
    )
    inbox_messages = Table(
        "inbox_messages",
        metadata,
        Column("message_id", String(32), primary_key=True),
        Column("sender", String(80), nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("stream_sequence", BigInteger, nullable=False),
        Column("message_type", String(64), nullable=False),
        Column("outcome", String(16), nullable=False),
        Column("received_at", UtcDateTime(), nullable=False),
    )
    inbox_channels = Table(
        "inbox_channels",
        metadata,
        Column("sender", String(80), primary_key=True),
        Column("last_sequence", BigInteger, nullable=False),
    )
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("received_at", UtcDateTime(), nullable=False),
        Column("subject_sender", String(80), nullable=False),
        Column("stream_sequence", BigInteger, nullable=False),
        Column("message_id", String(32), nullable=True),
        Column("reason", String(64), nullable=False),
        Column("detail", String(500), nullable=False),
    )
    return BusTables(
        outbox_items,
        outbox_messages,
        channel_sequences,
        inbox_messages,
        inbox_channels,
        dead_letters,
    )


def set_aside(items: Table) -> ColumnElement[bool]:
    """Outbox items set aside as undeliverable and not resolved by an operator."""
    return and_(
        items.c.message_id.is_(None),
        items.c.undeliverable.is_not(None),
        items.c.resolved_at.is_(None),
    )
