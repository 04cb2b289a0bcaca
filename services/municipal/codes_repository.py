"""The SQL of the resident-code pool: the codes the agency designated to this
municipality (``code_pool``) and the refill requests sent for more
(``code_pool_requests``). Every method runs in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal.models import CodePoolEntry, CodeRequest

__all__ = ["CodePoolRepository"]


class CodePoolRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def any_undrawn(self) -> str | None:
        """One undrawn code at random, or None. On PostgreSQL, rows another transaction
        is drawing are skipped rather than waited for."""
        query = (
            select(CodePoolEntry.code)
            .where(CodePoolEntry.drawn_at.is_(None))
            .order_by(func.random())
            .limit(1)
        )
        bind = self.session.bind
        if bind is not None and bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return (await self.session.scalars(query)).first()

    async def mark_drawn(self, code: str, *, now: dt.datetime) -> None:
        await self.session.execute(
            update(CodePoolEntry).where(CodePoolEntry.code == code).values(drawn_at=now)
        )

    async def undrawn_count(self) -> int:
        query = (
            select(func.count()).select_from(CodePoolEntry).where(CodePoolEntry.drawn_at.is_(None))
        )
        return int(await self.session.scalar(query) or 0)

    async def in_pool(self, codes: Sequence[str]) -> set[str]:
        """Which of ``codes`` are in the pool, drawn or not."""
        query = select(CodePoolEntry.code).where(CodePoolEntry.code.in_(codes))
        return set(await self.session.scalars(query))

    async def add(self, codes: Sequence[str], *, designation_id: str) -> None:
        """Put designated ``codes`` in the pool, undrawn."""
        await self.session.execute(
            insert(CodePoolEntry),
            [{"code": c, "designation_id": designation_id} for c in codes],
        )

    async def unanswered_count(self) -> int:
        """Refill requests no designation answered yet."""
        query = (
            select(func.count()).select_from(CodeRequest).where(CodeRequest.answered_at.is_(None))
        )
        return int(await self.session.scalar(query) or 0)

    async def awaiting_answer(self, since: dt.datetime) -> bool:
        """Whether a request sent after ``since`` is still unanswered."""
        pending = await self.session.scalar(
            select(CodeRequest.request_id)
            .where(CodeRequest.answered_at.is_(None), CodeRequest.requested_at > since)
            .limit(1)
        )
        return pending is not None

    def add_request(self, request_id: str, *, wanted: int, now: dt.datetime) -> None:
        self.session.add(CodeRequest(request_id=request_id, wanted=wanted, requested_at=now))

    async def answered(self, request_id: str, *, designation_id: str, now: dt.datetime) -> None:
        await self.session.execute(
            update(CodeRequest)
            .where(CodeRequest.request_id == request_id)
            .values(answered_at=now, designation_id=designation_id)
        )
