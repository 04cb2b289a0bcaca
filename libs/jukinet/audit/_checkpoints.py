"""Chain-head checkpoints: every node's log heads, kept by another node.

A node's chained logs (its operation log; on a serving node also its provision log)
prove themselves intact only up to their last entry: whoever controls the database can
cut a tail or truncate a log and the remainder still verifies. So every few seconds
each node signs its heads (log, sequence, hash, time) and sends them, as
``audit.checkpoint`` items over the signed bus channel it already has — a municipality
to its prefecture, a prefecture to the agency, the agency to one municipality (its
witness) — and the witness keeps them in ``chain_checkpoints`` (append-only). `jukinet
audit verify` compares the node's logs with the checkpoints the witness holds: an entry
a checkpoint vouches for that is missing or different is a cut or a rewrite.

What can still be lost unseen: entries appended after the last checkpoint that left
the node (at most one interval plus the relay's delay).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.bus import BATCH_TYPE_SUFFIX, Apply, BusTables, Rejected, enqueue
from jukinet.contracts.chains import GENESIS, KeyRing
from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind
from jukinet.db.engine import UtcDateTime
from jukinet.envelope import Opener, SignedMessage
from jukinet.pki import utcnow

__all__ = [
    "CHECKPOINT",
    "CHECKPOINT_BATCH",
    "LOGS",
    "Checkpoint",
    "CheckpointWriter",
    "Head",
    "checkpoint_table",
    "checkpoints_of",
    "default_witness",
    "read_heads",
    "send_heads",
    "store_checkpoints",
    "with_checkpoints",
]

log = logging.getLogger("jukinet.audit.checkpoints")

CHECKPOINT = "audit.checkpoint"
CHECKPOINT_BATCH = CHECKPOINT + BATCH_TYPE_SUFFIX
# chained log name -> (its table, the table of the anchor its chain may start from)
LOGS: dict[str, tuple[str, str | None]] = {
    "operation_log": ("operation_log", None),
    "provision_log": ("provision_log", "provision_chain_anchor"),
}
_ID = BigInteger().with_variant(Integer(), "sqlite")


def checkpoint_table(metadata: MetaData) -> Table:
    """What a witness keeps: every checkpoint received, as sent and signed."""
    return Table(
        "chain_checkpoints",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("node", String(80), nullable=False),
        Column("log", String(32), nullable=False),
        Column("seq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
        Column("sealed_at", UtcDateTime(), nullable=False),
        Column("signature", LargeBinary, nullable=False),
        Column("received_at", UtcDateTime(), nullable=False),
        Index("ix_chain_checkpoints_node_log_seq", "node", "log", "seq"),
    )


@dataclass(frozen=True)
class Head:
    log: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """A node's signed statement: at ``sealed_at`` its ``log`` had ``seq`` entries (or
    its chain reached ``seq``), the last with ``hash``."""

    node: str
    log: str
    seq: int
    hash: str
    sealed_at: dt.datetime
    signature: bytes

    def signed_bytes(self) -> bytes:
        return signed_bytes(self.node, self.log, self.seq, self.hash, self.sealed_at)

    def signed_by(self, keys: KeyRing) -> bool:
        return keys.signs(self.signature, self.signed_bytes())


def signed_bytes(node: str, log_name: str, seq: int, digest: str, at: dt.datetime) -> bytes:
    doc = [CHECKPOINT, node, log_name, seq, digest, at.astimezone(dt.UTC).isoformat()]
    return json.dumps(doc, separators=(",", ":")).encode()


def default_witness(node: Principal, municipalities: Sequence[Principal]) -> Principal:
    """Where a node's checkpoints go on a channel it already has: a municipality to its
    prefecture, a prefecture to the agency, the agency to the first municipality."""
    if node.kind is PrincipalKind.MUNICIPALITY:
        return node.prefecture_of
    if node.kind is PrincipalKind.PREFECTURE:
        return AGENCY
    if not municipalities:
        raise ValueError("the agency needs a municipality to witness its checkpoints")
    return min(municipalities, key=lambda p: p.code)


async def read_heads(session: AsyncSession, metadata: MetaData) -> list[Head]:
    """The head of each chained log this database holds (a purged provision log starts
    from its anchor); a log with no entry yet has no head."""
    heads = []
    for name, (table_name, anchor_name) in LOGS.items():
        table = metadata.tables.get(table_name)
        if table is None:
            continue
        last = (
            await session.execute(
                select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)
            )
        ).first()
        if last is None and anchor_name is not None and anchor_name in metadata.tables:
            anchor = metadata.tables[anchor_name]
            last = (await session.execute(select(anchor.c.seq, anchor.c.hash))).first()
        if last is not None and str(last.hash) != GENESIS:
            heads.append(Head(name, int(last.seq), str(last.hash)))
    return heads


async def send_heads(
    session: AsyncSession,
    bus: BusTables,
    *,
    node: Principal,
    witness: Principal,
    heads: Sequence[Head],
    key: ed25519.Ed25519PrivateKey,
    now: dt.datetime,
) -> None:
    """Sign each head and put it in the outbox to the witness (the caller's transaction)."""
    for head in heads:
        signature = key.sign(signed_bytes(node.uri, head.log, head.seq, head.hash, now))
        payload = {
            "node": node.uri,
            "log": head.log,
            "seq": head.seq,
            "hash": head.hash,
            "sealed_at": now.astimezone(dt.UTC).isoformat(),
            "signature": base64.b64encode(signature).decode("ascii"),
        }
        await enqueue(session, bus, recipient=witness, message_type=CHECKPOINT, payload=payload)


async def store_checkpoints(
    session: AsyncSession, table: Table, message: SignedMessage, now: dt.datetime
) -> None:
    """Keep the checkpoints of a verified message. Each must be the sender's own, about a
    known log, and signed by the key that signed the message; one that goes behind a
    checkpoint already held (a shorter chain, or another hash at the same entry) is
    kept too and logged as a regression."""
    items = message.payload.get("items")
    if not isinstance(items, list) or not items:
        raise Rejected("invalid_payload", "a checkpoint message holds a list of items")
    key = message.signer.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise Rejected("invalid_payload", "checkpoints are signed with Ed25519")
    for item in items:
        checkpoint = _parse(item, message.issuer)
        if not KeyRing([key]).signs(checkpoint.signature, checkpoint.signed_bytes()):
            raise Rejected("invalid_payload", "a checkpoint is not signed by its sender")
        await _warn_on_regression(session, table, checkpoint)
        await session.execute(
            table.insert().values(
                node=checkpoint.node,
                log=checkpoint.log,
                seq=checkpoint.seq,
                hash=checkpoint.hash,
                sealed_at=checkpoint.sealed_at,
                signature=checkpoint.signature,
                received_at=now,
            )
        )


def _parse(item: Any, sender: Principal) -> Checkpoint:
    try:
        checkpoint = Checkpoint(
            node=str(item["node"]),
            log=str(item["log"]),
            seq=int(item["seq"]),
            hash=str(item["hash"]),
            sealed_at=dt.datetime.fromisoformat(str(item["sealed_at"])),
            signature=base64.b64decode(str(item["signature"]), validate=True),
        )
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise Rejected("invalid_payload", "a checkpoint lacks a field or has a bad one") from None
    if checkpoint.node != sender.uri:
        raise Rejected("invalid_payload", "a node sends only its own checkpoints")
    if checkpoint.log not in LOGS or checkpoint.seq < 1 or len(checkpoint.hash) != 64:
        raise Rejected("invalid_payload", "a checkpoint names an unknown log or a bad head")
    if checkpoint.sealed_at.tzinfo is None:
        raise Rejected("invalid_payload", "a checkpoint's time has no time zone")
    return checkpoint


async def _warn_on_regression(session: AsyncSession, table: Table, new: Checkpoint) -> None:
    highest = await session.scalar(
        select(func.max(table.c.seq)).where(table.c.node == new.node, table.c.log == new.log)
    )
    same = await session.scalar(
        select(table.c.hash)
        .where(table.c.node == new.node, table.c.log == new.log, table.c.seq == new.seq)
        .limit(1)
    )
    if (highest is not None and new.seq < int(highest)) or (same is not None and same != new.hash):
        log.error(
            "checkpoint regression: %s's %s went back from entry %s to %s",
            new.node, new.log, highest, new.seq,
        )  # fmt: skip


async def checkpoints_of(session: AsyncSession, table: Table, node: Principal) -> list[Checkpoint]:
    """Every checkpoint a witness holds for ``node``, oldest first."""
    rows = await session.execute(
        select(table).where(table.c.node == node.uri).order_by(table.c.sealed_at, table.c.id)
    )
    return [
        Checkpoint(r.node, r.log, int(r.seq), r.hash, r.sealed_at, bytes(r.signature)) for r in rows
    ]


def with_checkpoints(apply: Apply, table: Table) -> Apply:
    """A service's handler that also keeps the checkpoints its senders send."""

    async def wrapped(session: AsyncSession, message: SignedMessage, opener: Opener) -> None:
        if message.type == CHECKPOINT_BATCH:
            await store_checkpoints(session, table, message, utcnow())
        else:
            await apply(session, message, opener)

    return wrapped


@dataclass
class CheckpointWriter:
    """Sends the node's heads to its witness every ``every`` seconds when they moved."""

    sessions: async_sessionmaker[AsyncSession]
    metadata: MetaData
    bus: BusTables
    node: Principal
    witness: Principal
    signing_key: Callable[[], ed25519.Ed25519PrivateKey]
    notify: Callable[[], None]
    every: float
    _sent: list[Head] | None = None

    async def step(self) -> bool:
        """One round; True if heads were sent."""
        async with self.sessions() as session, session.begin():
            heads = await read_heads(session, self.metadata)
            if not heads or heads == self._sent:
                return False
            await send_heads(
                session, self.bus, node=self.node, witness=self.witness, heads=heads,
                key=self.signing_key(), now=utcnow(),
            )  # fmt: skip
        self._sent = heads
        self.notify()
        return True

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # retried next round
                log.warning("checkpoint round failed: %s", type(exc).__name__)
            await asyncio.sleep(self.every)
