"""Baselines: what the machine and the libraries do on their own, in this same run."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from jukinet.bus import connect
from jukinet.contracts.principals import Principal
from jukinet.devtools.bench._load import closed_loop
from jukinet.devtools.localfed import LocalFederation, free_port
from jukinet.envelope import Opener, RecipientDirectory, Sealer
from jukinet.pki import Credentials, TrustStore, read_certificate

PAYLOAD = {"items": [{"record": {"name": "山田 太郎", "address": "東京都千代田区" * 4}}]}


def envelope_round_trips(fed: LocalFederation, seconds: float = 3.0) -> float:
    """Seal + open of one small message per second, one core."""
    layout = fed.layout
    town, pref = Principal.municipality("142034"), Principal.prefecture("140007")
    trust = TrustStore(read_certificate(layout.ca_cert))
    sealer = Sealer(
        Credentials.load(layout.node_dir(town), layout.ca_cert, town),
        RecipientDirectory.from_layout(layout, trust),
    )
    opener = Opener(Credentials.load(layout.node_dir(pref), layout.ca_cert, pref), trust)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        token = sealer.seal(
            audience=pref, type="bench", payload=PAYLOAD, sequence=1, ttl=dt.timedelta(minutes=5)
        ).token
        opener.open(token)
        count += 1
    return count / (time.perf_counter() - start)


async def jetstream_publish(fed: LocalFederation, messages: int = 20_000) -> float:
    """Pipelined JetStream publishes per second over mutual TLS (1 KiB each)."""
    town = Principal.municipality("142034")
    nc = await connect(town, [fed.nats_url], fed.tls(town), reconnect=False)
    try:
        js = nc.jetstream()
        subject = f"jukinet.msg.{town.prefecture_of.code}.{town.code}"
        body = b"x" * 1024
        start = time.perf_counter()
        for offset in range(0, messages, 1000):
            await asyncio.gather(
                *(js.publish(subject, body) for _ in range(min(1000, messages - offset)))
            )
        return messages / (time.perf_counter() - start)
    finally:
        await nc.close()


async def fastapi_hello(seconds: float, concurrency: int = 64) -> float:
    """Requests per second to a bare FastAPI app in its own uvicorn process."""
    port = free_port()
    args = [
        sys.executable, "-m", "uvicorn", "jukinet.devtools.bench._hello:app", "--port", str(port),
        "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = await asyncio.create_subprocess_exec(
        *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        async with aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{port}",
            connector=aiohttp.TCPConnector(limit=concurrency),
        ) as client:
            await _wait_up(client, server)

            async def one(_: int) -> int:
                async with client.get("/hello") as r:
                    r.raise_for_status()
                    await r.read()
                return 1

            result = await closed_loop(one, concurrency=concurrency, seconds=seconds)
        return result.per_second
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)


async def _wait_up(client: aiohttp.ClientSession, server: asyncio.subprocess.Process) -> None:
    for _ in range(600):  # bounded: a minute, as for a node (a busy machine starts slowly)
        if server.returncode is not None:
            raise RuntimeError("the hello server exited")
        with contextlib.suppress(aiohttp.ClientError):
            async with client.get("/hello") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise TimeoutError("the hello server did not start")


def sqlite_executemany(workdir: Path, rows: int = 100_000) -> float:
    """Rows per second inserted by one ``executemany`` in one transaction (the table has
    the identity-record shape and its primary key)."""
    path = workdir / "baseline.db"
    path.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE records (resident_code TEXT PRIMARY KEY, municipality TEXT, "
            "name TEXT, name_kana TEXT, birth_date TEXT, sex TEXT, address TEXT, "
            "change_reason TEXT, change_date TEXT, status TEXT, version INTEGER)"
        )
        data = [
            (f"{i:011d}", "141003", f"住基 {i}", f"ジュウキ {i}", "1980-01-01", "male",
             f"合成市合成町{i % 97}丁目", "ex_officio_record", "1980-01-01", "live", 1)
            for i in range(rows)
        ]  # fmt: skip
        start = time.perf_counter()
        with db:
            db.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)", data)
        return rows / (time.perf_counter() - start)
