"""Helpers for federation tests: waiting, reading node databases, PD bookkeeping,
operators at the counter."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from jukinet.cli import app
from jukinet.contracts.principals import Principal
from jukinet.db.engine import create_engine
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.operators import IcCard, card_login, card_principal

# The agency's lookup monitor suspends a client at this many refusals in ten minutes (the
# default, set explicitly in the shared federation): a test that wants it to fire sends
# that many, one that refuses on purpose (the quota's) stays below it, each as a client
# of its own.
MONITOR_MAX_REFUSALS = 20

_SOURCES = itertools.count(10)


def fresh_source() -> str:
    """Another loopback address: another workstation, as far as a node can tell. One
    counter for every module, so no two tests share a source's login budget or back-off
    on the shared federation (127.0.0.1 is everyone's)."""
    n = next(_SOURCES)
    return f"127.0.{n // 250}.{n % 250 + 2}"


PASSWORD = "correct horse battery"  # every test operator's


async def cli(*args: str) -> Result:
    """`jukinet ARGS`, with the operators' password at hand."""
    env = {"JUKINET_OPERATOR_PASSWORD": PASSWORD}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def card_of(fed: LocalFederation, office: Principal, slug: str) -> IcCard:
    return IcCard(fed.layout.node_dir(card_principal(office, slug)))


def anonymous(
    fed: LocalFederation, node: Principal, source: str | None = None
) -> httpx.AsyncClient:
    """A client of a node's API from ``source`` (a fresh workstation by default)."""
    transport = httpx.AsyncHTTPTransport(local_address=source or fresh_source())
    return httpx.AsyncClient(base_url=fed.nodes[node].url, timeout=30.0, transport=transport)


async def log_in(
    fed: LocalFederation,
    office: Principal,
    slug: str,
    *,
    password: str = PASSWORD,
    card: IcCard | None = None,
    at: Principal | None = None,
    source: str | None = None,
) -> httpx.Response:
    """Password and IC card (the operator's own unless ``card``), at ``at`` or the office."""
    async with anonymous(fed, at or office, source) as client:
        card = card or card_of(fed, office, slug)
        return await card_login(client, at or office, slug, password, card)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, seconds: float = 60.0, every: float = 0.25
) -> None:
    """Poll ``check`` until it holds; fail after ``seconds`` (bounded)."""
    for _ in range(int(seconds / every)):
        if await check():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"condition not reached within {seconds}s")


def database_url_of(fed: LocalFederation, node: Principal) -> str:
    return fed.nodes[node].env[next(k for k in fed.nodes[node].env if k.endswith("DATABASE_URL"))]


async def query(fed: LocalFederation, node: Principal, sql: str, **params: Any) -> list[Any]:
    """Read a node's own database directly (tests only)."""
    engine = create_engine(database_url_of(fed, node))
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def execute(fed: LocalFederation, node: Principal, sql: str, **params: Any) -> None:
    engine = create_engine(database_url_of(fed, node))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params)
    finally:
        await engine.dispose()


async def tier_record(fed: LocalFederation, node: Principal, code: str) -> dict[str, Any] | None:
    """A prefecture's or the agency's view of a record (POST /records/lookup), or None."""
    async with fed.client(node) as client:
        r = await client.post("/records/lookup", json={"resident_code": code})
    if r.status_code == 404:
        return None
    r.raise_for_status()
    return dict(r.json())


async def a_change_flows(
    fed: LocalFederation, town: Principal, tier: Principal, pd: PersonalData
) -> None:
    """A birth registered at ``town`` reaches ``tier`` (bounded): the town's changes flow."""
    body = SyntheticResidents(seed=31).registration(town.code)
    pd.add_body(body)
    async with fed.client(town) as client:
        r = await client.post("/residents", json=body)
    assert r.status_code == 201
    code = r.json()["resident_code"]
    pd.add(code)

    async def stored() -> bool:
        async with fed.client(tier) as client:
            found = await client.post("/records/lookup", json={"resident_code": code})
        return found.status_code == 200

    await eventually(stored, seconds=30)


class PersonalData:
    """Every name, address and resident code a test sends, to look for in the logs."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def add(self, *values: str | None) -> None:
        self.values.update(v for v in values if v)

    def add_body(self, body: dict[str, Any]) -> None:
        self.add(body.get("name"), body.get("address"), body.get("resident_code"))

    def leaks(self, log_dir: Path) -> list[str]:
        found = []
        for log in sorted(log_dir.glob("*.log")):
            content = log.read_text(encoding="utf-8", errors="replace")
            found += [f"{log.name}: {_mask(v)}" for v in self.values if v in content]
        return found


def _mask(value: str) -> str:
    return re.sub(r"\w", "*", value)[:8] + f"({len(value)} chars)"


async def assert_provision_chain_verifies(fed: LocalFederation, node: Principal) -> None:
    """`jukinet audit verify` proves ``node``'s provision log whole, every entry counted."""
    from typer.testing import CliRunner

    from jukinet.cli import app

    total = (await query(fed, node, "SELECT count(*) FROM provision_log"))[0][0]
    args = [
        "audit", "verify", "--db", database_url_of(fed, node),
        "--node", node.uri, "--pki-root", str(fed.layout.root),
    ]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    assert f"{total} entries verified" in result.output


def on_one_backend(request: pytest.FixtureRequest, why: str) -> None:
    """Run a test on the SQLite federation only: what it shows does not depend on the
    database (the PostgreSQL run is skipped, saying why)."""
    if request.node.callspec.params.get("federation") == "postgresql":
        pytest.skip(why)
