"""`jukinet bench` end to end at tiny sizes: every section runs and lands in the JSON
report with a finite positive value, its ratio to its baseline and whether its target
was met. (The figures themselves are not judged: they depend on the machine.)"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jukinet.cli import app
from tests.conftest import require_postgres

pytestmark = [
    pytest.mark.federation,
    pytest.mark.postgres,
    pytest.mark.asyncio(loop_scope="session"),
    # two federations start (about 30 s and 10 s on two cores); every run below is as
    # short as its option allows, so the rest is a few seconds per section
    pytest.mark.timeout(600),
]

SIZE, RECORDS = 300, 10_000  # 10,000 records: lookups are measured at 100, 1,000 and 10,000
EXPECTED = {
    "envelope seal+open": "msg/s",
    "JetStream publish, pipelined, mTLS": "msg/s",
    "FastAPI hello": "req/s",
    "bulk insert, SQLite executemany": "rows/s",
    "bulk insert, PostgreSQL COPY": "rows/s",
    "asyncpg indexed lookup (8 conns)": "lookups/s",
    "10,000 records loaded at the agency (COPY)": "rows/s",
    "changes municipality→agency, sustained (sqlite)": "changes/s",
    "commit→agency latency p50 at 2 changes/s": "ms",
    "commit→agency latency p99 at 2 changes/s": "ms",
    "commit→agency latency p50 at 40 changes/s": "ms",
    "commit→agency latency p99 at 40 changes/s": "ms",
    "bulk migration 300 residents → agency (sqlite)": "residents/s",
    "  of which the municipal import (300)": "residents/s",
    "single lookups, mTLS + logged, 8 conns, 10,000 records": "lookups/s",
    "single lookup p99, 8 conns, 10,000 records": "ms",
    "batch lookups (10,000 codes), logged": "codes/s",
    "single lookup p50 at 100 records": "ms",
    "single lookup p50 at 1,000 records": "ms",
    "single lookup p50 at 10,000 records": "ms",
    "CPU per registration, commit to agency": "µs CPU/op",
    "  load generator during it (registration, commit to agency)": "cores",
    "CPU per delivered change at 2 changes/s": "µs CPU/op",
    "CPU per delivered change at 40 changes/s": "µs CPU/op",
    "CPU per migrated resident, import to agency": "µs CPU/op",
    "  load generator during it (migrated resident, import to agency)": "cores",
    "CPU per single lookup, mTLS + logged": "µs CPU/op",
    "  load generator during it (single lookup, mTLS + logged)": "cores",
    "CPU per code in batch lookups": "µs CPU/op",
    "  load generator during it (code in batch lookups)": "cores",
    "single lookups, 2 lookup-server processes, 8 conns": "lookups/s",
    "  2 processes / 1 process": "×",
    "CPU per single lookup, 2 processes": "µs CPU/op",
    "  load generator during it (single lookup, 2 processes)": "cores",
    "agency storage per identity record": "B/record",
    "provision log per single lookup": "B/lookup",
    "provision log per code in batch lookups": "B/code",
    "JetStream storage per change at 2 changes/s": "B/change",
    "codes registered for change notifications (10,000)": "codes/s",
    "changes applied and fanned out, 10,000 watched": "changes/s",
    "CPU per change applied and fanned out (agency code + PostgreSQL)": "µs CPU/op",
    "changes delivered by the feed, logged, 10,000 watched": "changes/s",
    "CPU per change delivered by the feed": "µs CPU/op",
    "  load generator during it (feed)": "cores",
}
WITH_TARGET = {
    "changes municipality→agency, sustained (sqlite)",
    "commit→agency latency p99 at 2 changes/s",
    "commit→agency latency p99 at 40 changes/s",
    "bulk migration 300 residents → agency (sqlite)",
    "single lookups, mTLS + logged, 8 conns, 10,000 records",
    "single lookup p99, 8 conns, 10,000 records",
    "batch lookups (10,000 codes), logged",
    "single lookup p50 at 10,000 records",
    "CPU per registration, commit to agency",
    "CPU per migrated resident, import to agency",
    "CPU per single lookup, mTLS + logged",
    "CPU per code in batch lookups",
    "CPU per single lookup, 2 processes",
}


async def test_the_benchmark_reports_every_section(tmp_path: Path) -> None:
    pg = await require_postgres()
    out = tmp_path / "bench.json"
    args = [
        "bench", "--size", str(SIZE), "--records", str(RECORDS), "--seconds", "1",
        "--lookup-seconds", "1", "--connections", "8", "--light-rate", "2", "--latency-seconds", "1",
        "--baseline-seconds", "1", "--pg-url", pg, "--out", str(out),
    ]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"

    doc = json.loads(out.read_text())
    assert set(doc) == {"machine", "settings", "figures"}
    assert isinstance(doc["machine"]["cpus"], int)
    assert doc["machine"]["cpus"] >= 1
    assert {"python", "platform", "processor", "memory_gib"} <= set(doc["machine"])
    assert doc["settings"]["size"] == SIZE
    assert doc["settings"]["records"] == RECORDS
    assert doc["settings"]["backend"] == "sqlite"
    assert doc["settings"]["latency_seconds"] == 1
    assert doc["settings"]["baseline_seconds"] == 1
    assert doc["settings"]["connections"] == 8
    assert "pg_url" not in doc["settings"]

    figures = {f["name"]: f for f in doc["figures"]}
    assert len(figures) == len(doc["figures"])  # no figure overwrote another
    assert {name: f["unit"] for name, f in figures.items()} == EXPECTED
    migration = next(name for name in figures if name.startswith("bulk migration"))
    assert f"{SIZE} residents" in migration
    for name, f in figures.items():
        value = f["value"]
        assert isinstance(value, float | int), name
        assert math.isfinite(value), name
        # a load generator's share can round to nothing at these sizes; all else is work done
        assert value >= 0 if name.startswith("  load generator") else value > 0, name
        if f["baseline"] is not None:
            base = figures[f["baseline"]]["value"]
            assert f["ratio"] == pytest.approx(value / base), name
        else:
            assert f["ratio"] is None, name
        if name in WITH_TARGET:
            assert f["target"], name
            assert isinstance(f["target_met"], bool), name
        else:
            assert f["target"] is None, name
            assert f["target_met"] is None, name
    scaled = figures["single lookup p50 at 10,000 records"]
    assert scaled["baseline"] == "single lookup p50 at 100 records"
    assert figures["single lookups, mTLS + logged, 8 conns, 10,000 records"]["baseline"] == (
        "asyncpg indexed lookup (8 conns)"
    )
