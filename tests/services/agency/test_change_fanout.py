"""The change feed's fan-out on the agency's real database (SQLite and PostgreSQL): only
changes that made a resident's current record are fed, in order; a code change is fed
to the old code's watchers, who follow the person to the new code within the same
batch; dropping a code drops what was followed from it and withdraws what waited."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import agency.models
from jukinet.contracts.identity import ChangeReason, IdentityChange, IdentityRecord, Sex
from jukinet.db.engine import session_factory
from jukinet.lookups._watch import changes_after, fan_out, unwatch, watch
from jukinet.records.store import apply_changes
from tests.conftest import empty_tables

RECORDS, WATCHES = agency.models.records, agency.models.watches
TOWN, BODY, AFFAIR = "142034", "kkr-pension", "public-servant-pensions"
A, B, OTHER = "30000000007", "30000000015", "30000000023"  # valid check digits
NOW = dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    await empty_tables(engine, agency.models.Base.metadata)
    async with session_factory(engine)() as s:
        yield s


def _change(code: str, version: int, reason: ChangeReason, address: str = "平塚市浅間町1-1",
            previous: str | None = None) -> IdentityChange:  # fmt: skip
    record = IdentityRecord(
        resident_code=code, municipality=TOWN, name="見本 太郎", name_kana="ミホン タロウ",
        birth_date=dt.date(1980, 1, 1), sex=Sex.MALE, address=address, change_reason=reason,
        change_date=dt.date(2026, 11, version),
    )  # fmt: skip
    return IdentityChange(record=record, version=version, previous_code=previous,
                          correlation_id=secrets.token_hex(8))  # fmt: skip


async def _apply(session: AsyncSession, *changes: IdentityChange) -> int:
    """As the agency applies one message: the record store, then the fan-out."""
    origin = secrets.token_hex(16)
    async with session.begin():
        done = await apply_changes(session, RECORDS, list(changes), origin_message_id=origin,
                                   now=NOW)  # fmt: skip
        return await fan_out(session, WATCHES, RECORDS.history, done.transitions, NOW)


async def _feed(session: AsyncSession) -> list[tuple[str, str | None, str]]:
    async with session.begin():
        rows = await changes_after(session, WATCHES, RECORDS.history, BODY, AFFAIR, 0, 100)
    return [(r.resident_code, r.previous_code, r.change_reason) for r in rows]


async def _watch(session: AsyncSession, *codes: str) -> int:
    async with session.begin():
        return await watch(session, WATCHES, BODY, AFFAIR, codes, NOW)


async def test_only_changes_that_made_the_current_record_are_fed_in_order(
    session: AsyncSession,
) -> None:
    await _apply(session, _change(A, 1, ChangeReason.BIRTH), _change(OTHER, 1, ChangeReason.BIRTH))
    assert await _watch(session, A, A) == 1  # a code named twice is watched once
    assert await _apply(session, _change(A, 3, ChangeReason.IN_TOWN_MOVE, "平塚市見附町2-2"),
                        _change(OTHER, 2, ChangeReason.DEATH)) == 1  # fmt: skip
    assert await _apply(session, _change(A, 2, ChangeReason.NAME_CHANGE)) == 0  # stale: history
    assert await _feed(session) == [(A, None, "in_town_move")]


async def test_a_code_change_is_followed_within_the_same_message(session: AsyncSession) -> None:
    await _apply(session, _change(A, 1, ChangeReason.BIRTH))
    await _watch(session, A)
    fed = await _apply(
        session,
        _change(B, 2, ChangeReason.CODE_CHANGE, previous=A),
        _change(B, 3, ChangeReason.DEATH),
    )
    assert fed == 2
    assert await _feed(session) == [(B, A, "code_change"), (B, None, "death")]


async def test_dropping_a_code_drops_what_was_followed_from_it(session: AsyncSession) -> None:
    await _apply(session, _change(A, 1, ChangeReason.BIRTH))
    await _watch(session, A)
    await _apply(session, _change(B, 2, ChangeReason.CODE_CHANGE, previous=A))
    assert len(await _feed(session)) == 1
    async with session.begin():
        assert await unwatch(session, WATCHES, BODY, AFFAIR, [A]) == 1
        watched = await session.scalar(select(func.count()).select_from(WATCHES.watches))
    assert watched == 0  # B, followed from A, went with it
    assert await _feed(session) == []  # and what waited was withdrawn
    assert await _apply(session, _change(B, 3, ChangeReason.DEATH)) == 0


async def test_a_code_registered_in_its_own_right_stays_when_its_origin_goes(
    session: AsyncSession,
) -> None:
    await _apply(session, _change(A, 1, ChangeReason.BIRTH))
    await _watch(session, A)
    await _apply(session, _change(B, 2, ChangeReason.CODE_CHANGE, previous=A))
    assert await _watch(session, B) == 0  # already watched (followed), now in its own right
    async with session.begin():
        await unwatch(session, WATCHES, BODY, AFFAIR, [A])
    assert await _apply(session, _change(B, 3, ChangeReason.DEATH)) == 1
