"""The local resident-code pool: codes are drawn at random and never reissued."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.ids import generate_resident_code
from jukinet.pki import utcnow
from municipal.models import CodePoolEntry, Resident

__all__ = ["PoolExhausted", "draw_code", "refill_pool"]


class PoolExhausted(RuntimeError):
    """No undrawn code is left in this municipality's pool."""


async def refill_pool(session: AsyncSession, target: int) -> int:
    """Top the pool up to ``target`` undrawn codes; return how many were added."""
    undrawn = await session.scalar(
        select(func.count()).select_from(CodePoolEntry).where(CodePoolEntry.drawn_at.is_(None))
    )
    missing = target - int(undrawn or 0)
    fresh: set[str] = set()
    while len(fresh) < missing:
        fresh.add(generate_resident_code())
    if not fresh:
        return 0
    taken = await session.scalars(select(CodePoolEntry.code).where(CodePoolEntry.code.in_(fresh)))
    used = await session.scalars(
        select(Resident.resident_code).where(Resident.resident_code.in_(fresh))
    )
    fresh -= set(taken) | set(used)
    session.add_all(CodePoolEntry(code=code) for code in fresh)
    await session.flush()
    return len(fresh)


async def draw_code(session: AsyncSession) -> str:
    """Take one undrawn code at random (the resident can never choose it)."""
    undrawn = select(CodePoolEntry.code).where(CodePoolEntry.drawn_at.is_(None))
    count = int(await session.scalar(select(func.count()).select_from(undrawn.subquery())) or 0)
    if count == 0:
        raise PoolExhausted("the resident-code pool is empty")
    query = undrawn.order_by(CodePoolEntry.code).offset(secrets.randbelow(count)).limit(1)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    code = (await session.scalars(query)).first()
    if code is None:
        raise PoolExhausted("the resident-code pool is empty")
    await session.execute(
        update(CodePoolEntry).where(CodePoolEntry.code == code).values(drawn_at=utcnow())
    )
    return code
