"""The monitoring rules count a client's activity as the provision ledger logs it: rate,
residents and refusals over sliding windows, suspension, and a reinstatement that wipes
the slate. Real SQLite and PostgreSQL; provisions carry the times the tests choose."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from jukinet.db.engine import create_engine, session_factory
from jukinet.lookups import (
    MonitorRules,
    Provision,
    ProvisionLedger,
    lookup_tables,
    observe,
    reinstate,
)
from jukinet.pki import utcnow

TABLES = lookup_tables(MetaData())
CLIENT = "spiffe://jukinet/ministry/mofa-passport"
RULES = MonitorRules(
    max_per_minute=5,
    max_residents_per_10_minutes=8,
    max_refusals_per_10_minutes=3,
    hours_jst=(0, 24),
)


@pytest.fixture
async def engine(module_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(module_database_url)
    async with engine.begin() as conn:
        await conn.run_sync(TABLES.provisions.metadata.drop_all)
        await conn.run_sync(TABLES.provisions.metadata.create_all)
        await conn.execute(
            TABLES.clients.insert().values(
                client="mofa-passport", organisation="MOFA", sector="government",
                table_version="test",
            )
        )  # fmt: skip
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def ledger(engine: AsyncEngine) -> AsyncIterator[ProvisionLedger]:
    ledger = ProvisionLedger(
        session_factory(engine), TABLES, ed25519.Ed25519PrivateKey.generate(), RULES
    )
    ledger.start()
    try:
        yield ledger
    finally:
        await ledger.stop()


def _at(at: dt.datetime, *, residents: int = 1, refused: bool = False) -> Provision:
    codes = [f"{i:010d}0" for i in range(residents)]
    outcome, reason = ("refused", "affair_not_permitted") if refused else ("provided", None)
    return Provision(at, CLIENT, "passport-issuance", "batch", outcome, reason, codes, [])


async def _log(ledger: ProvisionLedger, *provisions: Provision) -> None:
    for provision in provisions:
        await ledger.record(provision, grant=None, count=0)


async def _alerts(engine: AsyncEngine) -> list[str]:
    a = TABLES.alerts
    async with engine.connect() as conn:
        return list((await conn.execute(select(a.c.rule).order_by(a.c.id))).scalars())


async def _suspended(engine: AsyncEngine) -> bool:
    c = TABLES.clients
    async with engine.connect() as conn:
        return (await conn.scalar(select(c.c.suspended_at))) is not None


START = dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC)


async def test_more_lookups_in_a_minute_than_allowed_suspend_the_client(
    engine: AsyncEngine, ledger: ProvisionLedger
) -> None:
    await _log(ledger, *(_at(START + dt.timedelta(seconds=10 * i)) for i in range(5)))
    assert await _alerts(engine) == []
    await _log(ledger, _at(START + dt.timedelta(seconds=50)))
    assert await _alerts(engine) == ["rate"]
    assert await _suspended(engine)


async def test_the_minute_slides(engine: AsyncEngine, ledger: ProvisionLedger) -> None:
    await _log(ledger, *(_at(START + dt.timedelta(seconds=i), residents=0) for i in range(5)))
    later = START + dt.timedelta(seconds=62)
    await _log(ledger, *(_at(later + dt.timedelta(seconds=i), residents=0) for i in range(5)))
    assert await _alerts(engine) == []
    assert not await _suspended(engine)


async def test_residents_and_refusals_count_over_ten_minutes(
    engine: AsyncEngine, ledger: ProvisionLedger
) -> None:
    await _log(ledger, _at(START, residents=4), _at(START + dt.timedelta(minutes=4), residents=4))
    assert await _alerts(engine) == []
    await _log(ledger, _at(START + dt.timedelta(minutes=9), residents=1))
    assert await _alerts(engine) == ["many_residents"]
    refusals = [_at(START + dt.timedelta(minutes=20 + 4 * i), refused=True) for i in range(3)]
    await _log(ledger, *refusals)
    assert await _alerts(engine) == ["many_residents", "repeated_refusals"]


async def test_activity_before_a_reinstatement_is_not_held_against_the_client(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    now = utcnow()
    async with sessions() as session, session.begin():
        fired = await observe(session, TABLES, RULES, CLIENT, [_at(now)] * 6)
    assert fired == ["rate"]
    async with sessions() as session, session.begin():
        assert await reinstate(session, TABLES, "mofa-passport")
    after = utcnow()
    async with sessions() as session, session.begin():
        assert await observe(session, TABLES, RULES, CLIENT, [_at(after)] * 5) == []
        assert await observe(session, TABLES, RULES, CLIENT, [_at(after)]) == ["rate"]


async def test_counters_the_rules_no_longer_read_are_dropped(
    engine: AsyncEngine, ledger: ProvisionLedger
) -> None:
    await _log(ledger, *(_at(START + dt.timedelta(minutes=i)) for i in range(0, 180, 30)))
    a = TABLES.activity
    async with engine.connect() as conn:
        kept = list((await conn.execute(select(a.c.since).order_by(a.c.since))).scalars())
        rows = await conn.scalar(select(func.count()).select_from(TABLES.provisions))
    assert rows == 6, "the provision log itself keeps everything"
    assert kept[0] >= START + dt.timedelta(minutes=150) - dt.timedelta(hours=1)
