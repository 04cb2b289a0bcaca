"""Ministry lookups against an agency on PostgreSQL: the records are loaded by COPY (as a
restored register would be), then a ministry system calls the lookup API over mutual
TLS, every provision logged and chained; the same queries through bare asyncpg are the
baseline."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import asyncpg

from jukinet.contracts.ids import resident_code_check_digit
from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind
from jukinet.devtools.bench._load import LoadResult, closed_loop
from jukinet.devtools.localfed import LocalFederation

__all__ = [
    "BATCH_SIZE",
    "LookupBench",
    "RecordSeeder",
    "asyncpg_lookups",
    "copy_baseline",
    "relation_bytes",
]

PENSION = Principal(PrincipalKind.MINISTRY, "jpa-pension")
AFFAIR = "pension-existence-check"  # by_code and batch, a 50M daily quota
COLUMNS = (
    "resident_code", "municipality", "name", "name_kana", "birth_date", "sex", "address",
    "change_reason", "change_date", "status", "version", "origin_message_id", "updated_at",
)  # fmt: skip
TOWNS = ("131016", "131041", "142034", "141003")
BATCH_SIZE = 10_000  # codes a batch lookup asks for
_FIRST_BODY = 3_000_000_000  # 10-digit bodies from here; the 11th digit is the check digit


def code_of(index: int) -> str:
    body = str(_FIRST_BODY + index * 7)  # spread a little, still unique
    return body + str(resident_code_check_digit(body))


def plain_url(url: str) -> str:
    """asyncpg takes ``postgresql://``; SQLAlchemy URLs may name a driver."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass
class RecordSeeder:
    """Grows the agency's identity_records to a given size with COPY; its rate is the
    raw bulk-insert baseline on PostgreSQL."""

    url: str
    held: int = 0
    copied: int = 0
    copy_seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        """Over every COPY so far."""
        return self.copied / self.copy_seconds if self.copy_seconds else 0.0

    async def grow_to(self, size: int) -> None:
        if size <= self.held:
            return
        conn = await asyncpg.connect(plain_url(self.url))
        try:
            start = time.perf_counter()
            await conn.copy_records_to_table(
                "identity_records", records=_rows(self.held, size), columns=COLUMNS
            )
            await conn.execute("ANALYZE identity_records")
            self.copy_seconds += time.perf_counter() - start
            self.copied += size - self.held
        finally:
            await conn.close()
        self.held = size


def _rows(start: int, stop: int) -> Iterator[tuple[object, ...]]:
    now = dt.datetime.now(dt.UTC)
    epoch = dt.date(1925, 1, 1)
    rng = random.Random(start)  # noqa: S311 - synthetic data
    for i in range(start, stop):
        birth = epoch + dt.timedelta(days=rng.randrange(36500))
        yield (
            code_of(i), TOWNS[i % 4], f"住基 {i:07d}", f"ジュウキ {i:07d}", birth,
            "male" if i % 2 else "female", f"合成市合成町{i % 97}丁目{i % 41}番",
            "ex_officio_record", birth, "live", 1, "0" * 32, now,
        )  # fmt: skip


async def copy_baseline(url: str, rows: int = 200_000) -> float:
    """Rows per second that COPY puts into a temporary table of the identity-record
    shape (with its primary key) on the server of ``url``."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.execute(
            "CREATE TEMP TABLE bench_copy (resident_code varchar(11) PRIMARY KEY, "
            "municipality varchar(6), name varchar(100), name_kana varchar(200), "
            "birth_date date, sex varchar(8), address varchar(300), "
            "change_reason varchar(32), change_date date, status varchar(8), "
            "version integer, origin_message_id varchar(32), updated_at timestamptz)"
        )
        records = list(_rows(0, rows))
        start = time.perf_counter()
        await conn.copy_records_to_table("bench_copy", records=records, columns=COLUMNS)
        return rows / (time.perf_counter() - start)
    finally:
        await conn.close()


async def asyncpg_lookups(url: str, held: int, *, concurrency: int, seconds: float) -> LoadResult:
    """The same indexed lookup by resident code, straight through asyncpg."""
    pool = await asyncpg.create_pool(plain_url(url), min_size=concurrency, max_size=concurrency)
    rng = random.Random(1)  # noqa: S311 - which records to ask for
    query = "SELECT * FROM identity_records WHERE resident_code = $1 AND status <> 'retired'"

    async def one(_: int) -> int:
        async with pool.acquire() as conn:
            row = await conn.fetchrow(query, code_of(rng.randrange(held)))
        return 1 if row is not None else 0

    try:
        return await closed_loop(one, concurrency=concurrency, seconds=seconds)
    finally:
        await pool.close()


@dataclass
class LookupBench:
    """A ministry system (jpa-pension) calling the agency's lookup server. The load comes
    from aiohttp: a lean client, so the figures measure the server, not the client."""

    fed: LocalFederation
    concurrency: int = 64

    def _session(self, connections: int) -> aiohttp.ClientSession:
        tls = self.fed.https_client_tls(PENSION)
        return aiohttp.ClientSession(
            base_url=self.fed.lookup_servers[AGENCY].url,
            connector=aiohttp.TCPConnector(ssl=tls, limit=connections),
            timeout=aiohttp.ClientTimeout(total=120),
        )

    async def singles(
        self, held: int, seconds: float, concurrency: int | None = None
    ) -> LoadResult:
        rng = random.Random(2)  # noqa: S311
        workers = concurrency or self.concurrency
        async with self._session(workers) as client:

            async def one(_: int) -> int:
                body = {"affair": AFFAIR, "resident_code": code_of(rng.randrange(held))}
                async with client.post("/lookups/by-code", json=body) as r:
                    r.raise_for_status()
                    return 1 if (await r.json())["found"] else 0

            return await closed_loop(one, concurrency=workers, seconds=seconds)

    async def batches(self, held: int, seconds: float, size: int = BATCH_SIZE) -> LoadResult:
        """Batches of ``size`` codes from a few concurrent callers; items = codes found."""
        rng = random.Random(3)  # noqa: S311
        async with self._session(4) as client:

            async def one(_: int) -> int:
                codes = [code_of(rng.randrange(held)) for _ in range(size)]
                body = {"affair": AFFAIR, "resident_codes": codes}
                async with client.post("/lookups/batch", json=body) as r:
                    r.raise_for_status()
                    return sum(1 for item in (await r.json())["results"] if item["found"])

            return await closed_loop(one, concurrency=4, seconds=seconds, warmup=0.0)


async def relation_bytes(url: str, *tables: str) -> int:
    """What ``tables`` take on disk with their indexes and TOAST (PostgreSQL)."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        sizes = [await conn.fetchval("SELECT pg_total_relation_size($1)", t) for t in tables]
    finally:
        await conn.close()
    return sum(int(s or 0) for s in sizes)
