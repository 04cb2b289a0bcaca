"""A prefecture's reconciliation repair at the tier boundary (prefecture/changes.py) on a
real SQLite database migrated once for the module: a repair of a record another town
holds is the record store's own refusal, dead-lettered by the inbox as ``Rejected``
with the same reason and detail it always had — and changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import prefecture.models
from jukinet.bus import Rejected
from jukinet.contracts.identity import ChangeReason, IdentityRecord, Sex
from jukinet.contracts.ids import generate_resident_code
from jukinet.db.engine import create_engine, session_factory
from jukinet.db.migrations import upgrade
from jukinet.envelope import SignedMessage
from jukinet.records.repository import RecordRepository
from jukinet.records.tables import record_row
from prefecture.changes import REPAIR_BATCH, apply_repair_message
from prefecture.models import bus, records
from tests.principals import HIRATSUKA, KANAGAWA, YOKOHAMA

pytestmark = pytest.mark.asyncio(loop_scope="session")
MIGRATIONS = Path(prefecture.models.__file__).parent / "migrations"
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
async def sessions(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('prefecture') / 'node.db'}")
    await upgrade(engine, MIGRATIONS)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def record(code: str, town: str) -> IdentityRecord:
    return IdentityRecord(
        resident_code=code, municipality=town, name="見本 次郎", birth_date=dt.date(1975, 3, 3),
        sex=Sex.MALE, address="神奈川県のどこか3-3", change_reason=ChangeReason.BIRTH,
        change_date=dt.date(1975, 3, 3),
    )  # fmt: skip


def repair(code: str) -> SignedMessage:
    """Hiratsuka's repair setting ``code`` to its own record, as the inbox opens it."""
    item = {"records": [{"record": record(code, HIRATSUKA.code).model_dump(mode="json"),
                         "version": 1}], "absent": []}  # fmt: skip
    return SignedMessage(
        issuer=HIRATSUKA, audience=KANAGAWA, message_id="a" * 32, issued_at=0, expires_at=0,
        sequence=1, type=REPAIR_BATCH, payload={"items": [item]}, token="",
        signer=cast(Any, None),
    )  # fmt: skip


async def test_a_repair_of_another_towns_resident_is_rejected_as_foreign_resident(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    code = generate_resident_code()
    yokohamas = record_row(record(code, YOKOHAMA.code), 2, "y" * 32, NOW)
    async with sessions() as session, session.begin():
        await RecordRepository(session, records).save({code: yokohamas}, existing=set())
    with pytest.raises(Rejected) as refused:
        async with sessions() as session, session.begin():
            await apply_repair_message(session, repair(code))
    assert (refused.value.reason, refused.value.detail) == (
        "foreign_resident",
        "a repair may only touch the municipality's own records",
    )
    async with sessions() as session:
        assert await RecordRepository(session, records).get(code) == yokohamas
        forwards = await session.scalars(bus.outbox_items.select())
        assert list(forwards) == []  # nothing goes on to the agency
