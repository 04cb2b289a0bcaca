"""A real federation per test module: nats-server with mTLS and every node as a process,
on SQLite and on PostgreSQL (one database per node)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from jukinet.contracts.federation import DEMO
from jukinet.contracts.principals import Principal
from jukinet.devtools.localfed import LocalFederation
from tests.conftest import BACKENDS, PG_ADMIN_URL, admin_sql, require_postgres
from tests.federation.support import MONITOR_MAX_REFUSALS, PersonalData

# Each process of a test federation on PostgreSQL keeps few connections open (bursts
# overflow), so that two workers' federations and the bench fit in the server's 100.
SMALL_POOLS = {
    f"JUKINET_{service}_DB_POOL_SIZE": "2" for service in ("MUNICIPAL", "PREFECTURE", "AGENCY")
}


async def make_federation(
    backend: str,
    root: Path,
    only: set[Principal] | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[LocalFederation, list[str]]:
    """On PostgreSQL, a database for each node that starts (one that is not started has
    none: starting it later fails on a database that does not exist)."""
    databases: dict[Principal, str] = {}
    server = PG_ADMIN_URL.rsplit("/", 1)[0]
    if backend == "postgresql":
        await require_postgres()
        for node in DEMO.nodes:
            if only is None or node in only:
                name = f"jukinet_f_{secrets.token_hex(5)}"
                await admin_sql(f'CREATE DATABASE "{name}"')
                databases[node] = f"{server}/{name}"

    def database_url(node: Principal) -> str:
        return databases.get(node, f"{server}/jukinet_f_not_started")

    env = {**(SMALL_POOLS if databases else {}), **(extra_env or {})}
    fed = LocalFederation(root, database_url=database_url if databases else None, extra_env=env)
    try:
        await fed.start(only=only)
    except BaseException:
        fed.stop()
        await drop_databases(list(databases.values()))
        raise
    return fed, list(databases.values())


async def drop_databases(urls: list[str]) -> None:
    """All at once: each DROP DATABASE waits for a checkpoint, and concurrent ones share
    it (one after another they took ~3 s each on a busy machine)."""
    await asyncio.gather(
        *(
            admin_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
            for url in urls
        )
    )


# Settings of the one federation every test module shares, one per line; each must be
# harmless to every test. A module that needs other settings, or stops nodes, starts its
# own with `own_federation`.
SHARED_ENV: dict[str, str] = {
    "JUKINET_AGENCY_MONITOR_MAX_REFUSALS_PER_10_MINUTES": str(MONITOR_MAX_REFUSALS),
    "JUKINET_MUNICIPAL_UNDELIVERABLE_RETRY_SECONDS": "2",  # items waiting for a certificate
}


@pytest_asyncio.fixture(scope="session", params=BACKENDS, loop_scope="session")
async def federation(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LocalFederation]:
    """The whole demo federation, started once per backend for the session. Tests keep
    out of each other's way with fresh residents, operators and clients; they never
    stop, restart or reconfigure its nodes."""
    root = tmp_path_factory.mktemp("fed")
    fed, urls = await make_federation(request.param, root, None, SHARED_ENV)
    try:
        yield fed
    finally:
        fed.stop()
        await drop_databases(urls)


@pytest_asyncio.fixture(scope="module", params=BACKENDS, loop_scope="session")
async def own_federation(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LocalFederation]:
    """A federation of this module's own (``RUN_NODES``, ``EXTRA_ENV``), for tests that
    stop or reconfigure nodes."""
    only = getattr(request.module, "RUN_NODES", None)
    extra_env = getattr(request.module, "EXTRA_ENV", None)
    root = tmp_path_factory.mktemp("fed")
    fed, urls = await make_federation(request.param, root, only, extra_env)
    try:
        yield fed
    finally:
        fed.stop()
        await drop_databases(urls)


@pytest.fixture(scope="module")
def personal_data() -> PersonalData:
    return PersonalData()
