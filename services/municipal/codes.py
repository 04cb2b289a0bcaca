"""The local resident-code pool: codes are drawn at random and never reissued."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.ids import generate_resident_code
from jukinet.pki import utcnow
from jukinet.problems import Problem
from municipal.models import CodePoolEntry, Resident

__all__ = ["PoolExhausted", "draw_code", "refill_pool"]


class PoolExhausted(Problem):
    """No undrawn code is left in this municipality's pool."""

    status, type, title = 503, "code-pool-exhausted", "No resident code is available"


async def refill_pool(session: AsyncSession, target: int, *, low_water: int | None = None) -> int:
    """Top the pool up to ``target`` undrawn codes (only once it is below ``low_water``,
    when given); return how many were added."""
    undrawn = int(
        await session.scalar(
            select(func.count()).select_from(CodePoolEntry).where(CodePoolEntry.drawn_at.is_(None))
        )
        or 0
    )
    if low_water is not None and undrawn >= low_water:
        return 0
    missing = target - undrawn
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
    """Take one undrawn code at random (the resident can never choose it).

    The pool is kept small (its target size), so ordering it randomly is cheap; on
    PostgreSQL, rows another transaction is drawing are skipped rather than waited for.
    """
    query = (
        select(CodePoolEntry.code)
        .where(CodePoolEntry.drawn_at.is_(None))
        .order_by(func.random())
        .limit(1)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    code = (await session.scalars(query)).first()
    if code is None:
        raise PoolExhausted("the resident-code pool is empty")
    await session.execute(
        update(CodePoolEntry).where(CodePoolEntry.code == code).values(drawn_at=utcnow())
    )
    return code
