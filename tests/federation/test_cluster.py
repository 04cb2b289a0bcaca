"""A three-node broker cluster with routes over mutual TLS and streams replicated three
ways: kill one broker during a burst of changes; nothing is lost or duplicated at any
tier, and the node rejoins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from jukinet.contracts.federation import DEMO
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.devtools.localfed import LocalFederation
from tests.federation.support import PersonalData, eventually, query
from tests.federation.test_resilience import Burst, history_count, municipal_state, tier_state
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA, TOKYO

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

RESIDENTS, MOVES = 60, 2  # per town: 60 registrations and 120 moves → 360 changes
TOWNS = [HIRATSUKA, CHIYODA]  # one town per prefecture: every tier carries the burst


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clustered(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalFederation]:
    fed = LocalFederation(Path(tmp_path_factory.mktemp("cluster")), cluster=True)
    try:
        await fed.start(only={*TOWNS, KANAGAWA, TOKYO, AGENCY})
        yield fed
    finally:
        fed.stop()


async def routes_of(fed: LocalFederation, index: int) -> int:
    async with httpx.AsyncClient(timeout=2) as client:
        r = await client.get(f"{fed.brokers[index].monitor_url}/routez")
    return int(r.json()["num_routes"])


async def test_killing_one_broker_loses_and_duplicates_nothing(clustered: LocalFederation) -> None:
    fed = clustered
    total = len(TOWNS) * RESIDENTS * (1 + MOVES)
    burst = Burst(fed, PersonalData(), residents_per_town=RESIDENTS, moves=MOVES, towns=TOWNS)

    async def disrupt() -> None:
        await burst.reached(total // 3)
        fed.brokers[1].kill()
        await burst.reached(total * 2 // 3)
        fed.brokers[1].start()
        await fed.brokers[1].wait_ready()

    await asyncio.gather(burst.run(), disrupt())
    expected = await municipal_state(fed, TOWNS)

    async def complete() -> bool:
        return await history_count(fed, AGENCY) >= total

    await eventually(complete, seconds=180)
    assert await tier_state(fed, AGENCY) == expected
    assert await history_count(fed, AGENCY) == total
    for prefecture in (Principal.prefecture(c) for c in DEMO.prefectures):
        mine = {
            k: v
            for k, v in expected.items()
            if Principal.municipality(v[0]).prefecture_of == prefecture
        }
        assert await tier_state(fed, prefecture) == mine

    async def rejoined() -> bool:
        return await routes_of(fed, 1) >= 2

    await eventually(rejoined, seconds=60)
    dead = await query(fed, AGENCY, "SELECT count(*) FROM dead_letters")
    assert dead[0][0] == 0
