"""The idempotent inbox: open, verify, de-duplicate, order, apply — then ack.

A fetched batch is opened (cryptography, no I/O) and judged at the moment the broker
stored each message (which no sender can choose), then decided and applied in one
database transaction together with the inbox records, then settled on the broker:
ack what was applied or already had been, terminate (and dead-letter) what failed
verification or validation, and delay what arrived ahead of a gap in its channel.
An authentic message refused only for time (expired, signer revoked) still takes its
place in its channel, so no single message can hold a channel up; a forged one does not.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from nats.aio.msg import Msg
from sqlalchemy import select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.bus._refusals import PART_REASONS
from jukinet.bus._tables import BusTables
from jukinet.contracts.messages import Rejected
from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import parse_message_subject
from jukinet.envelope import EnvelopeError, Opener, SignedMessage
from jukinet.pki import utcnow

__all__ = ["Apply", "InboxProcessor", "Outcome", "Rejected"]

log = logging.getLogger("jukinet.bus.inbox")


Apply = Callable[[AsyncSession, SignedMessage, Opener], Awaitable[None]]
"""A service's handler: apply one verified message inside the inbox transaction."""


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"  # authentic but invalid or refused for time: dead-lettered, its
    # sequence consumed
    REFUSED = "refused"  # failed verification (or out of its place): dead-lettered
    DEFERRED = "deferred"  # ahead of a gap: redelivered later


@dataclass
class _Delivery:
    msg: Msg
    stream_sequence: int
    subject_sender: str
    message: SignedMessage | None = None
    refusal: tuple[str, str] | None = None
    # authentic, from this sender, to this node, but refused for time (expired, from the
    # future, signer revoked by the time it was stored): it takes its place in the
    # sequence and is dead-lettered there, so it can never hold the channel up
    refused_in_time: bool = False


