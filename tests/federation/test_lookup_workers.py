"""A lookup server run as several worker processes over one database: each worker logs
through its own ledger, and the provision log stays one unbroken chain with every lookup
in it once, its activity counted once for the monitoring rules; a batch of thousands
indexes every resident it provided."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import psutil
import pytest
from sqlalchemy import text

from jukinet.contracts.ids import resident_code_check_digit
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.db.engine import create_engine
from jukinet.devtools.localfed import LocalFederation
from tests.federation.support import assert_provision_chain_verifies, database_url_of, query
from tests.principals import AGENCY

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

RUN_NODES = {AGENCY}
EXTRA_ENV = {"JUKINET_AGENCY_LOOKUP_WORKERS": "2"}
PENSION = Principal(PrincipalKind.MINISTRY, "jpa-pension")
CLIENTS, EACH = 8, 15  # eight connections, fifteen lookups on each


@pytest.fixture
def federation(own_federation: LocalFederation) -> LocalFederation:
    return own_federation


def _unknown_code(rng: random.Random) -> str:
    body = str(rng.randrange(10**9, 10**10))
    return body + str(resident_code_check_digit(body))


async def _lookups(fed: LocalFederation, seed: int) -> list[int]:
    rng = random.Random(seed)
    async with fed.lookup_client(AGENCY, PENSION) as client:
        statuses = []
        for _ in range(EACH):
            body = {"affair": "pension-existence-check", "resident_code": _unknown_code(rng)}
            statuses.append((await client.post("/lookups/by-code", json=body)).status_code)
        return statuses


async def test_two_workers_keep_one_chain_and_count_every_lookup_once(
    federation: LocalFederation,
) -> None:
    server = federation.lookup_servers[AGENCY]
    assert server.pid is not None
    workers = psutil.Process(server.pid).children()
    assert len([w for w in workers if "spawn_main" in " ".join(w.cmdline())]) == 2

    statuses = await asyncio.gather(*(_lookups(federation, seed) for seed in range(CLIENTS)))
    assert {s for each in statuses for s in each} == {200}

    kinds = await query(
        federation, AGENCY,
        "SELECT outcome, count(*) FROM provision_log WHERE client = :c GROUP BY outcome",
        c=PENSION.uri,
    )  # fmt: skip
    assert {tuple(k) for k in kinds} == {("not_found", CLIENTS * EACH)}
    counted = await query(
        federation, AGENCY, "SELECT sum(lookups) FROM lookup_activity WHERE client = :c",
        c=PENSION.uri,
    )  # fmt: skip
    assert int(counted[0][0]) == CLIENTS * EACH

    await assert_provision_chain_verifies(federation, AGENCY)


async def test_a_batch_of_thousands_indexes_every_resident_it_provided(
    federation: LocalFederation,
) -> None:
    """A batch's index rows go in by COPY on PostgreSQL (one INSERT elsewhere): every
    resident provided is indexed for disclosure, and the chain still verifies."""
    rng = random.Random(7)
    codes = sorted({_unknown_code(rng) for _ in range(BATCH)})
    await _hold(federation, codes)
    asked = [*codes, *(_unknown_code(rng) for _ in range(10))]
    async with federation.lookup_client(AGENCY, PENSION) as client:
        body = {"affair": "pension-existence-check", "resident_codes": asked}
        r = await client.post("/lookups/batch", json=body)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert sum(item["found"] for item in results) == len(codes)
    assert results[0]["record"]["status"] == "live"

    seq = (await query(federation, AGENCY, "SELECT max(seq) FROM provision_log"))[0][0]
    indexed = await query(
        federation, AGENCY, "SELECT resident_code FROM provision_subjects WHERE seq = :s", s=seq
    )
    assert sorted(c for (c,) in indexed) == codes
    await assert_provision_chain_verifies(federation, AGENCY)


BATCH = 1_200  # above the COPY threshold


async def _hold(fed: LocalFederation, codes: list[str]) -> None:
    """Identity records at the agency for ``codes``, written directly (tests only)."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "c": code, "m": "142034", "n": f"試験 {i:05d}", "k": f"シケン {i:05d}",
            "b": dt.date(1960, 1, 1), "s": "female", "a": "神奈川県平塚市浅間町1-1",
            "r": "birth", "d": dt.date(1960, 1, 1), "t": "live", "v": 1, "o": "0" * 32,
            "u": now,
        }
        for i, code in enumerate(codes)
    ]  # fmt: skip
    engine = create_engine(database_url_of(fed, AGENCY))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO identity_records (resident_code, municipality, name, "
                    "name_kana, birth_date, sex, address, change_reason, change_date, "
                    "status, version, origin_message_id, updated_at) "
                    "VALUES (:c, :m, :n, :k, :b, :s, :a, :r, :d, :t, :v, :o, :u)"
                ),
                rows,
            )
    finally:
        await engine.dispose()
