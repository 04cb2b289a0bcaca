"""The agency's national code registry on a real database (SQLite and PostgreSQL): codes
are designated only if never seen, a retired or designated code is never designated
again — even by a random source that keeps repeating it — and refill requests are
checked before anything is drawn; a migrated register's codes are registered as its
town's only if never seen; a new record needs a code designated to its town. Also the
wire contract of :mod:`jukinet.contracts.codepool`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import agency.models
from agency.codes import (
    REGISTRY,
    CodeStatus,
    answer_refill,
    designate,
    register_migrated,
    retire_codes,
)
from agency.models import CodeRegistryEntry, bus, records
from jukinet.bus import Rejected
from jukinet.contracts.codepool import (
    CODE_POOL,
    CODE_REFILL_REQUEST_BATCH,
    MAX_CODES_PER_REQUEST,
    parse_designations,
    parse_refill_requests,
)
from jukinet.contracts.identity import ChangeReason, IdentityChange, IdentityRecord, Sex
from jukinet.contracts.ids import is_valid_resident_code, resident_code_check_digit
from jukinet.contracts.principals import Principal
from jukinet.db.engine import session_factory
from jukinet.envelope import SignedMessage
from jukinet.pki import utcnow
from jukinet.records.store import apply_changes
from tests.conftest import empty_tables
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
REQUEST_ID = "ab" * 16


def code(body: int) -> str:
    """The resident code a random source yielding ``body`` produces."""
    digits = f"{body:010d}"
    return digits + str(resident_code_check_digit(digits))


def source(bodies: Iterable[int]) -> Callable[[int], int]:
    """A faked random source: these 10-digit bodies in turn, then the last one for ever."""
    queue = list(bodies)

    def randbelow(bound: int) -> int:
        assert bound == 10**10
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return randbelow


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the module's database, emptied first: every test starts from an empty
    registry and holds no records."""
    await empty_tables(engine, agency.models.Base.metadata)
    return session_factory(engine)


async def registry(sessions: async_sessionmaker[AsyncSession]) -> dict[str, CodeRegistryEntry]:
    async with sessions() as session:
        return {e.code: e for e in await session.scalars(select(CodeRegistryEntry))}


async def hold_record(sessions: async_sessionmaker[AsyncSession], resident_code: str) -> None:
    """A resident the agency already holds (say, from a migrated register)."""
    record = IdentityRecord(
        resident_code=resident_code, municipality=HIRATSUKA.code, name="平塚 太郎",
        birth_date=dt.date(1980, 1, 2), sex=Sex.MALE, address="神奈川県平塚市浅間町9番1号",
        change_reason=ChangeReason.BIRTH, change_date=dt.date(1980, 1, 2),
    )  # fmt: skip
    change = IdentityChange(record=record, version=1, correlation_id="0123456789abcdef")
    async with sessions() as session, session.begin():
        await apply_changes(session, records, [change], origin_message_id="m" * 32, now=NOW)


def message(issuer: Principal, payload: dict[str, Any]) -> SignedMessage:
    return SignedMessage(
        issuer=issuer, audience=Principal.parse("spiffe://jukinet/agency/jlis"),
        message_id="f" * 32, issued_at=0, expires_at=0, sequence=1,
        type=CODE_REFILL_REQUEST_BATCH, payload=payload, token="", signer=cast(Any, None),
    )  # fmt: skip


async def test_a_retired_or_designated_code_is_never_designated_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        first = await designate(session, CHIYODA.code, 1, now=NOW, randbelow=source([1]))
        await retire_codes(session, {code(2): HIRATSUKA.code}, now=NOW)
    await hold_record(sessions, code(3))
    assert first is not None
    assert first.codes == [code(1)]

    repeating = source([1, 2, 3, 1, 2, 3, 4, 1, 5])
    async with sessions() as session, session.begin():
        second = await designate(session, HIRATSUKA.code, 2, now=NOW, randbelow=repeating)

    assert second is not None
    assert second.codes == [code(4), code(5)]
    rows = await registry(sessions)
    assert set(rows) == {code(n) for n in (1, 2, 4, 5)}
    assert (rows[code(1)].municipality, rows[code(1)].status) == (CHIYODA.code, "designated")
    assert rows[code(1)].designation_id == first.designation_id
    assert (rows[code(2)].status, rows[code(2)].designation_id) == ("retired", None)
    assert {rows[code(n)].municipality for n in (4, 5)} == {HIRATSUKA.code}


