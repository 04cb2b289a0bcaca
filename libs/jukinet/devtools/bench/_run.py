"""The whole benchmark: baselines, propagation and migration on the chosen backend, then
ministry lookups on PostgreSQL — one report."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg
import httpx
from rich.console import Console

from jukinet.contracts.federation import DEMO
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.devtools.bench._baselines import (
    envelope_round_trips,
    fastapi_hello,
    jetstream_publish,
    sqlite_executemany,
)
from jukinet.devtools.bench._cpu import CpuMeter, CpuUse
from jukinet.devtools.bench._feed import FeedBench
from jukinet.devtools.bench._lookups import (
    BATCH_SIZE,
    LookupBench,
    RecordSeeder,
    asyncpg_lookups,
    copy_baseline,
    relation_bytes,
)
from jukinet.devtools.bench._migration import bulk_migration
from jukinet.devtools.bench._pg import pg_databases
from jukinet.devtools.bench._propagation import light_load_latency, sustained_changes
from jukinet.devtools.bench._report import Figure, Report, Target
from jukinet.devtools.localfed import LocalFederation

__all__ = ["BenchOptions", "run_benchmarks"]

Backend = Literal["sqlite", "postgresql"]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# The bench's ministry client looks up far more than any real one would in a minute;
# the monitoring rules would (rightly) suspend it.
UNMONITORED = {
    "JUKINET_AGENCY_MONITOR_MAX_PER_MINUTE": "1000000000",
    "JUKINET_AGENCY_MONITOR_MAX_RESIDENTS_PER_10_MINUTES": "1000000000",
}
WORKERS = "JUKINET_AGENCY_LOOKUP_WORKERS"
BUSY = 20  # the second latency run offers this many times the light rate
# what a provision costs on disk: the chained entry, its resident index, the counters
PROVISION_TABLES = ("provision_log", "provision_subjects", "lookup_activity")
CPU_OP = "µs CPU/op"  # summed over the federation's processes and PostgreSQL backends
HELLO = "FastAPI hello"
ENVELOPE = "envelope seal+open"
COPY = "bulk insert, PostgreSQL COPY"


@dataclass(frozen=True)
class BenchOptions:
    backend: Backend = "sqlite"
    size: int = 100_000  # residents in the bulk migration
    records: int = 1_000_000  # identity records at the agency for lookups
    seconds: float = 30.0  # sustained propagation
    light_rate: float = 10.0  # changes/s for the latency figures (and twenty times that)
    lookup_seconds: float = 10.0
    connections: int = 64  # clients of the single lookups, and of their asyncpg baseline
    latency_seconds: float = 10.0  # each of the two light-load latency runs
    baseline_seconds: float | None = None  # None: 3 s of seal+open, 5 s of FastAPI hello
    pg_url: str = DEFAULT_PG
    lookups: bool = True


async def run_benchmarks(options: BenchOptions, console: Console) -> Report:
    report = Report(settings={k: v for k, v in vars(options).items() if k != "pg_url"})
    with tempfile.TemporaryDirectory(prefix="jukinet-bench-") as root:
        await _federation_figures(options, Path(root) / "changes", report, console)
        if options.lookups:
            await _lookup_figures(options, Path(root) / "lookups", report, console)
    return report


@contextlib.asynccontextmanager
async def _databases(
    options: BenchOptions, backend: Backend
) -> AsyncIterator[Callable[[Principal], str] | None]:
    if backend == "sqlite":
        yield None
        return
    async with pg_databases(options.pg_url, DEMO) as urls:
        yield urls


async def _federation_figures(
    options: BenchOptions, root: Path, report: Report, console: Console
) -> None:
    console.print(f"local federation on {options.backend}: baselines")
    async with _databases(options, options.backend) as urls:
        fed = LocalFederation(root, database_url=urls)
        meter = _meter(fed, options, urls)
        try:
            await fed.start()
            await _baselines(fed, root, report, options)
            console.print(f"changes: {options.seconds:.0f} s sustained, then light load")
            await _propagation(fed, meter, options, report)
            console.print(f"bulk migration of {options.size:,} residents")
            await _migration(fed, meter, options, root, report)
        finally:
            fed.stop()


def _meter(
    fed: LocalFederation, options: BenchOptions, urls: Callable[[Principal], str] | None
) -> CpuMeter:
    """A meter of ``fed``'s processes and, on PostgreSQL, of its databases' backends."""
    if urls is None:
        return CpuMeter(fed)
    names = [urls(node).rsplit("/", 1)[1] for node in fed.federation.nodes]
    return CpuMeter(fed, options.pg_url, names)


def _cpu_figures(report: Report, name: str, use: CpuUse, operations: int, target: float) -> None:
    """CPU per operation for ``name``, and the load generator's share beside it."""
    report.add(Figure(f"CPU per {name}", use.per_op_us(operations), CPU_OP,
                      target=Target(target, at="most")))  # fmt: skip
    report.add(Figure(f"  load generator during it ({name})", use.generator_share, "cores"))


