"""The record aggregate's SQL (libs/jukinet/records/repository.py) on a real SQLite
database, created once for the module; each test works on codes of its own. Rows come
back typed, and a refused repair is the store's own error, which the tier boundary
turns into the bus's refusal with the same reason and detail."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.bus import Rejected
from jukinet.contracts.identity import ChangeReason, IdentityChange, IdentityRecord, Sex
from jukinet.contracts.ids import generate_resident_code
from jukinet.db.engine import create_engine, session_factory
from jukinet.records.errors import ForeignResident, RecordRefused
from jukinet.records.refusals import rejected
from jukinet.records.repository import RecordRepository
from jukinet.records.store import repair_records
from jukinet.records.tables import (
    HistoryRow,
    RecordRow,
    RecordStatus,
    RecordTables,
    history_row,
    record_row,
    record_tables,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")
YOKOHAMA, HIRATSUKA = "141003", "142034"
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
ORIGIN = "m" * 32


@pytest.fixture(scope="module")
async def store(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], RecordTables]]:
    path: Path = tmp_path_factory.mktemp("records") / "tier.db"
    engine = create_engine(f"sqlite:///{path}")
    metadata = MetaData()
    tables = record_tables(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield session_factory(engine), tables
    finally:
        await engine.dispose()


def record(code: str, town: str, reason: ChangeReason = ChangeReason.BIRTH) -> IdentityRecord:
    return IdentityRecord(
        resident_code=code, municipality=town, name="見本 花子", birth_date=dt.date(1990, 5, 1),
        sex=Sex.FEMALE, address="どこか2-2", change_reason=reason, change_date=dt.date(2026, 1, 5),
    )  # fmt: skip


def history(code: str, town: str, version: int) -> HistoryRow:
    change = IdentityChange(
        record=record(code, town), version=version, correlation_id=f"{version:016x}"
    )
    return history_row(change, ORIGIN, NOW)


async def test_records_are_inserted_then_updated_and_read_back_typed(
    store: tuple[async_sessionmaker[AsyncSession], RecordTables],
) -> None:
    sessions, tables = store
    code = generate_resident_code()
    first = record_row(record(code, YOKOHAMA), 1, ORIGIN, NOW)
    async with sessions() as session, session.begin():
        await RecordRepository(session, tables).save({code: first}, existing=set())
    deleted = record_row(record(code, YOKOHAMA, ChangeReason.MOVE_OUT), 2, ORIGIN, NOW)
    async with sessions() as session, session.begin():
        repo = RecordRepository(session, tables)
        assert await repo.current({code, generate_resident_code()}) == {code: first}
        await repo.save({code: deleted}, existing={code})
    async with sessions() as session:
        row = await RecordRepository(session, tables).get(code)
    assert isinstance(row, RecordRow)
    assert row == deleted
    assert (row.status, row.version) == (RecordStatus.DELETED.value, 2)
    assert row.identity() == record(code, YOKOHAMA, ChangeReason.MOVE_OUT)


async def test_history_is_read_oldest_first_and_by_town(
    store: tuple[async_sessionmaker[AsyncSession], RecordTables],
) -> None:
    sessions, tables = store
    code, other = generate_resident_code(), generate_resident_code()
    rows = [history(code, YOKOHAMA, 1), history(code, HIRATSUKA, 1), history(code, HIRATSUKA, 2)]
    async with sessions() as session, session.begin():
        repo = RecordRepository(session, tables)
        await repo.add_history([*rows, history(other, YOKOHAMA, 1)])
        await repo.add_history([])  # nothing to write is no statement
    async with sessions() as session:
        repo = RecordRepository(session, tables)
        assert await repo.history(code) == rows
        assert await repo.history_elsewhere(code, YOKOHAMA) == rows[1:]
        assert await repo.towns_in_history({code, other}) == {
            (code, YOKOHAMA), (code, HIRATSUKA), (other, YOKOHAMA)
        }  # fmt: skip
        assert await repo.towns_in_history(set()) == set()
    assert rows[0].identity() == record(code, YOKOHAMA)


async def test_dropping_touches_only_the_named_towns_records_and_never_history(
    store: tuple[async_sessionmaker[AsyncSession], RecordTables],
) -> None:
    sessions, tables = store
    mine, theirs = generate_resident_code(), generate_resident_code()
    rows = {
        mine: record_row(record(mine, HIRATSUKA), 1, ORIGIN, NOW),
        theirs: record_row(record(theirs, YOKOHAMA), 1, ORIGIN, NOW),
    }
    async with sessions() as session, session.begin():
        repo = RecordRepository(session, tables)
        before = await repo.counts()
        await repo.save(rows, existing=set())
        await repo.add_history([history(mine, HIRATSUKA, 1)])
        assert await repo.drop([mine, theirs], municipality=HIRATSUKA) == 1
        assert set(await repo.current({mine, theirs})) == {theirs}
        after = await repo.counts()
    live = RecordStatus.LIVE.value
    assert after["records"][live] == before["records"].get(live, 0) + 1
    assert after["history"] == before["history"] + 1  # a repair's drop keeps the history


async def test_a_repair_of_another_towns_resident_is_refused_with_the_bus_reason(
    store: tuple[async_sessionmaker[AsyncSession], RecordTables],
) -> None:
    sessions, tables = store
    code = generate_resident_code()
    held = record_row(record(code, YOKOHAMA), 3, ORIGIN, NOW)
    async with sessions() as session, session.begin():
        await RecordRepository(session, tables).save({code: held}, existing=set())
    with pytest.raises(ForeignResident) as refused:
        async with sessions() as session, session.begin():
            await repair_records(
                session, tables, [(record(code, HIRATSUKA), 1)], [], municipality=HIRATSUKA,
                origin_message_id=ORIGIN, now=NOW,
            )  # fmt: skip
    assert not isinstance(refused.value, Rejected)  # the store's own error, not the bus's
    async with sessions() as session:
        assert await RecordRepository(session, tables).get(code) == held
    as_bus = rejected(refused.value)
    assert isinstance(as_bus, Rejected)
    assert (as_bus.reason, as_bus.detail) == (
        "foreign_resident",
        "a repair may only touch the municipality's own records",
    )


async def test_every_record_refusal_has_a_stable_reason() -> None:
    reasons = {cls.reason for cls in RecordRefused.__subclasses__()}
    assert reasons == {"foreign_record", "foreign_resident", "code_not_designated"}
