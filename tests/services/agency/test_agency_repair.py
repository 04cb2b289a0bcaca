"""The agency's reconciliation repair at the tier boundary (agency/changes.py) on a real
SQLite database migrated once for the module, with real signed forwards: a town's
repair of a record another town holds is refused on its own — dead-lettered as
``foreign_resident`` with the detail it always had, the town told — and the record,
and the agency's list of applied origins, are left as they were."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import agency.models
from agency.changes import FORWARD_BATCH, REPAIR_BATCH, apply_forward
from agency.models import OriginMessage, bus, records
from jukinet.contracts.identity import ChangeReason, IdentityRecord, Sex
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import Principal
from jukinet.db.engine import create_engine, session_factory
from jukinet.db.migrations import upgrade
from jukinet.envelope import Opener, RecipientDirectory, Sealer, SignedMessage, forward_item
from jukinet.pki import Credentials, PkiLayout, TrustStore
from jukinet.records.refusals import CHANGE_REFUSED
from jukinet.records.repository import RecordRepository
from jukinet.records.tables import record_row
from tests.principals import AGENCY, HIRATSUKA, KANAGAWA, YOKOHAMA

pytestmark = pytest.mark.asyncio(loop_scope="session")
MIGRATIONS = Path(agency.models.__file__).parent / "migrations"
NOW = dt.datetime.now(dt.UTC)
TTL = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
async def sessions(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('agency') / 'node.db'}")
    await upgrade(engine, MIGRATIONS)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def credentials(layout: PkiLayout, who: Principal) -> Credentials:
    return Credentials.load(layout.node_dir(who), layout.ca_cert, who)


def record(code: str, town: str) -> IdentityRecord:
    return IdentityRecord(
        resident_code=code, municipality=town, name="見本 三郎", birth_date=dt.date(1985, 7, 7),
        sex=Sex.MALE, address="神奈川県のどこか4-4", change_reason=ChangeReason.BIRTH,
        change_date=dt.date(1985, 7, 7),
    )  # fmt: skip


def forwarded_repair(layout: PkiLayout, trust: TrustStore, code: str) -> tuple[str, SignedMessage]:
    """Hiratsuka's repair of ``code``, forwarded by Kanagawa, as the agency's inbox opens
    it; and the repair's own message id."""
    directory = RecipientDirectory.from_layout(layout, trust)
    item = {"records": [{"record": record(code, HIRATSUKA.code).model_dump(mode="json"),
                         "version": 1}], "absent": []}  # fmt: skip
    town = Sealer(credentials(layout, HIRATSUKA), directory)
    sealed = town.seal(audience=KANAGAWA, type=REPAIR_BATCH, payload={"items": [item]},
                       sequence=1, ttl=TTL)  # fmt: skip
    origin = Opener(credentials(layout, KANAGAWA), trust).open(sealed.token)
    prefecture = Sealer(credentials(layout, KANAGAWA), directory)
    forward = prefecture.seal(audience=AGENCY, type=FORWARD_BATCH,
                              payload={"items": [forward_item(origin)]}, sequence=1, ttl=TTL)  # fmt: skip
    return origin.message_id, Opener(credentials(layout, AGENCY), trust).open(forward.token)


async def test_a_repair_of_another_towns_resident_is_refused_alone(
    sessions: async_sessionmaker[AsyncSession], layout: PkiLayout, trust: TrustStore
) -> None:
    code = generate_resident_code()
    yokohamas = record_row(record(code, YOKOHAMA.code), 2, "y" * 32, NOW)
    async with sessions() as session, session.begin():
        await RecordRepository(session, records).save({code: yokohamas}, existing=set())
    origin_id, forward = forwarded_repair(layout, trust, code)
    agency_opener = Opener(credentials(layout, AGENCY), trust)
    async with sessions() as session, session.begin():
        await apply_forward(session, forward, agency_opener)  # refused inside, not raised
    async with sessions() as session:
        assert await RecordRepository(session, records).get(code) == yokohamas
        dead = (await session.execute(select(bus.dead_letters))).all()
        told = (await session.execute(select(bus.outbox_items))).all()
        applied = list(await session.scalars(select(OriginMessage.message_id)))
    assert [(d.subject_sender, d.message_id, d.reason, d.detail) for d in dead] == [
        (HIRATSUKA.code, origin_id, "foreign_resident",
         "a repair may only touch the municipality's own records"),
    ]  # fmt: skip
    assert [(t.recipient, t.message_type) for t in told] == [(HIRATSUKA.uri, CHANGE_REFUSED)]
    assert applied == []  # the origin's savepoint rolled back: it is not marked applied