async def test_a_source_repeating_only_known_codes_designates_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await designate(session, CHIYODA.code, 1, now=NOW, randbelow=source([7]))
        again = await designate(session, HIRATSUKA.code, 50, now=NOW, randbelow=source([7]))
    assert again is None
    assert list(await registry(sessions)) == [code(7)]


async def test_retiring_marks_designated_codes_and_records_unknown_ones(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await designate(session, HIRATSUKA.code, 1, now=NOW, randbelow=source([11]))
    later = NOW + dt.timedelta(days=1)
    async with sessions() as session, session.begin():
        retired = {code(11): HIRATSUKA.code, code(12): CHIYODA.code}
        assert await retire_codes(session, retired, now=later) == 2
    async with sessions() as session, session.begin():
        assert await retire_codes(session, {code(11): HIRATSUKA.code}, now=later) == 0

    rows = await registry(sessions)
    assert rows[code(11)].status == CodeStatus.RETIRED
    assert rows[code(11)].designated_at == NOW
    assert rows[code(11)].retired_at == later
    assert (rows[code(12)].municipality, rows[code(12)].designated_at) == (CHIYODA.code, None)


async def test_a_refill_request_is_answered_with_a_pool_in_the_same_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    asked = {"items": [{"request_id": REQUEST_ID, "wanted": 5, "remaining": 3}]}
    async with sessions() as session, session.begin():
        await answer_refill(session, message(HIRATSUKA, asked), now=NOW)
        queued = (await session.execute(select(bus.outbox_items))).all()

    assert len(queued) == 1
    assert queued[0].recipient == HIRATSUKA.uri
    assert queued[0].message_type == CODE_POOL
    (pool,) = parse_designations({"items": [json.loads(queued[0].payload)]})
    assert pool.request_id == REQUEST_ID
    assert len(pool.codes) == 5
    assert all(is_valid_resident_code(c) for c in pool.codes)
    rows = await registry(sessions)
    assert set(rows) == set(pool.codes)
    assert {(r.municipality, r.designation_id) for r in rows.values()} == {
        (HIRATSUKA.code, pool.designation_id)
    }


async def test_only_municipalities_are_designated_codes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    asked = {"items": [{"request_id": REQUEST_ID, "wanted": 5, "remaining": 0}]}
    async with sessions() as session, session.begin():
        with pytest.raises(Rejected) as refused:
            await answer_refill(session, message(KANAGAWA, asked), now=utcnow())
    assert refused.value.reason == "sender_not_permitted"
    assert await registry(sessions) == {}


REQUEST = {"request_id": REQUEST_ID, "wanted": 10, "remaining": 2}


@pytest.mark.parametrize(
    "payload",
    [
        {"items": [REQUEST | {"wanted": 0}]},
        {"items": [REQUEST | {"wanted": MAX_CODES_PER_REQUEST + 1}]},
        {"items": [REQUEST | {"remaining": -1}]},
        {"items": [REQUEST | {"request_id": "not-hex"}]},
        {"items": [REQUEST | {"codes": ["12345678901"]}]},
        {"items": []},
        {"items": [REQUEST] * 1001},
        {"requests": [REQUEST]},
    ],
    ids=["none", "too-many", "negative", "bad-id", "extra", "empty", "long", "no-items"],
)
def test_a_malformed_refill_request_is_rejected(payload: dict[str, Any]) -> None:
    with pytest.raises(Rejected) as refused:
        parse_refill_requests(payload)
    assert refused.value.reason == "invalid_payload"
    assert "12345678901" not in refused.value.detail


def test_a_designation_names_only_valid_distinct_codes() -> None:
    good, bad = code(42), code(43)[:-1] + str((int(code(43)[-1]) + 1) % 10)
    designation = {"designation_id": "cd" * 16, "request_id": REQUEST_ID}
    assert parse_designations({"items": [designation | {"codes": [good]}]})[0].codes == [good]
    for codes in ([good, bad], [good, good], [], [good] * (MAX_CODES_PER_REQUEST + 1)):
        with pytest.raises(Rejected) as refused:
            parse_designations({"items": [designation | {"codes": codes}]})
        assert good not in refused.value.detail
        assert bad not in refused.value.detail


def birth(resident_code: str, town: str, *, came_from: str | None = None) -> IdentityChange:
    reason = ChangeReason.MOVE_IN if came_from else ChangeReason.BIRTH
    record = IdentityRecord(
        resident_code=resident_code, municipality=town, name="見本 花子",
        birth_date=dt.date(1990, 3, 3), sex=Sex.FEMALE, address="どこか2-2",
        change_reason=reason, change_date=dt.date(2020, 3, 3),
    )  # fmt: skip
    return IdentityChange(
        record=record, version=1, previous_municipality=came_from,
        correlation_id=f"{int(resident_code):016x}",
    )  # fmt: skip


async def test_a_migrated_registers_codes_become_its_own_only_if_never_seen(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await designate(session, CHIYODA.code, 1, now=NOW, randbelow=source([1]))
        await retire_codes(session, {code(2): HIRATSUKA.code}, now=NOW)
    await hold_record(sessions, code(3))
    claimed = [code(n) for n in (1, 2, 3, 6, 7)]
    async with sessions() as session, session.begin():
        assert await register_migrated(session, HIRATSUKA.code, claimed, now=NOW) == (2, 3)
    async with sessions() as session, session.begin():  # claimed again: already its own
        assert await register_migrated(session, HIRATSUKA.code, [code(6)], now=NOW) == (0, 0)
    rows = await registry(sessions)
    assert {n: (rows[code(n)].municipality, rows[code(n)].status) for n in (1, 2, 6, 7)} == {
        1: (CHIYODA.code, "designated"),
        2: (HIRATSUKA.code, "retired"),
        6: (HIRATSUKA.code, "designated"),
        7: (HIRATSUKA.code, "designated"),
    }


async def test_a_new_record_needs_a_code_designated_to_its_town(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await designate(session, CHIYODA.code, 1, now=NOW, randbelow=source([1]))
        await designate(session, HIRATSUKA.code, 1, now=NOW, randbelow=source([6]))
        await retire_codes(session, {code(2): HIRATSUKA.code}, now=NOW)
    own, chiyodas, retired, invented = (
        birth(code(6), HIRATSUKA.code), birth(code(1), HIRATSUKA.code),
        birth(code(2), HIRATSUKA.code), birth(code(8), HIRATSUKA.code),
    )  # fmt: skip
    moved_in = birth(code(1), HIRATSUKA.code, came_from=CHIYODA.code)  # keeps the code
    async with sessions() as session, session.begin():
        done = await apply_changes(
            session, records, [own, chiyodas, retired, invented], origin_message_id="m" * 32,
            now=NOW, sender=HIRATSUKA.code, designations=REGISTRY,
        )  # fmt: skip
        moved = await apply_changes(
            session, records, [moved_in], origin_message_id="n" * 32, now=NOW,
            sender=HIRATSUKA.code, designations=REGISTRY,
        )  # fmt: skip
    assert done.accepted == [own]
    assert [(r.correlation_id, r.reason) for r in done.refused] == [
        (c.correlation_id, "code_not_designated") for c in (chiyodas, retired, invented)
    ]
    assert (moved.current, moved.accepted, moved.refused) == (0, [moved_in], [])  # held


async def test_a_move_in_overtaking_the_old_towns_record_takes_nothing_over(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Hiratsuka's move-in naming Chiyoda reaches the agency before Chiyoda's own record
    (another prefecture's path): it is held, Chiyoda's record still becomes current, and
    only Chiyoda's move-out hands it over."""
    async with sessions() as session, session.begin():
        await designate(session, CHIYODA.code, 1, now=NOW, randbelow=source([1]))
    moved_in = birth(code(1), HIRATSUKA.code, came_from=CHIYODA.code)
    at_home = birth(code(1), CHIYODA.code)
    left = IdentityChange(
        record=at_home.record.model_copy(update={"change_reason": ChangeReason.MOVE_OUT}),
        version=2, correlation_id="0abc" * 4,
    )  # fmt: skip

    async def apply(change: IdentityChange) -> tuple[str, str]:
        async with sessions() as session, session.begin():
            done = await apply_changes(
                session, records, [change], origin_message_id="m" * 32, now=NOW,
                sender=change.record.municipality, designations=REGISTRY,
            )  # fmt: skip
            assert done.refused == []
            r = records.records
            row = (await session.execute(select(r.c.municipality, r.c.status))).first()
        return (row.municipality, row.status) if row else ("", "")

    assert await apply(moved_in) == ("", "")
    assert await apply(at_home) == (CHIYODA.code, "live")
    assert await apply(left) == (HIRATSUKA.code, "live")
