"""Resident-code pools designated by the agency over NATS: codes drawn at different
municipalities are valid and never shared, a pool below its low-water mark is refilled,
a 住民票コード変更 retires the old code at every tier and in the national registry, and
forged or malformed pool messages are dead-lettered — on SQLite and on PostgreSQL.

Tokyo (130001) and Shinjuku (131041) are not started: the test speaks as them, on
channels no running node uses. Pools are kept tiny here so that refills happen.

This module keeps a federation of its own: the shared one runs Tokyo and Shinjuku, whose
channels the forged messages would take sequence numbers from; a pool of 20 there would
starve the 400-row bulk import; and one test empties Chiyoda's pool behind its back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Any

import httpx
import nats
import pytest
from sqlalchemy import Executable, insert, update

from jukinet.contracts.codepool import CODE_POOL_BATCH, CODE_REFILL_REQUEST_BATCH
from jukinet.contracts.federation import DEMO
from jukinet.contracts.ids import generate_resident_code, is_valid_resident_code
from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import inbox_prefix, message_subject
from jukinet.db.engine import create_engine
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.envelope import RecipientDirectory, Sealer
from jukinet.pki import Credentials, TrustStore, read_certificate, utcnow
from municipal.models import CodePoolEntry, CodeRequest
from tests.federation.support import PersonalData, database_url_of, eventually, query, tier_record
from tests.principals import AGENCY, CHIYODA, HIRATSUKA, KANAGAWA, SHINJUKU, TOKYO, YOKOHAMA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

RUN_NODES = {n for n in DEMO.nodes if n not in (TOKYO, SHINJUKU)}
TARGET, LOW_WATER = 20, 10
EXTRA_ENV = {
    "JUKINET_MUNICIPAL_CODE_POOL_TARGET": str(TARGET),
    "JUKINET_MUNICIPAL_CODE_POOL_LOW_WATER": str(LOW_WATER),
    "JUKINET_MUNICIPAL_CODE_POOL_CHECK_SECONDS": "0.2",
}
TOWNS = (HIRATSUKA, CHIYODA, YOKOHAMA)
TTL = dt.timedelta(hours=1)
TODAY = dt.datetime.now(dt.UTC).date().isoformat()


async def register(
    fed: LocalFederation, town: Principal, pd: PersonalData, seed: int
) -> dict[str, Any]:
    body = SyntheticResidents(seed=seed).registration(town.code)
    pd.add_body(body)
    async with fed.client(town) as client:
        r = await client.post("/residents", json=body)
    assert r.status_code == 201, r.text
    pd.add(r.json()["resident_code"])
    return dict(r.json())


async def pool_of(fed: LocalFederation, town: Principal) -> dict[str, tuple[Any, Any]]:
    """Every code in a municipality's pool → (drawn_at, designation_id)."""
    rows = await query(fed, town, "SELECT code, drawn_at, designation_id FROM code_pool")
    return {row[0]: (row[1], row[2]) for row in rows}


async def national_registry(fed: LocalFederation) -> dict[str, tuple[str, str, Any]]:
    """The agency's registry: code → (municipality, status, designation_id)."""
    rows = await query(
        fed, AGENCY, "SELECT code, municipality, status, designation_id FROM code_registry"
    )
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


lookup = tier_record


