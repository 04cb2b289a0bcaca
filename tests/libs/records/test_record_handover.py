"""How a tier hands a record from one town to another (libs/jukinet/records/store.py), on a real
SQLite database: only the same person, only once the holder's move-out is on file (a
move-in that arrives first is held until it does), late changes of former holders kept
as history, never a resurrection of a retired or dead record — and each change of a
batch stands or falls alone."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import ChangeReason, IdentityChange, IdentityRecord, Sex
from jukinet.contracts.ids import generate_resident_code
from jukinet.db.engine import create_engine, session_factory
from jukinet.records.store import AppliedChanges, RecordTables, apply_changes, record_tables

pytestmark = pytest.mark.asyncio(loop_scope="session")
YOKOHAMA, TOKYO_TOWN, HIRATSUKA = "141003", "131016", "142034"
BIRTH = dt.date(1980, 4, 1)
DAY = dt.date(2026, 1, 10)
_ids = itertools.count()


@pytest.fixture
async def tier(tmp_path: Any) -> AsyncIterator[tuple[AsyncSession, RecordTables]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'tier.db'}")
    metadata = MetaData()
    tables = record_tables(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        async with session_factory(engine)() as session:
            yield session, tables
    finally:
        await engine.dispose()


def change(
    code: str,
    town: str,
    reason: ChangeReason,
    *,
    version: int = 1,
    day: dt.date = DAY,
    came_from: str | None = None,
    birth: dt.date = BIRTH,
) -> IdentityChange:
    record = IdentityRecord(
        resident_code=code, municipality=town, name="見本 太郎", birth_date=birth,
        sex=Sex.MALE, address="どこか1-1", change_reason=reason, change_date=day,
    )  # fmt: skip
    return IdentityChange(
        record=record, version=version, previous_municipality=came_from,
        correlation_id=f"{next(_ids):016x}",
    )  # fmt: skip


async def apply(
    tier: tuple[AsyncSession, RecordTables], *changes: IdentityChange
) -> AppliedChanges:
    session, tables = tier
    async with session.begin():
        return await apply_changes(session, tables, list(changes), origin_message_id="m" * 32,
                                   now=dt.datetime.now(dt.UTC))  # fmt: skip


def refusals(done: AppliedChanges) -> list[tuple[str, str]]:
    return [(r.correlation_id, r.reason) for r in done.refused]


async def holder(tier: tuple[AsyncSession, RecordTables], code: str) -> tuple[str, str, str]:
    session, tables = tier
    r = tables.records
    async with session.begin():
        row = (await session.execute(select(r).where(r.c.resident_code == code))).one()
    return row.municipality, row.status, row.change_reason


async def test_a_move_in_of_another_person_is_refused(tier: Any) -> None:
    code = generate_resident_code()
    await apply(tier, change(code, YOKOHAMA, ChangeReason.BIRTH, day=BIRTH))
    impostor = change(code, HIRATSUKA, ChangeReason.MOVE_IN, came_from=YOKOHAMA,
                      birth=dt.date(1990, 1, 1))  # fmt: skip
    done = await apply(tier, impostor)
    assert refusals(done) == [(impostor.correlation_id, "foreign_resident")]
    assert await holder(tier, code) == (YOKOHAMA, "live", "birth")


async def test_moving_back_is_not_undone_by_a_late_move_in(tier: Any) -> None:
    code = generate_resident_code()
    await apply(tier, change(code, YOKOHAMA, ChangeReason.BIRTH, day=BIRTH))
    away = change(code, HIRATSUKA, ChangeReason.MOVE_IN, came_from=YOKOHAMA, day=DAY)
    back = change(code, YOKOHAMA, ChangeReason.MOVE_IN, version=3, came_from=HIRATSUKA,
                  day=DAY + dt.timedelta(days=30))  # fmt: skip
    await apply(tier, back)  # Hiratsuka's move-in is late (another prefecture's path)
    await apply(tier, away)
    await apply(tier, change(code, HIRATSUKA, ChangeReason.MOVE_OUT, version=2, day=DAY))
    assert await holder(tier, code) == (YOKOHAMA, "live", "move_in")


async def test_a_town_of_the_old_prefecture_takes_over_a_moved_out_record(tier: Any) -> None:
    """Yokohama → a Tokyo town → Hiratsuka, seen from Kanagawa: the Tokyo town never
    reached this tier, so Hiratsuka's move-in names a town it does not know."""
    code = generate_resident_code()
    await apply(tier, change(code, YOKOHAMA, ChangeReason.BIRTH, day=BIRTH))
    await apply(tier, change(code, YOKOHAMA, ChangeReason.MOVE_OUT, version=2, day=DAY))
    later = DAY + dt.timedelta(days=90)
    await apply(
        tier, change(code, HIRATSUKA, ChangeReason.MOVE_IN, came_from=TOKYO_TOWN, day=later)
    )
    assert await holder(tier, code) == (HIRATSUKA, "live", "move_in")
    # the old town's late change is history only, and nothing else of its batch is lost
    other = generate_resident_code()
    await apply(
        tier,
        change(code, YOKOHAMA, ChangeReason.IN_TOWN_MOVE, version=3, day=DAY),
        change(other, YOKOHAMA, ChangeReason.BIRTH, day=BIRTH),
    )
    assert await holder(tier, code) == (HIRATSUKA, "live", "move_in")
    assert await holder(tier, other) == (YOKOHAMA, "live", "birth")


