"""Each service's Alembic history builds exactly the schema its models describe, on each
backend, and comes all the way down again. The revisions call shared bodies (bus, records,
lookups, operators, audit), so this is what catches a body that drifts from a model."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from jukinet.db.engine import create_engine
from jukinet.db.migrations import upgrade


async def _diff(engine: AsyncEngine, metadata: MetaData) -> list[Any]:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), metadata
            )
        )


async def _downgrade_to_base(engine: AsyncEngine, migrations: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations))

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    async with engine.begin() as conn:
        await conn.run_sync(run)


def _leftovers(connection: Connection) -> set[str]:
    """Every schema object but Alembic's own table: tables, indexes, triggers and (on
    PostgreSQL) the trigger functions."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            text("SELECT type, name FROM sqlite_master WHERE tbl_name <> 'alembic_version'")
        )
        return {f"{row[0]} {row[1]}" for row in rows}
    functions = connection.execute(
        text(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public'"
        )
    )
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return {f"table {name}" for name in tables} | {f"function {row[0]}" for row in functions}


@pytest.mark.parametrize("service", ["municipal", "prefecture", "agency"])
async def test_migrations_build_the_modelled_schema_and_come_down_again(
    service: str, database_url: str
) -> None:
    models = importlib.import_module(f"{service}.models")
    migrations = Path(models.__file__).parent / "migrations"
    engine = create_engine(database_url)
    try:
        await upgrade(engine, migrations)
        assert await _diff(engine, models.Base.metadata) == []
        async with engine.connect() as conn:
            assert await conn.run_sync(_leftovers)  # the check below can see objects
        await _downgrade_to_base(engine, migrations)
        async with engine.connect() as conn:
            assert await conn.run_sync(_leftovers) == set()
    finally:
        await engine.dispose()