async def test_codes_drawn_at_two_municipalities_are_valid_disjoint_and_registered(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    drawn: dict[Principal, list[str]] = {}
    for town in (HIRATSUKA, CHIYODA):
        for seed in range(3):
            resident = await register(federation, town, personal_data, seed)
            drawn.setdefault(town, []).append(resident["resident_code"])
    pools = {town: await pool_of(federation, town) for town in TOWNS}
    registry = await national_registry(federation)

    codes = [c for town_codes in drawn.values() for c in town_codes]
    assert all(is_valid_resident_code(c) for c in codes)
    assert len(set(codes)) == len(codes)
    for town, town_codes in drawn.items():
        assert all(pools[town][c][0] is not None for c in town_codes)  # drawn from the pool
    pooled = [c for pool in pools.values() for c in pool]
    assert len(set(pooled)) == len(pooled)  # no code in two municipalities' pools
    for town, pool in pools.items():
        assert len(pool) >= TARGET
        for c in pool:
            assert registry[c][:2] == (town.code, "designated")
            assert pool[c][1] == registry[c][2]  # the designation it came with


async def test_a_pool_below_its_low_water_mark_is_refilled(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    before = await pool_of(federation, YOKOHAMA)
    undrawn = sum(1 for drawn_at, _ in before.values() if drawn_at is None)
    for seed in range(undrawn - LOW_WATER + 1):  # one past the mark
        await register(federation, YOKOHAMA, personal_data, 100 + seed)

    async def refilled() -> bool:
        pool = await pool_of(federation, YOKOHAMA)
        return sum(1 for drawn_at, _ in pool.values() if drawn_at is None) >= LOW_WATER

    await eventually(refilled, seconds=30)
    after = await pool_of(federation, YOKOHAMA)
    designations = {designation for _, designation in after.values()}
    assert len(after) > len(before)
    assert len(designations) == len({d for _, d in before.values()}) + 1
    requests = await query(
        federation, YOKOHAMA, "SELECT answered_at, designation_id FROM code_pool_requests"
    )
    assert all(answered is not None for answered, _ in requests)
    assert {d for _, d in requests} == designations
    async with federation.client(YOKOHAMA) as client:
        status = (await client.get("/status")).json()
    assert status["code_pool"]["undrawn"] >= LOW_WATER


async def test_a_code_change_retires_the_old_code_everywhere(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    resident = await register(federation, HIRATSUKA, personal_data, 200)
    old = resident["resident_code"]
    async with federation.client(HIRATSUKA) as client:
        r = await client.post(
            f"/residents/{resident['id']}/changes",
            json={"reason": "code_change", "change_date": TODAY, "notified_on": TODAY},
        )
    assert r.status_code == 200, r.text
    new = r.json()["resident_code"]
    personal_data.add(new)

    async def retired_at_agency() -> bool:
        registry = await national_registry(federation)
        view = await lookup(federation, AGENCY, new)
        return registry[old][1] == "retired" and view is not None

    await eventually(retired_at_agency)
    versions = await query(
        federation,
        HIRATSUKA,
        "SELECT version, resident_code, change_reason FROM resident_versions "
        "WHERE resident_id = :r ORDER BY version",
        r=resident["id"],
    )
    assert [tuple(v) for v in versions] == [(1, old, "birth"), (2, new, "code_change")]
    for tier in (KANAGAWA, AGENCY):
        retired, current = await lookup(federation, tier, old), await lookup(federation, tier, new)
        assert retired is not None
        assert current is not None
        assert retired["status"] == "retired"
        assert current["status"] == "live"
        assert current["history"][-1]["previous_code"] == old
    registry = await national_registry(federation)
    assert registry[old][:2] == (HIRATSUKA.code, "retired")
    assert registry[new][:2] == (HIRATSUKA.code, "designated")
    pool = await pool_of(federation, HIRATSUKA)
    assert pool[new][0] is not None  # the new code came from the pool
    assert pool[new][1] == registry[new][2]
    for town in TOWNS:  # and the old one is in no pool to be drawn again
        pool = await pool_of(federation, town)
        assert old not in {c for c, (drawn_at, _) in pool.items() if drawn_at is None}


def sealer(fed: LocalFederation, node: Principal) -> Sealer:
    layout = fed.layout
    creds = Credentials.load(layout.node_dir(node), layout.ca_cert, node)
    trust = TrustStore(read_certificate(layout.ca_cert))
    return Sealer(creds, RecipientDirectory.from_layout(layout, trust))


async def publish(fed: LocalFederation, node: Principal, to: Principal, tokens: list[str]) -> None:
    """Publish as ``node``, on its own connection and subject."""
    nc = await nats.connect(
        servers=[fed.nats_url], tls=fed.tls(node), tls_hostname="localhost",
        inbox_prefix=inbox_prefix(node), allow_reconnect=False,
    )  # fmt: skip
    try:
        for token in tokens:
            await nc.jetstream().publish(message_subject(to, node), token.encode(), timeout=5)
    finally:
        await nc.close()


def request(**fields: Any) -> dict[str, Any]:
    return {"request_id": secrets.token_hex(16), "wanted": 5, "remaining": 0} | fields


async def dead_letters(fed: LocalFederation, node: Principal) -> list[tuple[str, str, str]]:
    rows = await query(fed, node, "SELECT subject_sender, reason, detail FROM dead_letters")
    return [(row[0], row[1], row[2]) for row in rows]


async def test_forged_and_malformed_pool_messages_are_dead_lettered(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    tokyo, shinjuku = sealer(federation, TOKYO), sealer(federation, SHINJUKU)
    forged = tokyo.seal(
        audience=AGENCY, type=CODE_REFILL_REQUEST_BATCH, payload={"items": [request()]},
        sequence=1, ttl=TTL,
    )  # fmt: skip
    await publish(federation, TOKYO, AGENCY, [forged.token])
    malformed: list[dict[str, Any]] = [
        {"items": [request(wanted=0)]},
        {"items": [request(wanted=10**6)]},
        {"items": [request(codes=[generate_resident_code()])]},
        {"items": [request(request_id="1 OR 1=1")]},
        {"items": []},
        {"requests": [request()]},
    ]
    good = request(wanted=7)
    payloads = [*malformed, {"items": [good]}]
    tokens = [
        shinjuku.seal(
            audience=AGENCY, type=CODE_REFILL_REQUEST_BATCH, payload=p, sequence=n, ttl=TTL
        ).token
        for n, p in enumerate(payloads, start=1)
    ]
    await publish(federation, SHINJUKU, AGENCY, tokens)
    # a pool to Hiratsuka, sealed by its own prefecture rather than the agency
    smuggled = [generate_resident_code() for _ in range(3)]
    personal_data.add(*smuggled)
    pool = {"designation_id": secrets.token_hex(16), "codes": smuggled}
    kanagawa = sealer(federation, KANAGAWA).seal(
        audience=HIRATSUKA, type=CODE_POOL_BATCH, payload={"items": [pool]}, sequence=1, ttl=TTL
    )
    await publish(federation, KANAGAWA, HIRATSUKA, [kanagawa.token])

    async def designated_to_shinjuku() -> bool:
        registry = await national_registry(federation)
        return sum(1 for town, _, _ in registry.values() if town == SHINJUKU.code) == 7

    await eventually(designated_to_shinjuku, seconds=30)
    await eventually(lambda: _dead_lettered(federation, HIRATSUKA, 1), seconds=30)
    at_agency = await dead_letters(federation, AGENCY)
    assert sorted((s, r) for s, r, _ in at_agency) == sorted(
        [(TOKYO.code, "sender_not_permitted")] + [(SHINJUKU.code, "invalid_payload")] * 6
    )
    assert await dead_letters(federation, HIRATSUKA) == [
        (KANAGAWA.code, "sender_not_permitted", "only the agency designates resident codes")
    ]
    assert not set(smuggled) & set(await pool_of(federation, HIRATSUKA))
    registry = await national_registry(federation)
    assert not [c for c, (town, _, _) in registry.items() if town == TOKYO.code]
    personal_data.add(*registry)
    for _, _, detail in at_agency:
        assert not any(c in detail for c in registry)


async def _dead_lettered(fed: LocalFederation, node: Principal, count: int) -> bool:
    return len(await dead_letters(fed, node)) >= count


async def test_an_empty_pool_answers_code_pool_exhausted_until_codes_arrive(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """Chiyoda's pool is emptied while a request of its own is outstanding (as at a first
    start, before the agency answers): registering is refused with the documented
    problem, no second request is sent, and once the request times out Chiyoda asks
    again and registering works."""
    before = len(await query(federation, CHIYODA, "SELECT * FROM code_pool_requests"))
    pending = secrets.token_hex(16)
    asked = insert(CodeRequest).values(request_id=pending, wanted=TARGET, requested_at=utcnow())
    await write(federation, CHIYODA, asked)
    await write(federation, CHIYODA, update(CodePoolEntry).values(drawn_at=utcnow()))
    personal_data.add(*(await pool_of(federation, CHIYODA)))
    body = SyntheticResidents(seed=300).registration(CHIYODA.code)
    personal_data.add_body(body)
    async with federation.client(CHIYODA) as client:
        refused = await client.post("/residents", json=body)
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/code-pool-exhausted")
        assert (await client.get("/status")).json()["code_pool"] == {
            "undrawn": 0,
            "requests_unanswered": 1,
        }
        await asyncio.sleep(1.0)  # five checks of the pool: none asks again
        assert (
            len(await query(federation, CHIYODA, "SELECT * FROM code_pool_requests")) == before + 1
        )

        timed_out = utcnow() - dt.timedelta(minutes=2)
        backdate = update(CodeRequest).where(CodeRequest.request_id == pending)
        await write(federation, CHIYODA, backdate.values(requested_at=timed_out))
        await eventually(lambda: has_codes(client), seconds=30)
        registered = await client.post("/residents", json=body)
    assert registered.status_code == 201, registered.text
    personal_data.add(registered.json()["resident_code"])
    requests = await query(
        federation, CHIYODA, "SELECT request_id, answered_at FROM code_pool_requests"
    )
    assert [a for r, a in requests if r == pending] == [None]  # never answered
    assert len(requests) == before + 2


async def write(fed: LocalFederation, node: Principal, statement: Executable) -> None:
    """Change a node's database behind its back, with the service's own column types."""
    engine = create_engine(database_url_of(fed, node))
    try:
        async with engine.begin() as conn:
            await conn.execute(statement)
    finally:
        await engine.dispose()


async def has_codes(client: httpx.AsyncClient) -> bool:
    status = (await client.get("/status")).json()
    return bool(status["code_pool"]["undrawn"] > 0)


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    for town in TOWNS:
        personal_data.add(*(await pool_of(federation, town)))
    personal_data.add(*(await national_registry(federation)))
    assert personal_data.leaks(federation.root / "log") == []


@pytest.fixture(scope="module")
def federation(own_federation: LocalFederation) -> LocalFederation:
    """This module's own federation (its RUN_NODES and EXTRA_ENV; see the docstring)."""
    return own_federation
