"""The outbox relay: seal pending items into messages, publish them, mark them sent.

A service commits its change and an outbox item in one transaction. The relay (one per
database) groups unsealed items by recipient — many items per message when there is a
backlog, so per-message cryptography does not limit bulk work — seals each group with
the next sequence number of that channel, commits the sealed messages, publishes them
with ``Nats-Msg-Id`` and marks each sent when JetStream acknowledges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from itertools import groupby
from typing import Any

from nats.js.client import JetStreamContext
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.bus._tables import BusTables
from jukinet.db import AnyRow
from jukinet.envelope import Sealer
from jukinet.pki import utcnow
from jukinet.principals import Principal
from jukinet.subjects import message_subject

__all__ = ["BATCH_TYPE_SUFFIX", "OutboxRelay", "enqueue"]

log = logging.getLogger("jukinet.bus.relay")
BATCH_TYPE_SUFFIX = ".batch"
# Payload bytes per message before sealing. Signing and encryption each add a base64
# layer (x 16/9 in all), so a full message stays well under the broker's 8 MiB limit even
# when its items are whole forwarded messages.
MAX_MESSAGE_BYTES = 3 * 1024 * 1024


async def enqueue(
    session: AsyncSession,
    tables: BusTables,
    *,
    recipient: Principal,
    message_type: str,
    payload: dict[str, Any],
    now: dt.datetime | None = None,
) -> None:
    """Add one item to the outbox inside the caller's transaction."""
    await session.execute(
        tables.outbox_items.insert().values(
            recipient=recipient.uri,
            message_type=message_type,
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            created_at=now or utcnow(),
        )
    )


