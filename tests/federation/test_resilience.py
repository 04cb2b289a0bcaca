"""Nothing lost, nothing applied twice: a burst of 1,200 changes while the broker, a
prefecture and the agency are each killed (SIGKILL) and restarted."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import httpx
import pytest

from jukinet.contracts.federation import DEMO
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from tests.federation.support import PersonalData, eventually, query
from tests.principals import KANAGAWA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

TOWNS = [Principal.municipality(c) for c in DEMO.municipalities]
RESIDENTS_PER_TOWN = 60
MOVES = 4  # 240 registrations + 960 moves = 1,200 changes, the three kills among them
TOTAL = len(TOWNS) * RESIDENTS_PER_TOWN * (1 + MOVES)
TODAY = dt.datetime.now(dt.UTC).date().isoformat()


@pytest.fixture(scope="module")
def federation(own_federation: LocalFederation) -> LocalFederation:
    """This module's own federation: it kills and restarts the broker, a prefecture and
    the agency, and counts every change at every tier, so it never shares one."""
    return own_federation


class Burst:
    def __init__(
        self,
        fed: LocalFederation,
        pd: PersonalData,
        *,
        residents_per_town: int = RESIDENTS_PER_TOWN,
        moves: int = MOVES,
        towns: list[Principal] = TOWNS,
    ) -> None:
        self.fed = fed
        self.towns = towns
        self.pd = pd
        self.residents_per_town = residents_per_town
        self.moves = moves
        self.done = 0
        self.gate = asyncio.Semaphore(16)
        self.people = SyntheticResidents(seed=2000)

    async def resident_life(self, client: httpx.AsyncClient, town: Principal) -> None:
        body = self.people.registration(town.code)
        self.pd.add_body(body)
        async with self.gate:
            r = await client.post("/residents", json=body)
        assert r.status_code == 201, r.text
        self.pd.add(r.json()["resident_code"])
        self.done += 1
        for _ in range(self.moves):
            move = {"reason": "in_town_move", "change_date": TODAY, "notified_on": TODAY}
            move["address"] = self.people.address(town.code)
            self.pd.add(move["address"])
            async with self.gate:
                r = await client.post(f"/residents/{r.json()['id']}/changes", json=move)
            assert r.status_code == 200, r.text
            self.done += 1

    async def run(self) -> None:
        clients = {t: self.fed.client(t) for t in self.towns}
        try:
            await asyncio.gather(
                *(
                    self.resident_life(clients[town], town)
                    for _ in range(self.residents_per_town)
                    for town in self.towns
                )
            )
        finally:
            for client in clients.values():
                await client.aclose()

    async def reached(self, count: int) -> None:
        for _ in range(2400):
            if self.done >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"burst stalled at {self.done} changes")


async def disrupt(fed: LocalFederation, burst: Burst, log: list[str]) -> None:
    assert fed.broker is not None
    await burst.reached(TOTAL // 6)
    fed.broker.kill()
    log.append(f"broker killed at {burst.done}")
    await asyncio.sleep(2.0)
    fed.broker.start()
    await fed.broker.wait_ready()
    await burst.reached(TOTAL // 2)
    await restart(fed, KANAGAWA, burst, log)
    await burst.reached(TOTAL * 3 // 4)
    await restart(fed, AGENCY, burst, log)


async def restart(fed: LocalFederation, node: Principal, burst: Burst, log: list[str]) -> None:
    fed.nodes[node].kill()
    log.append(f"{node.slug} killed at {burst.done}")
    await asyncio.sleep(1.0)
    fed.nodes[node].start()
    await fed.nodes[node].wait_ready()


async def municipal_state(
    fed: LocalFederation, towns: list[Principal] = TOWNS
) -> dict[str, tuple[str, int, str]]:
    state = {}
    for town in towns:
        rows = await query(fed, town, "SELECT resident_code, version, status FROM residents")
        state.update({code: (town.code, version, status) for code, version, status in rows})
    return state


async def tier_state(fed: LocalFederation, node: Principal) -> dict[str, tuple[str, int, str]]:
    rows = await query(
        fed, node, "SELECT resident_code, municipality, version, status FROM identity_records"
    )
    return {code: (town, version, status) for code, town, version, status in rows}


async def history_count(fed: LocalFederation, node: Principal) -> int:
    return int((await query(fed, node, "SELECT count(*) FROM identity_history"))[0][0])


async def test_burst_survives_restarts_with_nothing_lost_or_doubled(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    burst, log = Burst(federation, personal_data), []
    await asyncio.gather(burst.run(), disrupt(federation, burst, log))
    assert burst.done == TOTAL
    assert len(log) == 3

    expected = await municipal_state(federation)
    assert len(expected) == len(TOWNS) * RESIDENTS_PER_TOWN
    assert {version for _, version, _ in expected.values()} == {1 + MOVES}

    async def agency_complete() -> bool:
        return await history_count(federation, AGENCY) >= TOTAL

    await eventually(agency_complete, seconds=180)
    assert await tier_state(federation, AGENCY) == expected
    assert await history_count(federation, AGENCY) == TOTAL
    for prefecture in (Principal.prefecture(c) for c in DEMO.prefectures):
        mine = {
            k: v
            for k, v in expected.items()
            if Principal.municipality(v[0]).prefecture_of == prefecture
        }
        assert await tier_state(federation, prefecture) == mine
        assert await history_count(federation, prefecture) == len(mine) * (1 + MOVES)

    rows = await query(
        federation, AGENCY, "SELECT resident_code, version FROM identity_history ORDER BY id"
    )
    per_resident: dict[str, list[int]] = {}
    for code, version in rows:
        per_resident.setdefault(code, []).append(version)
    assert all(v == list(range(1, MOVES + 2)) for v in per_resident.values())
    dead = await query(federation, AGENCY, "SELECT reason FROM dead_letters")
    assert Counter(r for (r,) in dead) == Counter()


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert len(personal_data.values) > 1000
    assert personal_data.leaks(federation.root / "log") == []