async def _baselines(
    fed: LocalFederation, root: Path, report: Report, options: BenchOptions
) -> None:
    short = options.baseline_seconds
    envelope = envelope_round_trips(fed, 3.0 if short is None else short)
    report.add(Figure(ENVELOPE, envelope, "msg/s"))
    report.add(Figure("JetStream publish, pipelined, mTLS", await jetstream_publish(fed), "msg/s"))
    report.add(Figure(HELLO, await fastapi_hello(5.0 if short is None else short), "req/s"))
    report.add(Figure("bulk insert, SQLite executemany", sqlite_executemany(root), "rows/s"))
    if await _pg_available(options.pg_url):
        report.add(Figure(COPY, await copy_baseline(options.pg_url), "rows/s"))


async def _propagation(
    fed: LocalFederation, meter: CpuMeter, options: BenchOptions, report: Report
) -> None:
    async with meter.measure() as use:
        sent, rate = await sustained_changes(fed, options.seconds)
    _cpu_figures(report, "registration, commit to agency", use, sent, 1000)
    report.add(
        Figure(
            f"changes municipality→agency, sustained ({options.backend})",
            rate,
            "changes/s",
            baseline=HELLO,
            target=Target(2000),
        )
    )
    # light load, then twenty times that (issue 15: 10 and 200 changes/s)
    for rate, target in (
        (options.light_rate, Target(100, at="most")),
        (options.light_rate * BUSY, Target(250, at="most")),
    ):
        stored = await jetstream_bytes(fed)
        async with meter.measure() as use:
            latency = await light_load_latency(fed, rate, options.latency_seconds)
        delivered = len(latency.samples_ms)
        at = f"at {rate:g} changes/s"
        report.add(Figure(f"CPU per delivered change {at}", use.per_op_us(delivered), CPU_OP))
        if rate == options.light_rate:  # each change a message of its own on each hop
            added = await jetstream_bytes(fed) - stored
            report.add(Figure(f"JetStream storage per change {at}", added / delivered, "B/change"))
        report.add(Figure(f"commit→agency latency p50 {at}", latency.p50, "ms"))
        report.add(Figure(f"commit→agency latency p99 {at}", latency.p99, "ms", target=target))


async def _migration(
    fed: LocalFederation, meter: CpuMeter, options: BenchOptions, root: Path, report: Report
) -> None:
    async with meter.measure() as use:
        result = await bulk_migration(fed, options.size, root)
    _cpu_figures(report, "migrated resident, import to agency", use, result.residents, 100)
    base = "bulk insert, SQLite executemany"
    if options.backend == "postgresql":
        base = COPY
    # the 1M-in-60 s (SQLite) / 90 s (PostgreSQL) targets, as a rate
    target = 1_000_000 / (60 if options.backend == "sqlite" else 90)
    name = f"bulk migration {options.size:,} residents → agency ({options.backend})"
    report.add(Figure(name, result.per_second, "residents/s", baseline=base, target=Target(target)))
    report.add(Figure(f"  of which the municipal import ({options.size:,})",
                      result.residents / result.import_seconds, "residents/s"))  # fmt: skip


async def _lookup_figures(
    options: BenchOptions, root: Path, report: Report, console: Console
) -> None:
    if not await _pg_available(options.pg_url):
        console.print("[yellow]PostgreSQL is not reachable: lookup figures skipped")
        return
    async with pg_databases(options.pg_url, DEMO) as urls:
        fed = LocalFederation(root, database_url=urls, extra_env=UNMONITORED)
        try:
            await fed.start(only={AGENCY})
            await _lookups(fed, urls(AGENCY), options, report, console)
        finally:
            fed.stop()


