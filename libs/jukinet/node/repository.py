"""The SQL of a node's bus bookkeeping as operations see it: counts for the status page
and metrics, dead letters, and the outbox items set aside as undeliverable. Counts and
opaque ids only: a message's content is never read here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import BusTables, set_aside

__all__ = ["BusRepository", "DeadLetterRow", "UndeliverableRow"]


class DeadLetterRow(NamedTuple):
    id: int
    received_at: dt.datetime
    subject_sender: str
    stream_sequence: int
    message_id: str | None
    reason: str
    detail: str


class UndeliverableRow(NamedTuple):
    """An outbox item set aside: what and to whom, why and since when; never its content."""

    id: int
    recipient: str
    message_type: str
    undeliverable: str
    created_at: dt.datetime
    set_aside_at: dt.datetime | None


class BusRepository:
    def __init__(self, session: AsyncSession, tables: BusTables) -> None:
        self.session = session
        self.tables = tables

    async def counts(self) -> dict[str, int]:
        """Outbox backlog, unsent and undeliverable messages, inbox and dead letters."""
        t = self.tables
        backlog = await self.session.scalar(
            select(func.count()).where(
                t.outbox_items.c.message_id.is_(None), t.outbox_items.c.undeliverable.is_(None)
            )
        )
        undeliverable = await self.session.scalar(
            select(func.count()).where(set_aside(t.outbox_items))
        )
        unsent = await self.session.scalar(
            select(func.count()).where(t.outbox_messages.c.sent_at.is_(None))
        )
        dead = await self.session.scalar(select(func.count()).select_from(t.dead_letters))
        received = await self.session.scalar(select(func.count()).select_from(t.inbox_messages))
        return {
            "outbox_unsealed": int(backlog or 0),
            "outbox_unsent": int(unsent or 0),
            "outbox_undeliverable": int(undeliverable or 0),
            "inbox_received": int(received or 0),
            "dead_letters": int(dead or 0),
        }

    async def undeliverable_by_reason(self) -> dict[str, int]:
        """Outbox items set aside and not resolved, per reason code."""
        t = self.tables.outbox_items
        rows = await self.session.execute(
            select(t.c.undeliverable, func.count()).where(set_aside(t)).group_by(t.c.undeliverable)
        )
        return {str(reason): int(n) for reason, n in rows}

    async def dead_letters(self, limit: int) -> list[DeadLetterRow]:
        """The most recent dead letters first."""
        t = self.tables.dead_letters
        rows = await self.session.execute(select(t).order_by(t.c.id.desc()).limit(limit))
        return [DeadLetterRow(**r._mapping) for r in rows]

    async def undeliverable(self, limit: int) -> list[UndeliverableRow]:
        """Outbox items set aside and not resolved, oldest first."""
        t = self.tables.outbox_items
        columns = [t.c[name] for name in UndeliverableRow._fields]
        rows = await self.session.execute(
            select(*columns).where(self._set_aside()).order_by(t.c.id).limit(limit)
        )
        return [UndeliverableRow(**r._mapping) for r in rows]

    async def retry(self, ids: Sequence[int], recipient: str | None) -> int:
        """Put the selected set-aside items back in line; how many."""
        t = self.tables.outbox_items
        result = await self.session.execute(
            update(t)
            .where(self._set_aside(ids, recipient))
            .values(undeliverable=None, set_aside_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def resolve(self, ids: Sequence[int], recipient: str | None, *, now: dt.datetime) -> int:
        """Close the selected set-aside items for good; how many."""
        t = self.tables.outbox_items
        result = await self.session.execute(
            update(t).where(self._set_aside(ids, recipient)).values(resolved_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def _set_aside(
        self, ids: Sequence[int] = (), recipient: str | None = None
    ) -> ColumnElement[bool]:
        """Set-aside items: the listed ``ids`` (all if none), of ``recipient`` if given."""
        items = self.tables.outbox_items
        clauses: list[ColumnElement[bool]] = [set_aside(items)]
        if ids:
            clauses.append(items.c.id.in_(ids))
        if recipient is not None:
            clauses.append(items.c.recipient == recipient)
        return and_(*clauses)
