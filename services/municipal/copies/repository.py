"""The SQL of the two copy ledgers: copies asked for at this counter (``issued_copies``)
and requests answered for this town's residents (``copy_provisions``). The register's
own rows are read through :mod:`municipal.residents.repository`."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal.copies.models import CopyProvision, IssuedCopy

__all__ = ["CopyProvisions", "IssuedCopies"]


class IssuedCopies:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: IssuedCopy) -> int:
        """Record a copy asked for; return its number (the copy's serial)."""
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def mark(self, serial: int, *, outcome: str, reason: str) -> None:
        query = update(IssuedCopy).where(IssuedCopy.id == serial)
        await self.session.execute(query.values(outcome=outcome, reason=reason))


class CopyProvisions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def answered(self, request_message_id: str) -> bool:
        """Whether the request carried by this message was answered before."""
        seen = select(CopyProvision.id).where(
            CopyProvision.request_message_id == request_message_id
        )
        return await self.session.scalar(seen) is not None

    def add(self, provision: CopyProvision) -> None:
        self.session.add(provision)
