"""The NATS bus: mTLS connections, the transactional outbox and the idempotent inbox."""

from jukinet.bus._connect import BrokerUnavailable, connect, tls_context
from jukinet.bus._consumer import Consumer
from jukinet.bus._inbox import Apply, InboxProcessor, Outcome, Rejected
from jukinet.bus._refusals import PART_STREAM_SEQUENCE, dead_letter_part
from jukinet.bus._relay import (
    BATCH_TYPE_SUFFIX,
    RETRIED_AUTOMATICALLY,
    UNDELIVERABLE_REASONS,
    OutboxRelay,
    enqueue,
)
from jukinet.bus._tables import BusTables, bus_tables, set_aside

__all__ = [
    "BATCH_TYPE_SUFFIX",
    "PART_STREAM_SEQUENCE",
    "RETRIED_AUTOMATICALLY",
    "UNDELIVERABLE_REASONS",
    "Apply",
    "BrokerUnavailable",
    "BusTables",
    "Consumer",
    "InboxProcessor",
    "OutboxRelay",
    "Outcome",
    "Rejected",
    "bus_tables",
    "connect",
    "dead_letter_part",
    "enqueue",
    "set_aside",
    "tls_context",
]
