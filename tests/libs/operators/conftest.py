"""A municipality's real database for the operator tests (SQLite, and PostgreSQL when
configured), migrated once per module and emptied before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import municipal.models
from jukinet.db.engine import session_factory
from tests.conftest import empty_tables, migrated

MIGRATIONS = Path(municipal.models.__file__).parent / "migrations"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def engine(module_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A municipality's database, migrated once for the module."""
    engine = await migrated(module_database_url, MIGRATIONS, municipal.models.Base.metadata)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on the module's database, emptied first: every test enrols abe anew."""
    await empty_tables(engine, municipal.models.Base.metadata)
    async with session_factory(engine)() as s:
        yield s
