"""insert_rows writes exactly what SQLAlchemy's own executemany would — dates, aware
datetimes through UtcDateTime, NULLs, text beyond ASCII — on SQLite and PostgreSQL,
inside the caller's transaction (a rollback keeps nothing)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from jukinet.db.bulk import insert_rows
from jukinet.db.engine import UtcDateTime, create_engine, session_factory

METADATA = MetaData()
ROWS = Table(
    "bulk_rows",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), nullable=False),
    Column("born", Date, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
)
JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
async def engine(module_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(module_database_url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.drop_all)
        await conn.run_sync(METADATA.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


def _rows(count: int) -> list[dict[str, object]]:
    start = dt.datetime(2026, 4, 1, 9, 30, tzinfo=JST)
    return [
        {
            "id": i,
            "name": f"住基 {i}",
            "born": None if i % 7 == 0 else dt.date(1950, 1, 1) + dt.timedelta(days=i),
            "at": start + dt.timedelta(seconds=i),
        }
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [3, 500])
async def test_rows_come_back_as_written(engine: AsyncEngine, count: int) -> None:
    written = _rows(count)
    async with session_factory(engine)() as session, session.begin():
        await insert_rows(session, ROWS, written)
    async with engine.connect() as conn:
        read = [dict(r._mapping) for r in await conn.execute(select(ROWS).order_by(ROWS.c.id))]
    assert read == written  # aware datetimes compare by instant; UtcDateTime gives UTC
    assert all(r["at"].tzinfo == dt.UTC for r in read)


async def _insert_then_fail(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session, session.begin():
        await insert_rows(session, ROWS, _rows(200))
        raise RuntimeError("the rest of the transaction failed")


async def test_a_rollback_keeps_nothing(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        await _insert_then_fail(engine)
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(ROWS)) == 0
