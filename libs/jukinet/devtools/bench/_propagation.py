"""End-to-end change propagation through a running federation (everything on): the
sustained rate under load, and commit-to-agency latency at a light load."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from sqlalchemy import text

from jukinet.contracts.principals import AGENCY, Principal
from jukinet.db.engine import create_engine
from jukinet.devtools.bench._load import percentile
from jukinet.devtools.bench._migration import count_rows, database_url
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents

__all__ = ["Latency", "light_load_latency", "sustained_changes"]

HISTORY = "SELECT count(*) FROM identity_history"


def _towns(fed: LocalFederation) -> list[Principal]:
    return [n for n in fed.nodes if n.kind.value == "municipality"]


async def _until_agency_holds(fed: LocalFederation, rows: int, seconds: float = 600) -> None:
    url = database_url(fed, AGENCY)
    for _ in range(int(seconds / 0.05)):  # bounded
        if await count_rows(url, HISTORY) >= rows:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the agency did not receive every change")


async def sustained_changes(
    fed: LocalFederation, seconds: float, concurrency: int = 32
) -> tuple[int, float]:
    """Registrations (how many, and per second) from commit at four municipalities to
    stored at the agency, sustained for ``seconds`` of offered load."""
    towns = _towns(fed)
    people = SyntheticResidents(seed=1)
    bodies = [people.registration(t.code) for t in towns for _ in range(50)]
    before = await count_rows(database_url(fed, AGENCY), HISTORY)
    sent = 0
    stop_at = time.perf_counter() + seconds
    clients = {t: fed.client(t) for t in towns}

    async def worker(index: int) -> None:
        nonlocal sent
        town = towns[index % len(towns)]
        while time.perf_counter() < stop_at:
            body = bodies[(sent + index) % len(bodies)]
            r = await clients[town].post("/residents", json=body)
            r.raise_for_status()
            sent += 1

    start = time.perf_counter()
    try:
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    finally:
        for client in clients.values():
            await client.aclose()
    await _until_agency_holds(fed, before + sent)
    return sent, sent / (time.perf_counter() - start)


class Latency:
    def __init__(self, offered: float, samples_ms: list[float]) -> None:
        self.offered = offered
        self.samples_ms = samples_ms
        self.p50 = percentile(samples_ms, 50)
        self.p99 = percentile(samples_ms, 99)


async def light_load_latency(fed: LocalFederation, rate: float, seconds: float) -> Latency:
    """Offer ``rate`` registrations per second (open loop, spread over the municipalities)
    for ``seconds``; each one's latency is the time from its commit at the municipality
    (resident_versions.recorded_at) to its storage at the agency
    (identity_history.recorded_at) — both clocks are this machine's."""
    towns = _towns(fed)
    people = SyntheticResidents(seed=2)
    total = max(int(rate * seconds), 1)
    bodies = [people.registration(towns[i % len(towns)].code) for i in range(total)]
    before = await count_rows(database_url(fed, AGENCY), HISTORY)
    clients = {t: fed.client(t) for t in towns}
    start = time.perf_counter()

    async def offer(i: int) -> str:
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        r = await clients[towns[i % len(towns)]].post("/residents", json=bodies[i])
        r.raise_for_status()
        return str(r.json()["resident_code"])

    try:
        codes = await asyncio.gather(*(offer(i) for i in range(total)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()))
    await _until_agency_holds(fed, before + total)
    committed: dict[str, dt.datetime] = {}
    for town in towns:
        committed |= await _recorded(fed, town, "resident_versions")
    stored = await _recorded(fed, AGENCY, "identity_history")
    samples = [
        (stored[c] - committed[c]).total_seconds() * 1000
        for c in codes
        if c in stored and c in committed
    ]
    return Latency(rate, samples)


async def _recorded(fed: LocalFederation, node: Principal, table: str) -> dict[str, dt.datetime]:
    """resident_code → recorded_at of version 1 in ``table`` of ``node``'s database."""
    engine = create_engine(database_url(fed, node))
    sql = text(f"SELECT resident_code, recorded_at FROM {table} WHERE version = 1")  # noqa: S608
    try:
        async with engine.connect() as conn:
            rows: list[Any] = list((await conn.execute(sql)).all())
    finally:
        await engine.dispose()
    return {str(code): _utc(at) for code, at in rows}


def _utc(value: dt.datetime | str) -> dt.datetime:
    at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