class InboxProcessor:
    def __init__(
        self,
        *,
        node: Principal,
        sessions: async_sessionmaker[AsyncSession],
        tables: BusTables,
        opener: Opener,
        apply: Apply,
        accepts: Callable[[Principal], bool],
        clock: Callable[[], dt.datetime] = utcnow,
        gap_delay: float = 1.0,
        on_outcome: Callable[[Outcome, str], None] | None = None,
        on_dead_letter: Callable[[str], None] | None = None,
    ) -> None:
        self._on_dead_letter = on_dead_letter
        self._node = node
        self._sessions = sessions
        self._t = tables
        self._opener = opener
        self._apply = apply
        self._accepts = accepts
        self._clock = clock
        self._gap_delay = gap_delay
        self._on_outcome = on_outcome

    async def process(self, msgs: Sequence[Msg]) -> list[Outcome]:
        deliveries = [self._open(msg) for msg in msgs]
        async with self._sessions() as session, session.begin():
            outcomes = await self._decide_and_apply(session, deliveries)
        await self._settle(deliveries, outcomes)
        return outcomes

    def _open(self, msg: Msg) -> _Delivery:
        stream_sequence = msg.metadata.sequence.stream
        try:
            recipient, sender = parse_message_subject(msg.subject)
        except ValueError:
            return _Delivery(
                msg, stream_sequence, "?", refusal=("bad_subject", "not a node subject")
            )
        delivery = _Delivery(msg, stream_sequence, sender.code)
        if recipient != self._node:
            delivery.refusal = ("wrong_subject", "subject addresses another node")
            return delivery
        try:
            message = self._opener.open(msg.data, stored_at=msg.metadata.timestamp)
        except EnvelopeError as exc:
            delivery.refusal = (exc.code, str(exc))
            if exc.verified is not None and self._refusal(exc.verified, sender) is None:
                delivery.message, delivery.refused_in_time = exc.verified, True
            return delivery
        delivery.refusal = self._refusal(message, sender)
        if delivery.refusal is None:
            delivery.message = message
        return delivery

    def _refusal(self, message: SignedMessage, sender: Principal) -> tuple[str, str] | None:
        """Why an authentic message may not be taken from ``sender``'s channel, or None."""
        if message.audience != self._node:
            return ("wrong_audience", f"message {message.message_id} is for another node")
        if message.issuer != sender:
            return ("sender_mismatch", f"{message.issuer} published as {sender}")
        if not self._accepts(message.issuer):
            return ("sender_not_permitted", f"{message.issuer} may not send here")
        return None

    async def _decide_and_apply(
        self, session: AsyncSession, deliveries: list[_Delivery]
    ) -> list[Outcome]:
        opened = [d.message for d in deliveries if d.message is not None]
        seen = await self._seen(session, [m.message_id for m in opened])
        last = await self._channels(session, sorted({m.issuer.uri for m in opened}))
        initial = dict(last)
        blocked: set[str] = set()
        outcomes = []
        for delivery in deliveries:
            outcome = await self._one(session, delivery, seen, last, blocked)
            outcomes.append(outcome)
        await self._save_channels(session, initial, last)
        return outcomes

    async def _one(
        self,
        session: AsyncSession,
        d: _Delivery,
        seen: dict[str, int],
        last: dict[str, int],
        blocked: set[str],
    ) -> Outcome:
        if d.message is None:
            reason, detail = d.refusal or ("refused", "")
            await self._dead_letter(session, d, reason, detail)
            return Outcome.REFUSED
        m = d.message
        if m.message_id in seen:
            if seen[m.message_id] == d.stream_sequence:
                return Outcome.DUPLICATE  # redelivered after a crash before the ack
            await self._dead_letter(session, d, "replayed", f"message {m.message_id} seen before")
            return Outcome.REFUSED
        sender = m.issuer.uri
        expected = last.get(sender, 0) + 1
        if sender in blocked or m.sequence > expected:
            blocked.add(sender)
            return Outcome.DEFERRED
        if m.sequence < expected:
            detail = f"sequence {m.sequence} after {expected - 1}"
            await self._dead_letter(session, d, "sequence_regression", detail)
            return Outcome.REFUSED
        if d.refused_in_time:
            reason, detail = d.refusal or ("refused", "")
            await self._dead_letter(session, d, reason, detail)
            outcome = Outcome.REJECTED
        else:
            outcome = await self._apply_one(session, d, m)
        await session.execute(
            self._t.inbox_messages.insert().values(
                message_id=m.message_id,
                sender=sender,
                sequence=m.sequence,
                stream_sequence=d.stream_sequence,
                message_type=m.type,
                outcome=outcome.value,
                received_at=self._clock(),
            )
        )
        seen[m.message_id] = d.stream_sequence
        last[sender] = m.sequence
        return outcome

    async def _apply_one(self, session: AsyncSession, d: _Delivery, m: SignedMessage) -> Outcome:
        parts: list[str] = session.info.setdefault(PART_REASONS, [])
        mark = len(parts)  # parts the handler dead-letters count only if it succeeds
        try:
            async with session.begin_nested():
                await self._apply(session, m, self._opener)
        except Rejected as exc:
            del parts[mark:]
            await self._dead_letter(session, d, exc.reason, exc.detail)
            return Outcome.REJECTED
        except (IntegrityError, DataError) as exc:
            # deterministic for this message: retrying would freeze the inbox behind it
            del parts[mark:]
            await self._dead_letter(session, d, "apply_failed", type(exc).__name__)
            return Outcome.REJECTED
        for reason in parts[mark:]:
            if self._on_dead_letter is not None:
                self._on_dead_letter(reason)
        del parts[mark:]
        return Outcome.APPLIED

    async def _seen(self, session: AsyncSession, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        t = self._t.inbox_messages
        rows = await session.execute(
            select(t.c.message_id, t.c.stream_sequence).where(t.c.message_id.in_(ids))
        )
        return {r.message_id: r.stream_sequence for r in rows}

    async def _channels(self, session: AsyncSession, senders: list[str]) -> dict[str, int]:
        if not senders:
            return {}
        t = self._t.inbox_channels
        rows = await session.execute(
            select(t.c.sender, t.c.last_sequence).where(t.c.sender.in_(senders))
        )
        return {r.sender: r.last_sequence for r in rows}

    async def _save_channels(
        self, session: AsyncSession, initial: dict[str, int], last: dict[str, int]
    ) -> None:
        t = self._t.inbox_channels
        for sender, sequence in last.items():
            if sender not in initial:
                await session.execute(t.insert().values(sender=sender, last_sequence=sequence))
            elif initial[sender] != sequence:
                await session.execute(
                    update(t).where(t.c.sender == sender).values(last_sequence=sequence)
                )

    async def _dead_letter(
        self, session: AsyncSession, d: _Delivery, reason: str, detail: str
    ) -> None:
        message_id = d.message.message_id if d.message is not None else None
        if self._on_dead_letter is not None:
            self._on_dead_letter(reason)
        log.error(
            "dead letter: reason=%s from=%s stream_seq=%d message=%s",
            reason,
            d.subject_sender,
            d.stream_sequence,
            message_id or "-",
        )
        await session.execute(
            self._t.dead_letters.insert().values(
                received_at=self._clock(),
                subject_sender=d.subject_sender,
                stream_sequence=d.stream_sequence,
                message_id=message_id,
                reason=reason[:64],
                detail=detail[:500],
            )
        )

    async def _settle(self, deliveries: list[_Delivery], outcomes: list[Outcome]) -> None:
        for d, outcome in zip(deliveries, outcomes, strict=True):
            if outcome in (Outcome.APPLIED, Outcome.DUPLICATE):
                await d.msg.ack()
            elif outcome is Outcome.DEFERRED:
                await d.msg.nak(delay=self._gap_delay)
            else:
                await d.msg.term()
            if self._on_outcome is not None:
                self._on_outcome(outcome, d.subject_sender)
