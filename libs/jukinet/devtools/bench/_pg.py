"""Fresh PostgreSQL databases for a benchmark federation, dropped afterwards."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable

import asyncpg

from jukinet.contracts.federation import Federation
from jukinet.contracts.principals import Principal

__all__ = ["pg_databases"]


@contextlib.asynccontextmanager
async def pg_databases(
    admin_url: str, federation: Federation
) -> AsyncIterator[Callable[[Principal], str]]:
    """One new database per node of ``federation`` on the server of ``admin_url``."""
    tag = secrets.token_hex(4)
    names = {p: f"jukinet_bench_{tag}_{p.slug.replace('.', '_')}" for p in federation.nodes}
    admin = await asyncpg.connect(admin_url)
    try:
        for name in names.values():
            await admin.execute(f'CREATE DATABASE "{name}"')
        base = admin_url.rsplit("/", 1)[0]
        yield lambda p: f"{base}/{names[p]}"
    finally:
        for name in names.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
