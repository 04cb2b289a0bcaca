"""`jukinet db`: migrations of a service's database (a development and operations tool)."""

from __future__ import annotations

import asyncio
import importlib
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from alembic import command
from alembic.config import Config

from jukinet.cli._errors import database_url
from jukinet.db.engine import create_engine
from jukinet.db.migrations import upgrade as upgrade_db

app = typer.Typer(help="Service database migrations.", no_args_is_help=True)
SERVICES = ("municipal", "prefecture", "agency")
ServiceArg = Annotated[str, typer.Argument(help="municipal, prefecture or agency")]


def _migrations(service: str) -> Path:
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}")
    package = importlib.import_module(service)
    return Path(package.__path__[0]) / "migrations"


@app.command()
def upgrade(service: ServiceArg, url: Annotated[str, typer.Option(envvar="DATABASE_URL")]) -> None:
    """Apply every pending migration to the database at URL."""

    async def run() -> None:
        engine = create_engine(database_url(url, create=True))
        try:
            await upgrade_db(engine, _migrations(service))
        finally:
            await engine.dispose()

    asyncio.run(run())


@app.command()
def revision(service: ServiceArg, message: Annotated[str, typer.Option("-m")]) -> None:
    """Autogenerate a migration from the service's models against a scratch database."""
    script_location = _migrations(service)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/scratch.db"
        engine = create_engine(url)
        asyncio.run(upgrade_db(engine, script_location))

        async def autogenerate() -> None:
            async with engine.begin() as conn:
                await conn.run_sync(_revision, script_location, message)
            await engine.dispose()

        asyncio.run(autogenerate())


def _revision(connection: object, script_location: Path, message: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    command.revision(config, message=message, autogenerate=True)
