"""The agency's real database for its service tests (SQLite, and PostgreSQL when
configured): migrated once per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

import agency.models
from tests.conftest import migrated

MIGRATIONS = Path(agency.models.__file__).parent / "migrations"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def engine(module_database_url: str) -> AsyncIterator[AsyncEngine]:
    """The agency's database, migrated once for the module."""
    engine = await migrated(module_database_url, MIGRATIONS, agency.models.Base.metadata)
    try:
        yield engine
    finally:
        await engine.dispose()
