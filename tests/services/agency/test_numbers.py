"""The agency's 個人番号 service on a real database (SQLite and PostgreSQL): a town gets
numbers only for codes designated to it (another town's code is refused, and nothing is
generated); asked again it gets the same number; a leak retires the number for ever and
generates another; the answer is queued to the asking town alone, in the inbox
transaction; a clash with any number ever generated takes the next attempt."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import agency.models
from agency.codes import designate
from agency.models import IndividualNumberEntry, bus
from agency.numbers import answer_number_requests, generate
from jukinet.bus import Rejected
from jukinet.contracts.mynumber import NUMBER_ASSIGNED, NUMBER_REQUEST_BATCH, parse_assigned
from jukinet.contracts.principals import Principal
from jukinet.db.engine import session_factory
from jukinet.envelope import SignedMessage
from tests.conftest import empty_tables
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA
from tests.services.agency.test_code_registry import NOW, code, source

KEY = b"n" * 32
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    await empty_tables(engine, agency.models.Base.metadata)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():  # code(1) and code(2) are Hiratsuka's
        await designate(session, HIRATSUKA.code, 2, now=NOW, randbelow=source([1, 2]))
    return sessions


def asking(issuer: Principal, *items: tuple[str, str]) -> SignedMessage:
    payload = {"items": [{"resident_code": c, "reason": r} for c, r in items]}
    return SignedMessage(
        issuer=issuer, audience=Principal.parse("spiffe://jukinet/agency/jlis"),
        message_id="e" * 32, issued_at=0, expires_at=0, sequence=1,
        type=NUMBER_REQUEST_BATCH, payload=payload, token="", signer=cast(Any, None),
    )  # fmt: skip


async def answered(sessions: async_sessionmaker[AsyncSession], message: SignedMessage) -> list[Any]:
    async with sessions() as session, session.begin():
        before = len((await session.execute(select(bus.outbox_items))).all())
        await answer_number_requests(session, message, KEY, now=NOW)
        queued = (await session.execute(select(bus.outbox_items))).all()[before:]
    assert {(q.recipient, q.message_type) for q in queued} == {
        (message.issuer.uri, NUMBER_ASSIGNED)
    }
    return parse_assigned({"items": [json.loads(q.payload) for q in queued]})


async def numbers(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        rows = await session.scalars(select(IndividualNumberEntry))
        return sorted((r.resident_code, r.number, r.status) for r in rows)


async def test_the_town_gets_the_number_of_its_code_and_the_same_one_asked_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    (first,) = await answered(sessions, asking(HIRATSUKA, (code(1), "new")))
    assert first.individual_number == generate(KEY, code(1), 0)
    (again,) = await answered(sessions, asking(HIRATSUKA, (code(1), "new")))
    assert again.individual_number == first.individual_number
    assert await numbers(sessions) == [(code(1), first.individual_number, "assigned")]


async def test_another_towns_code_is_refused_and_nothing_is_generated(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    answers = await answered(sessions, asking(CHIYODA, (code(1), "new"), (code(2), "leaked")))
    assert [(a.individual_number, a.refused) for a in answers] == [
        (None, "not_designated_here"), (None, "not_designated_here"),
    ]  # fmt: skip
    assert await numbers(sessions) == []


async def test_a_leak_retires_the_number_for_ever(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    (old,) = await answered(sessions, asking(HIRATSUKA, (code(1), "new")))
    (new,) = await answered(sessions, asking(HIRATSUKA, (code(1), "leaked")))
    assert new.individual_number not in (None, old.individual_number)
    assert await numbers(sessions) == sorted([
        (code(1), str(old.individual_number), "retired"),
        (code(1), str(new.individual_number), "assigned"),
    ])  # fmt: skip


async def test_a_clash_with_a_number_ever_generated_takes_the_next_attempt(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    taken = generate(KEY, code(2), 0)
    async with sessions() as session, session.begin():  # as if another code had produced it
        session.add(IndividualNumberEntry(number=taken, resident_code=code(1),
                                          municipality=HIRATSUKA.code, status="retired",
                                          assigned_at=NOW))  # fmt: skip
    (answer,) = await answered(sessions, asking(HIRATSUKA, (code(2), "new")))
    assert answer.individual_number == generate(KEY, code(2), 1)


async def test_only_a_municipality_asks(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(Rejected):
            await answer_number_requests(session, asking(KANAGAWA, (code(1), "new")), KEY, now=NOW)
