"""End-to-end change propagation through a running federation (everything on)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select, text

from jukinet.db import create_engine
from jukinet.localfed import LocalFederation
from jukinet.principals import AGENCY
from jukinet.synthetic import SyntheticResidents


async def _agency_history(fed: LocalFederation) -> int:
    url = next(v for k, v in fed.nodes[AGENCY].env.items() if k.endswith("DATABASE_URL"))
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(text("identity_history")))
            return int(count or 0)
    finally:
        await engine.dispose()


async def sustained_changes(fed: LocalFederation, seconds: float, concurrency: int = 32) -> float:
    """Registrations per second from commit at four municipalities to stored at the
    agency, sustained for ``seconds`` of offered load."""
    towns = [n for n in fed.nodes if n.kind.value == "municipality"]
    people = SyntheticResidents(seed=1)
    bodies = [people.registration(t.code) for t in towns for _ in range(50)]
    before = await _agency_history(fed)
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
    for _ in range(1200):
        if await _agency_history(fed) - before >= sent:
            break
        await asyncio.sleep(0.1)
    return sent / (time.perf_counter() - start)


__all__ = ["sustained_changes"]