@pytest.mark.parametrize("ending", [ChangeReason.DEATH, ChangeReason.EX_OFFICIO_DELETION])
async def test_a_dead_or_deleted_record_is_never_handed_over(
    tier: Any, ending: ChangeReason
) -> None:
    code = generate_resident_code()
    await apply(tier, change(code, YOKOHAMA, ChangeReason.BIRTH, day=BIRTH))
    await apply(tier, change(code, YOKOHAMA, ending, version=2, day=DAY))
    done = await apply(tier, change(code, HIRATSUKA, ChangeReason.MOVE_IN, came_from=YOKOHAMA))
    assert [r.reason for r in done.refused] == ["foreign_resident"]
    assert await holder(tier, code) == (YOKOHAMA, "deleted", ending.value)


async def test_two_moves_in_one_batch(tier: Any) -> None:
    code = generate_resident_code()
    await apply(tier, change(code, YOKOHAMA, ChangeReason.BIRTH, day=BIRTH))
    later = DAY + dt.timedelta(days=10)
    await apply(
        tier,
        change(code, HIRATSUKA, ChangeReason.MOVE_IN, came_from=YOKOHAMA, day=DAY),
        change(code, YOKOHAMA, ChangeReason.MOVE_OUT, version=2, day=DAY),
        change(code, HIRATSUKA, ChangeReason.MOVE_OUT, version=2, day=later),
    )
    assert await holder(tier, code) == (HIRATSUKA, "deleted", "move_out")


async def test_a_move_in_naming_a_live_holder_takes_nothing_over(tier: Any) -> None:
    """No move-out on file: the move-in is held as history, the holder keeps the record —
    and a held move-in older than the holder's eventual move-out is never promoted."""
    code = generate_resident_code()
    await apply(tier, change(code, YOKOHAMA, ChangeReason.BIRTH, day=BIRTH))
    done = await apply(tier, change(code, HIRATSUKA, ChangeReason.MOVE_IN, came_from=YOKOHAMA))
    assert (done.current, done.refused) == (0, [])
    assert await holder(tier, code) == (YOKOHAMA, "live", "birth")
    later = DAY + dt.timedelta(days=60)
    await apply(tier, change(code, YOKOHAMA, ChangeReason.MOVE_OUT, version=2, day=later))
    assert await holder(tier, code) == (YOKOHAMA, "deleted", "move_out")


async def test_a_move_out_arriving_after_the_move_in_hands_the_record_over(tier: Any) -> None:
    code = generate_resident_code()
    await apply(tier, change(code, YOKOHAMA, ChangeReason.BIRTH, day=BIRTH))
    await apply(tier, change(code, HIRATSUKA, ChangeReason.MOVE_IN, came_from=YOKOHAMA))
    later = DAY + dt.timedelta(days=5)
    await apply(tier, change(code, HIRATSUKA, ChangeReason.IN_TOWN_MOVE, version=2, day=later))
    assert await holder(tier, code) == (YOKOHAMA, "live", "birth")
    await apply(tier, change(code, YOKOHAMA, ChangeReason.MOVE_OUT, version=2, day=DAY))
    assert await holder(tier, code) == (HIRATSUKA, "live", "in_town_move")  # its newest


async def test_one_refused_change_leaves_the_rest_of_the_batch(tier: Any) -> None:
    held, mine = generate_resident_code(), generate_resident_code()
    await apply(tier, change(held, YOKOHAMA, ChangeReason.BIRTH, day=BIRTH))
    wrong_town = change(held, HIRATSUKA, ChangeReason.MOVE_IN, came_from=TOKYO_TOWN)
    birth = change(mine, HIRATSUKA, ChangeReason.BIRTH, day=BIRTH)
    done = await apply(tier, wrong_town, birth)
    assert refusals(done) == [(wrong_town.correlation_id, "foreign_resident")]
    assert (done.current, done.accepted) == (1, [birth])
    assert await holder(tier, held) == (YOKOHAMA, "live", "birth")
    assert await holder(tier, mine) == (HIRATSUKA, "live", "birth")
    session, tables = tier
    h = tables.history
    async with session.begin():
        towns = (await session.scalars(select(h.c.municipality).where(
            h.c.resident_code == held))).all()  # fmt: skip
    assert towns == [YOKOHAMA]  # the refused change left no history
