"""Bulk initial migration: a whole register imported at one municipality, timed until
its prefecture and the agency hold every resident."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from jukinet.contracts.principals import AGENCY, Principal
from jukinet.db.engine import create_engine
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticRegister

__all__ = ["MigrationResult", "bulk_migration", "count_rows"]

TOWN = Principal.municipality("141003")


@dataclass(frozen=True)
class MigrationResult:
    residents: int
    import_seconds: float  # upload, validation and the municipal transaction
    total_seconds: float  # until the prefecture and the agency hold every resident

    @property
    def per_second(self) -> float:
        return self.residents / self.total_seconds


def database_url(fed: LocalFederation, node: Principal) -> str:
    env = fed.nodes[node].env
    return next(v for k, v in env.items() if k.endswith("DATABASE_URL"))


async def count_rows(url: str, sql: str) -> int:
    """A count read beside a running node: SQLite is read without taking the write lock
    the services' own sessions take (``BEGIN IMMEDIATE``)."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        return await asyncio.to_thread(_sqlite_count, path, sql)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text(sql)) or 0)
    finally:
        await engine.dispose()


async def bulk_migration(fed: LocalFederation, size: int, workdir: Path) -> MigrationResult:
    csv = SyntheticRegister(TOWN.code, seed=7).write(workdir / "register.csv", size)
    held = "SELECT count(*) FROM identity_records WHERE municipality = '141003'"
    urls = [database_url(fed, TOWN.prefecture_of), database_url(fed, AGENCY)]
    before = [await count_rows(u, held) for u in urls]
    client = fed.client(TOWN)
    start = time.perf_counter()
    try:
        r = await client.post(
            "/residents/import",
            content=csv.read_bytes(),
            headers={"Content-Type": "text/csv; charset=utf-8"},
            timeout=3600.0,
        )
        r.raise_for_status()
    finally:
        await client.aclose()
    imported = time.perf_counter() - start
    for url, base in zip(urls, before, strict=True):
        for _ in range(36_000):  # bounded: an hour at most
            if await count_rows(url, held) - base >= size:
                break
            await asyncio.sleep(0.1)
    return MigrationResult(size, imported, time.perf_counter() - start)


def _sqlite_count(path: str, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)) as db:
        return int(db.execute(sql).fetchone()[0] or 0)