class OutboxRelay:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        tables: BusTables,
        sealer: Sealer,
        js: JetStreamContext,
        ttl: dt.timedelta,
        scan_limit: int = 5000,
        items_per_message: int = 500,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        publish_timeout: float = 5.0,
        clock: Callable[[], dt.datetime] = utcnow,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self._on_published = on_published
        self._sessions = sessions
        self._t = tables
        self._sealer = sealer
        self._js = js
        self._ttl = ttl
        self._scan_limit = scan_limit
        self._per_message = items_per_message
        self._max_bytes = max_message_bytes
        self._timeout = publish_timeout
        self._clock = clock
        self._wake = asyncio.Event()
        self.published = 0

    def notify(self) -> None:
        """Wake the relay after a commit (it also polls)."""
        self._wake.set()

    async def run(self, *, poll_interval: float = 0.5) -> None:
        backoff = 0.1
        while True:
            try:
                moved = await self.step()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep relaying whatever fails transiently
                log.warning("outbox relay step failed: %s; retrying", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if moved == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll_interval)

    async def step(self) -> int:
        """Seal what is pending, publish what is unsent; return how many were published."""
        await self.reseal_stale()
        unsent = await self._unsent()
        if not unsent:
            await self.seal_pending()
            unsent = await self._unsent()
        if not unsent:
            return 0
        acked = await self._publish(unsent)
        if acked:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(self._t.outbox_messages)
                    .where(self._t.outbox_messages.c.message_id.in_(acked))
                    .values(sent_at=self._clock())
                )
        self.published += len(acked)
        if self._on_published is not None and acked:
            self._on_published(len(acked))
        if len(acked) < len(unsent):
            raise ConnectionError("some messages were not acknowledged")
        return len(acked)

    async def reseal_stale(self) -> int:
        """Seal again, with the same sequence number, messages still unsent after half
        their lifetime (say the broker was down for days): delivered late, they would
        expire at the receiver and stall their channel."""
        m, items = self._t.outbox_messages, self._t.outbox_items
        cutoff = self._clock() - self._ttl / 2
        async with self._sessions() as session, session.begin():
            stale = (
                await session.execute(
                    select(m).where(m.c.sent_at.is_(None), m.c.created_at < cutoff)
                )
            ).all()
            for row in stale:
                contents = (
                    await session.execute(
                        select(items.c.id, items.c.message_type, items.c.payload)
                        .where(items.c.message_id == row.message_id)
                        .order_by(items.c.id)
                    )
                ).all()
                await session.execute(m.delete().where(m.c.message_id == row.message_id))
                await self._seal_one(
                    session, row.recipient, contents[0].message_type, list(contents),
                    sequence=row.sequence,
                )  # fmt: skip
        if stale:
            log.info("re-sealed %d stale outbox messages", len(stale))
        return len(stale)

    async def _unsent(self) -> Sequence[AnyRow]:
        m = self._t.outbox_messages
        async with self._sessions() as session:
            result = await session.execute(
                select(m.c.message_id, m.c.subject, m.c.token)
                .where(m.c.sent_at.is_(None))
                .order_by(m.c.recipient, m.c.sequence)
                .limit(self._scan_limit)
            )
            return result.all()

    async def _publish(self, rows: Sequence[AnyRow]) -> list[str]:
        async def one(row: AnyRow) -> str | None:
            try:
                await self._js.publish(
                    row.subject,
                    row.token.encode("ascii"),
                    headers={"Nats-Msg-Id": row.message_id},
                    timeout=self._timeout,
                )
            except Exception as exc:
                log.warning("publish of %s failed: %s", row.message_id, type(exc).__name__)
                return None
            return str(row.message_id)

        results = await asyncio.gather(*(one(row) for row in rows))
        return [r for r in results if r is not None]

    async def seal_pending(self) -> None:
        """Seal unsealed outbox items into messages (without publishing them)."""
        items = self._t.outbox_items
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(items.c.id, items.c.recipient, items.c.message_type, items.c.payload)
                    .where(items.c.message_id.is_(None))
                    .order_by(items.c.id)
                    .limit(self._scan_limit)
                )
            ).all()
            # per recipient in commit order; a run of one kind becomes one message, so a
            # disclosure request never overtakes the registration committed before it
            ordered = sorted(rows, key=lambda r: (r.recipient, r.id))
            for (recipient, kind), group in groupby(
                ordered, key=lambda r: (r.recipient, r.message_type)
            ):
                for chunk in _chunks(list(group), self._per_message, self._max_bytes):
                    await self._seal_one(session, recipient, kind, chunk)

    async def _seal_one(
        self,
        session: AsyncSession,
        recipient_uri: str,
        kind: str,
        rows: list[AnyRow],
        *,
        sequence: int | None = None,
    ) -> None:
        recipient = Principal.parse(recipient_uri)
        if sequence is None:
            sequence = await self._next_sequence(session, recipient_uri)
        payload = {"items": [json.loads(r.payload) for r in rows]}
        sealed = self._sealer.seal(
            audience=recipient,
            type=kind + BATCH_TYPE_SUFFIX,
            payload=payload,
            sequence=sequence,
            ttl=self._ttl,
        )
        await session.execute(
            self._t.outbox_messages.insert().values(
                message_id=sealed.message_id,
                recipient=recipient_uri,
                sequence=sequence,
                subject=message_subject(recipient, self._sealer.principal),
                token=sealed.token,
                item_count=len(rows),
                created_at=self._clock(),
            )
        )
        await session.execute(
            update(self._t.outbox_items)
            .where(self._t.outbox_items.c.id.in_([r.id for r in rows]))
            .values(message_id=sealed.message_id)
        )

    async def _next_sequence(self, session: AsyncSession, recipient_uri: str) -> int:
        seqs = self._t.channel_sequences
        current = (
            await session.execute(
                select(seqs.c.last_sequence).where(seqs.c.recipient == recipient_uri)
            )
        ).scalar_one_or_none()
        if current is None:
            await session.execute(seqs.insert().values(recipient=recipient_uri, last_sequence=1))
            return 1
        await session.execute(
            update(seqs).where(seqs.c.recipient == recipient_uri).values(last_sequence=current + 1)
        )
        return int(current) + 1


def _chunks(rows: list[AnyRow], per_message: int, max_bytes: int) -> Iterator[list[AnyRow]]:
    """Consecutive runs of at most ``per_message`` items and ``max_bytes`` of payload
    (an item larger than that alone goes in a message of its own)."""
    chunk: list[AnyRow] = []
    size = 0
    for row in rows:
        length = len(row.payload.encode())
        if chunk and (len(chunk) >= per_message or size + length > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += length
    if chunk:
        yield chunk
