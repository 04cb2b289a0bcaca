"""Alembic, driven from code: each service keeps its own migrations directory and calls
:func:`upgrade` at start (or through ``jukinet db upgrade``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["run_env", "upgrade"]


def _config(script_location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return config


async def upgrade(engine: AsyncEngine, script_location: Path, revision: str = "head") -> None:
    """Bring the database to ``revision`` (serialised by the database's own locking)."""
    config = _config(script_location)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


def run_env(context: Any, metadata: MetaData) -> None:
    """The body of every service's ``env.py``: online migrations on the given connection."""
    connection: Any = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("jukinet migrations run through jukinet.db.migrations.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
