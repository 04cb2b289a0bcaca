"""Shared fixtures: a throwaway federation PKI per test session."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

from jukinet.contracts.federation import DEMO
from jukinet.db.engine import create_engine
from jukinet.db.migrations import upgrade
from jukinet.devtools.localfed import share_listen_ports
from jukinet.pki import CertificateAuthority, PkiLayout, TrustStore, utcnow


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker starts its federations on ports of its own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is not None:
        share_listen_ports(
            int(worker.removeprefix("gw")), int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
        )


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> FederationGroups:
    return FederationGroups(config, log)


class FederationGroups(LoadScopeScheduling):
    """Hands each worker whole groups (:func:`federation_group`), so that a federation is
    started once per group rather than once per worker that touches it; other tests go
    by module, as their module-scoped databases and fixtures expect. Groups go out in
    the order collected (``_FIRST`` leads), not largest first."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return federation_group(nodeid) or nodeid.partition("::")[0]


# The groups that lead, in this order: the two backends' federations, then the bench and
# the broker permissions (the longest of the rest), so that no long group is left for
# last. Within PostgreSQL, the resilience burst goes first (on SQLite it comes last, by
# name): the two bursts then never run at the same time.
_FIRST = (
    "postgresql",
    "sqlite",
    "tests/federation/test_bench.py",
    "tests/federation/test_broker_permissions.py",
)
_BURST = "tests/federation/test_resilience.py::"


@pytest.hookimpl(trylast=True)  # after pytest has grouped the items by fixture parameters
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> tuple[int, bool]:
        group = federation_group(item.nodeid)
        lead = _FIRST.index(group) if group in _FIRST else len(_FIRST)
        return lead, not (item.nodeid.startswith(_BURST) and group == "postgresql")

    items.sort(key=rank)  # stable: otherwise in pytest's order


def federation_group(nodeid: str) -> str | None:
    """A federation test's backend (the shared and the module federations of one backend
    stay in one worker), or its module when it has no backend (the broker or federation of
    its own starts once); ``None`` for the rest, which go by module."""
    path, _, name = nodeid.partition("::")
    if not path.startswith("tests/federation/"):
        return None
    params = name.partition("[")[2].removesuffix("]").split("-")
    return next((b for b in ("sqlite", "postgresql") if b in params), path)


VALIDITY = dt.timedelta(days=7)
CA_START = utcnow() - dt.timedelta(days=30)
CA_VALIDITY = dt.timedelta(days=60)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[PkiLayout, CertificateAuthority]:
    layout = PkiLayout(tmp_path_factory.mktemp("pki"))
    # Backdated so tests can issue credentials that have already expired.
    ca = CertificateAuthority.create(layout.ca_dir, validity=CA_VALIDITY, now=CA_START)
    for principal in DEMO.principals:  # valid since yesterday, for backdated messages
        layout.issue(ca, principal, validity=VALIDITY, now=utcnow() - dt.timedelta(days=1))
    return layout, ca


@pytest.fixture(scope="session")
def layout(pki: tuple[PkiLayout, CertificateAuthority]) -> PkiLayout:
    return pki[0]


@pytest.fixture(scope="session")
def ca(pki: tuple[PkiLayout, CertificateAuthority]) -> CertificateAuthority:
    return pki[1]


@pytest.fixture(scope="session")
def trust(ca: CertificateAuthority) -> TrustStore:
    return TrustStore(ca.certificate)


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[PkiLayout, CertificateAuthority]:
    """A second, unrelated CA that issues the same principal names: an impostor federation."""
    layout = PkiLayout(tmp_path_factory.mktemp("other-pki"))
    ca = CertificateAuthority.create(layout.ca_dir, validity=dt.timedelta(days=30))
    for principal in DEMO.nodes:
        layout.issue(ca, principal, validity=VALIDITY)
    return layout, ca


PG_ADMIN_URL = os.environ.get("JUKINET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


async def require_postgres() -> str:
    """The PostgreSQL admin URL. Skips with a message (fails under CI) when none answers."""
    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        message = (
            f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); "
            "set JUKINET_TEST_PG to run the PostgreSQL tests"
        )
        if os.environ.get("JUKINET_REQUIRE_PG"):
            pytest.fail(message)
        pytest.skip(message)
    await conn.close()
    return PG_ADMIN_URL


async def admin_sql(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_databases() -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """A factory of fresh, empty PostgreSQL databases, dropped after the test."""
    admin = await require_postgres()
    created: list[str] = []

    async def make() -> str:
        name = f"jukinet_t_{secrets.token_hex(6)}"
        await admin_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return admin.rsplit("/", 1)[0] + "/" + name

    yield make
    for name in created:
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@asynccontextmanager
async def fresh_database(backend: str, directory: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database on ``backend`` (a PostgreSQL one is dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'node.db'}"
        return
    await require_postgres()
    name = f"jukinet_t_{secrets.token_hex(6)}"
    await admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """One fresh database URL per test, on each backend: for tests of migrations and of
    commands that set a database up themselves."""
    async with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest_asyncio.fixture(scope="module", params=BACKENDS, loop_scope="session")
async def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """One fresh database per test module and backend. Creating and dropping a database
    per test costs more than most tests, so a module migrates this one once, and its
    tests start from empty tables (:func:`empty_tables`) or tables of their own."""
    async with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


async def migrated(url: str, migrations: Path, metadata: MetaData) -> AsyncEngine:
    """An engine on ``url`` upgraded to head, whose tables are exactly ``metadata``'s (so
    that :func:`empty_tables` leaves nothing behind)."""
    engine = create_engine(url)
    await upgrade(engine, migrations)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert names - {"alembic_version"} == set(metadata.tables), "tables beyond the models"
    return engine


async def empty_tables(engine: AsyncEngine, metadata: MetaData) -> None:
    """Delete every row of ``metadata``'s tables, children first: a migrated database as
    fresh as a new one, without creating and migrating another."""
    async with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
