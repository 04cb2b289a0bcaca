"""The SQL of disclosure requests made at this counter and the tiers' answers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal.models import Disclosure, DisclosureAnswer

__all__ = ["DisclosureRepository"]


class DisclosureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, disclosure_id: str) -> Disclosure | None:
        return await self.session.get(Disclosure, disclosure_id)

    async def add(self, disclosure: Disclosure) -> None:
        """Record a request (flushed: its messages follow in the same transaction)."""
        self.session.add(disclosure)
        await self.session.flush()

    async def answers(self, disclosure_id: str) -> list[DisclosureAnswer]:
        query = select(DisclosureAnswer).where(DisclosureAnswer.disclosure_id == disclosure_id)
        return list(await self.session.scalars(query))

    def add_answer(self, answer: DisclosureAnswer) -> None:
        self.session.add(answer)
