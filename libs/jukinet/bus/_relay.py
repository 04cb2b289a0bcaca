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
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import groupby
from typing import Any

from nats.js.client import JetStreamContext
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.bus._tables import BusTables
from jukinet.contracts.messages import BATCH_TYPE_SUFFIX
from jukinet.contracts.principals import InvalidPrincipal, Principal
from jukinet.contracts.subjects import message_subject
from jukinet.db.engine import AnyRow
from jukinet.envelope import Sealer
from jukinet.pki import PkiError, utcnow

__all__ = [
    "BATCH_TYPE_SUFFIX",
    "RETRIED_AUTOMATICALLY",
    "UNDELIVERABLE_REASONS",
    "OutboxRelay",
    "enqueue",
]

log = logging.getLogger("jukinet.bus.relay")
# Payload bytes per message before sealing. Signing and encryption each add a base64
# layer (x 16/9 in all), so a full message stays well under the broker's 8 MiB limit even
# when its items are whole forwarded messages.
MAX_MESSAGE_BYTES = 3 * 1024 * 1024

# Why an outbox item was set aside (outbox_items.undeliverable).
NO_RECIPIENT_CERTIFICATE = "no_recipient_certificate"  # no key-agreement cert here yet
RECIPIENT_CERTIFICATE_INVALID = "recipient_certificate_invalid"  # expired, wrong CA, ...
BAD_RECIPIENT = "bad_recipient"  # not a principal URI
SEAL_FAILED = "seal_failed"  # this item alone cannot be sealed (say, its payload)
UNDELIVERABLE_REASONS = frozenset(
    {NO_RECIPIENT_CERTIFICATE, RECIPIENT_CERTIFICATE_INVALID, BAD_RECIPIENT, SEAL_FAILED}
)
# A recipient's certificate may arrive or be renewed: such items go back in line by
# themselves once it is there; the others wait for an operator (retry or resolve).
RETRIED_AUTOMATICALLY = frozenset({NO_RECIPIENT_CERTIFICATE, RECIPIENT_CERTIFICATE_INVALID})


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
    """Moves the outbox to the broker. No single item can hold back another: an item that
    cannot be sealed is set aside with a reason code (see :data:`UNDELIVERABLE_REASONS`)
    while the rest is sealed, and a channel whose publishes fail waits on its own backoff
    while the other channels are published."""

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
        on_set_aside: Callable[[str, int], None] | None = None,
        retry_waiting_every: float = 30.0,
    ) -> None:
        self._on_published = on_published
        self._on_set_aside = on_set_aside
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
        self._held: dict[str, tuple[float, float]] = {}  # channel -> (until, last delay)
        self._retry_every = retry_waiting_every
        self._next_retry = 0.0
        self._retrying: asyncio.Task[int] | None = None
        self._waiting: set[str] = set()  # recipients with items waiting for a certificate
        self._reseal_later: dict[str, tuple[float, float]] = {}  # message id -> (at, delay)
        self.published = 0

    def notify(self) -> None:
        """Wake the relay after a commit (it also polls)."""
        self._wake.set()

    async def run(self, *, poll_interval: float = 0.5, linger: float = 0.0) -> None:
        """Relay until cancelled. After a step that published something, wait ``linger``
        before the next: what is committed meanwhile shares messages instead of taking
        one each (the first change after a quiet spell is not delayed)."""
        try:
            await self._run(poll_interval, linger)
        finally:
            if self._retrying is not None:
                self._retrying.cancel()

    async def _run(self, poll_interval: float, linger: float) -> None:
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
            elif linger:
                await asyncio.sleep(linger)

    async def step(self) -> int:
        """Seal what is pending, publish what is unsent; return how many were published.

        Channels whose last publish failed are retried in the background, so a channel
        the broker refuses never delays the others by its publish timeout."""
        await self.reseal_stale()
        await self._retry_waiting()
        await self.seal_pending()
        fresh, retrying = await self._unsent()
        if retrying and (self._retrying is None or self._retrying.done()):
            self._retrying = asyncio.create_task(self._publish_and_mark(retrying))
        return await self._publish_and_mark(fresh) if fresh else 0

    async def _publish_and_mark(self, rows: Sequence[AnyRow]) -> int:
        acked = await self._publish(rows)
        if acked:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(self._t.outbox_messages)
                    .where(self._t.outbox_messages.c.message_id.in_(acked))
                    .values(sent_at=self._clock())
                )
        self._hold_failed_channels(rows, set(acked))
        self.published += len(acked)
        if self._on_published is not None and acked:
            self._on_published(len(acked))
        return len(acked)

    def _hold_failed_channels(self, attempted: Sequence[AnyRow], acked: set[str]) -> None:
        """A channel with an unacknowledged publish waits (0.2 s, doubling up to
        10 s) before its next attempt; the other channels go on at once."""
        now = time.monotonic()
        failed = {r.recipient for r in attempted if r.message_id not in acked}
        for recipient in {r.recipient for r in attempted} - failed:
            self._held.pop(recipient, None)
        for recipient in failed:
            delay = min(self._held.get(recipient, (0.0, 0.1))[1] * 2, 10.0)
            self._held[recipient] = (now + delay, delay)
            log.warning("publishing to %s failed; that channel retries in %.1fs", recipient, delay)

    async def reseal_stale(self) -> int:
        """Seal again, with the same sequence number, unsent messages that would not be
        accepted as they are: those still unsent after half their lifetime (say the broker
        was down for days; delivered late, they would expire at the receiver) get a new
        id; those signed by a certificate other than the current one (a rotation: the
        receiver judges the signer at the moment the broker stores the message) keep
        their id, so the broker drops a copy that was stored after all."""
        m = self._t.outbox_messages
        cutoff = self._clock() - self._ttl / 2
        current = self._sealer.signer_fingerprint
        async with self._sessions() as session, session.begin():
            stale = (
                await session.execute(
                    select(m).where(
                        m.c.sent_at.is_(None),
                        or_(
                            m.c.created_at < cutoff,
                            m.c.signed_by.is_(None),
                            m.c.signed_by != current,
                        ),
                    )
                )
            ).all()
            done = 0
            for row in stale:
                if not self._may_reseal(row):
                    continue
                keep_id = row.created_at >= cutoff  # only the signer changed
                done += await self._reseal(session, row, keep_id=keep_id)
        if done:
            log.info("re-sealed %d outbox messages", done)
        return done

    async def _reseal(self, session: AsyncSession, row: AnyRow, *, keep_id: bool) -> int:
        items = self._t.outbox_items
        m = self._t.outbox_messages
        contents = (
            await session.execute(
                select(items.c.id, items.c.message_type, items.c.payload)
                .where(items.c.message_id == row.message_id)
                .order_by(items.c.id)
            )
        ).all()
        if not contents:
            return 0
        try:
            async with session.begin_nested():
                await session.execute(m.delete().where(m.c.message_id == row.message_id))
                await self._seal_one(
                    session, row.recipient, contents[0].message_type, list(contents),
                    sequence=row.sequence, message_id=row.message_id if keep_id else None,
                )  # fmt: skip
        except Exception as exc:  # the message stays as it was sealed; others go on
            delay = min(self._reseal_later.get(row.message_id, (0.0, 0.5))[1] * 2, 60.0)
            self._reseal_later[row.message_id] = (time.monotonic() + delay, delay)
            log.warning(
                "re-sealing for %s failed: %s; tried again in %.0fs",
                row.recipient, type(exc).__name__, delay,
            )  # fmt: skip
            return 0
        self._reseal_later.pop(row.message_id, None)
        return 1

    def _may_reseal(self, row: AnyRow) -> bool:
        """Not while the background retry may be publishing this very message (a copy
        stored under the old signature would then meet the new one at the receiver), and
        not before a failed re-seal's back-off (1 s doubling to a minute) is over."""
        if row.recipient in self._held and not (self._retrying is None or self._retrying.done()):
            return False
        at, _ = self._reseal_later.get(row.message_id, (0.0, 0.0))
        return time.monotonic() >= at

    async def _unsent(self) -> tuple[Sequence[AnyRow], Sequence[AnyRow]]:
        """Unsent messages of the channels that are not held, and apart from them those of
        the held channels whose wait is over: a held channel's backlog never fills the
        scan that the other channels' messages are read in."""
        m = self._t.outbox_messages
        now = time.monotonic()
        held = list(self._held)
        due = [r for r, (until, _) in self._held.items() if until <= now]
        columns = (m.c.message_id, m.c.recipient, m.c.subject, m.c.token)
        order = (m.c.recipient, m.c.sequence)
        async with self._sessions() as session:
            fresh = await session.execute(
                select(*columns)
                .where(m.c.sent_at.is_(None), m.c.recipient.not_in(held))
                .order_by(*order)
                .limit(self._scan_limit)
            )
            if not due:
                return fresh.all(), []
            retrying = await session.execute(
                select(*columns)
                .where(m.c.sent_at.is_(None), m.c.recipient.in_(due))
                .order_by(*order)
                .limit(self._scan_limit)
            )
            return fresh.all(), retrying.all()

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
        """Seal pending outbox items into messages (without publishing them). Items for a
        recipient nothing can be sealed to now, and items that fail to seal on their own,
        are set aside with a reason code; every other item is sealed."""
        items = self._t.outbox_items
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(items.c.id, items.c.recipient, items.c.message_type, items.c.payload)
                    .where(items.c.message_id.is_(None), items.c.undeliverable.is_(None))
                    .order_by(items.c.id)
                    .limit(self._scan_limit)
                )
            ).all()
            # per recipient in commit order; a run of one kind becomes one message, so a
            # disclosure request never overtakes the registration committed before it
            ordered = sorted(rows, key=lambda r: (r.recipient, r.id))
            for recipient, group in groupby(ordered, key=lambda r: r.recipient):
                await self._seal_for(session, recipient, list(group))

    async def _seal_for(self, session: AsyncSession, recipient: str, rows: list[AnyRow]) -> None:
        problem = self._recipient_problem(recipient)
        if problem is not None:
            await self._set_aside(session, recipient, rows, problem)
            return
        if recipient in self._waiting:  # older items first: they keep their place in line
            rows = sorted([*await self._release_waiting(session, recipient), *rows], key=_id)
        for kind, group in groupby(rows, key=lambda r: r.message_type):
            for chunk in _chunks(list(group), self._per_message, self._max_bytes):
                await self._seal_or_split(session, recipient, kind, chunk)

    async def _seal_or_split(
        self, session: AsyncSession, recipient: str, kind: str, rows: list[AnyRow]
    ) -> None:
        """Seal ``rows`` as one message; if that fails, seal each half the same way (in
        order), down to the single items that cannot be sealed, which are set aside."""
        if await self._try_seal(session, recipient, kind, rows):
            return
        problem = self._recipient_problem(recipient)
        if problem is not None:  # the recipient's certificate went meanwhile: all wait
            await self._set_aside(session, recipient, rows, problem)
            return
        if len(rows) == 1:
            await self._set_aside(session, recipient, rows, SEAL_FAILED)
            return
        middle = len(rows) // 2
        await self._seal_or_split(session, recipient, kind, rows[:middle])
        await self._seal_or_split(session, recipient, kind, rows[middle:])

    async def _try_seal(
        self, session: AsyncSession, recipient: str, kind: str, rows: list[AnyRow]
    ) -> bool:
        """Seal ``rows`` as one message, or change nothing (not even the channel's
        sequence) and return False."""
        try:
            async with session.begin_nested():
                await self._seal_one(session, recipient, kind, rows)
        except Exception as exc:
            log.warning("sealing for %s failed: %s", recipient, type(exc).__name__)
            return False
        return True

    def _recipient_problem(self, recipient_uri: str) -> str | None:
        """Why nothing can be sealed to this recipient now, as a reason code, or None."""
        try:
            recipient = Principal.parse(recipient_uri)
        except InvalidPrincipal:
            return BAD_RECIPIENT
        try:
            self._sealer.check_recipient(recipient)
        except FileNotFoundError:
            return NO_RECIPIENT_CERTIFICATE
        except PkiError:
            return RECIPIENT_CERTIFICATE_INVALID
        return None

    async def _set_aside(
        self, session: AsyncSession, recipient: str, rows: list[AnyRow], reason: str
    ) -> None:
        items = self._t.outbox_items
        await session.execute(
            update(items)
            .where(items.c.id.in_([r.id for r in rows]))
            .values(undeliverable=reason, set_aside_at=self._clock())
        )
        if reason in RETRIED_AUTOMATICALLY:
            self._waiting.add(recipient)
        log.error(
            "alert outbox_undeliverable: %d item(s) for %s set aside: reason=%s",
            len(rows),
            recipient,
            reason,
        )
        if self._on_set_aside is not None:
            self._on_set_aside(reason, len(rows))

    async def _retry_waiting(self) -> None:
        """Every ``retry_waiting_every`` seconds, put items that wait for a recipient's
        certificate back in line once that certificate is there and valid."""
        now = time.monotonic()
        if now < self._next_retry:
            return
        self._next_retry = now + self._retry_every
        items = self._t.outbox_items
        waiting = items.c.undeliverable.in_(sorted(RETRIED_AUTOMATICALLY))
        async with self._sessions() as session, session.begin():
            recipients = (
                await session.scalars(
                    select(items.c.recipient)
                    .where(items.c.message_id.is_(None), waiting, items.c.resolved_at.is_(None))
                    .distinct()
                )
            ).all()
            ready = [r for r in recipients if self._recipient_problem(r) is None]
            self._waiting = set(recipients) - set(ready)
            if ready:
                await session.execute(
                    update(items)
                    .where(
                        items.c.recipient.in_(ready),
                        items.c.message_id.is_(None),
                        waiting,
                        items.c.resolved_at.is_(None),
                    )
                    .values(undeliverable=None, set_aside_at=None)
                )
        for recipient in ready:
            log.info("outbox items for %s are back in line: its certificate is here", recipient)

    async def _release_waiting(self, session: AsyncSession, recipient: str) -> list[AnyRow]:
        """Put the items that wait for ``recipient``'s certificate back in line (it is
        here now) and return them, so they are sealed before anything newer."""
        self._waiting.discard(recipient)
        items = self._t.outbox_items
        waiting = (
            items.c.recipient == recipient,
            items.c.message_id.is_(None),
            items.c.undeliverable.in_(sorted(RETRIED_AUTOMATICALLY)),
            items.c.resolved_at.is_(None),
        )
        rows = (
            await session.execute(
                select(items.c.id, items.c.recipient, items.c.message_type, items.c.payload)
                .where(*waiting)
                .order_by(items.c.id)
            )
        ).all()
        if rows:
            await session.execute(
                update(items).where(*waiting).values(undeliverable=None, set_aside_at=None)
            )
            log.info("outbox items for %s are back in line: its certificate is here", recipient)
        return list(rows)

    async def _seal_one(
        self,
        session: AsyncSession,
        recipient_uri: str,
        kind: str,
        rows: list[AnyRow],
        *,
        sequence: int | None = None,
        message_id: str | None = None,
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
            message_id=message_id,
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
                signed_by=self._sealer.signer_fingerprint,
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


def _id(row: AnyRow) -> int:
    return int(row.id)