async def _lookups(
    fed: LocalFederation, url: str, options: BenchOptions, report: Report, console: Console
) -> None:
    seeder, bench = RecordSeeder(url), LookupBench(fed, options.connections)
    conns, asyncpg_name = (
        options.connections,
        f"asyncpg indexed lookup ({options.connections} conns)",
    )
    steps = sorted({max(options.records // 100, 100), max(options.records // 10, 100)})
    p50s: list[Figure] = []
    meter = CpuMeter(fed, options.pg_url, [url.rsplit("/", 1)[1]])
    for size in [*steps, options.records]:
        console.print(f"lookups with {size:,} records at the agency")
        await seeder.grow_to(size)
        logged = await relation_bytes(url, *PROVISION_TABLES)
        async with meter.measure() as singles_cpu:
            singles = await bench.singles(size, options.lookup_seconds)
        singles_bytes = await relation_bytes(url, *PROVISION_TABLES) - logged
        p50s.append(Figure(f"single lookup p50 at {size:,} records", singles.p50, "ms"))
    record_bytes = await relation_bytes(url, "identity_records") / options.records
    loaded = f"{options.records:,} records loaded at the agency (COPY)"
    report.add(Figure(loaded, seeder.rows_per_second, "rows/s", baseline=COPY))
    seconds = options.lookup_seconds
    raw = await asyncpg_lookups(url, options.records, concurrency=conns, seconds=seconds)
    report.add(Figure(asyncpg_name, raw.per_second, "lookups/s"))
    held = f"{options.records:,} records"
    report.add(
        Figure(
            f"single lookups, mTLS + logged, {conns} conns, {held}",
            singles.per_second,
            "lookups/s",
            baseline=asyncpg_name,
            target=Target(0.5, on="ratio"),
        )
    )
    report.add(Figure(f"single lookup p99, {conns} conns, {held}", singles.p99, "ms",
                      target=Target(50, at="most")))  # fmt: skip
    _cpu_figures(report, "single lookup, mTLS + logged", singles_cpu, singles.all_calls, 400)
    logged = await relation_bytes(url, *PROVISION_TABLES)
    async with meter.measure() as batches_cpu:
        batches = await bench.batches(options.records, options.lookup_seconds)
    batch_bytes = await relation_bytes(url, *PROVISION_TABLES) - logged
    report.add(
        Figure(
            "batch lookups (10,000 codes), logged",
            batches.items_per_second,
            "codes/s",
            baseline=asyncpg_name,
            target=Target(30_000),
        )
    )
    codes = batches.all_calls * BATCH_SIZE
    _cpu_figures(report, "code in batch lookups", batches_cpu, codes, 20)
    report.add(Figure("agency storage per identity record", record_bytes, "B/record"))
    report.add(Figure("provision log per single lookup", singles_bytes / singles.all_calls,
                      "B/lookup"))  # fmt: skip
    report.add(Figure("provision log per code in batch lookups", batch_bytes / codes, "B/code"))
    await _feed(fed, url, meter, options, report, console)
    await _two_processes(fed, bench, meter, options, report, singles.per_second)
    first = p50s[0]
    for figure in p50s:
        scaled = figure is not first
        report.add(
            Figure(
                figure.name,
                figure.value,
                "ms",
                baseline=first.name if scaled else None,
                target=Target(1.3, at="most", on="ratio") if figure is p50s[-1] else None,
            )
        )


async def _feed(
    fed: LocalFederation, url: str, meter: CpuMeter, options: BenchOptions, report: Report,
    console: Console,
) -> None:  # fmt: skip
    """Change notifications: a watch list of every seeded resident (a million by
    default), a tenth of them changing, the feed pulled to its end."""
    watched = options.records
    changes = max(watched // 10, 1)
    console.print(f"change feed: {watched:,} codes watched, {changes:,} changes")
    feed = FeedBench(fed, url)
    seconds = await feed.subscribe(watched)
    report.add(Figure(f"codes registered for change notifications ({watched:,})",
                      watched / seconds, "codes/s"))  # fmt: skip
    async with meter.measure() as fan_cpu:  # this process applies them: counted apart
        seconds = await feed.change(watched, changes)
    report.add(Figure(f"changes applied and fanned out, {watched:,} watched",
                      changes / seconds, "changes/s"))  # fmt: skip
    fanned = (fan_cpu.federation_s + fan_cpu.generator_s) / changes * 1e6
    report.add(Figure("CPU per change applied and fanned out (agency code + PostgreSQL)",
                      fanned, CPU_OP))  # fmt: skip
    async with meter.measure() as pull_cpu:
        delivered, seconds = await feed.pull()
    if delivered != changes:  # a figure over a feed that lost or repeated changes is void
        raise RuntimeError(f"the feed delivered {delivered:,} of {changes:,} changes")
    report.add(Figure(f"changes delivered by the feed, logged, {watched:,} watched",
                      delivered / seconds, "changes/s"))  # fmt: skip
    report.add(Figure("CPU per change delivered by the feed", pull_cpu.per_op_us(delivered),
                      CPU_OP))  # fmt: skip
    report.add(Figure("  load generator during it (feed)", pull_cpu.generator_share, "cores"))


async def _two_processes(
    fed: LocalFederation,
    bench: LookupBench,
    meter: CpuMeter,
    options: BenchOptions,
    report: Report,
    one: float,
) -> None:
    """The same single lookups with the lookup server as two worker processes (left
    running so: the federation stops next)."""
    server = fed.lookup_servers[AGENCY]
    server.stop()
    server.env[WORKERS] = "2"
    server.start()
    await server.wait_ready()
    await bench.singles(options.records, 1.0)  # both workers connected and warm
    async with meter.measure() as cpu:
        two = await bench.singles(options.records, options.lookup_seconds)
    name = f"single lookups, 2 lookup-server processes, {options.connections} conns"
    report.add(Figure(name, two.per_second, "lookups/s"))
    report.add(Figure("  2 processes / 1 process", two.per_second / one if one else 0.0, "×"))
    _cpu_figures(report, "single lookup, 2 processes", cpu, two.all_calls, 400)


async def jetstream_bytes(fed: LocalFederation) -> int:
    """The bytes every stream of the federation's brokers holds (nats-server monitoring)."""
    total = 0
    async with httpx.AsyncClient(timeout=10) as client:
        for broker in fed.brokers:
            r = await client.get(f"{broker.monitor_url}/jsz")
            r.raise_for_status()
            total += int(r.json().get("bytes", 0))
    return total


async def _pg_available(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def default_pg_url() -> str:
    return os.environ.get("JUKINET_BENCH_PG") or os.environ.get("JUKINET_TEST_PG") or DEFAULT_PG
