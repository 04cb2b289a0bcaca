"""The prefecture's and the agency's lookup servers are one implementation: each
service's module names its own settings (so its own environment prefix) and tables."""

from __future__ import annotations

import importlib

import pytest

from jukinet.contracts.principals import Principal
from jukinet.lookups import load_table_at_start
from jukinet.tier import LookupServer
from tests.principals import AGENCY, KANAGAWA


@pytest.mark.parametrize("node", [KANAGAWA, AGENCY], ids=["prefecture", "agency"])
def test_each_tier_runs_the_shared_lookup_server_on_its_own_settings(
    node: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = node.kind.value
    module = importlib.import_module(f"{service}.lookup_server")
    models = importlib.import_module(f"{service}.models")
    settings = importlib.import_module(f"{service}.settings")
    prefix = f"JUKINET_{service.upper()}_"
    monkeypatch.setenv(prefix + "PRINCIPAL", node.uri)
    monkeypatch.setenv(prefix + "DATABASE_URL", "sqlite:///unused.db")
    monkeypatch.setenv(prefix + "API_TOKEN", "t" * 32)
    monkeypatch.setenv(prefix + "LOOKUP_PORT", "18443")

    server = module.server
    assert isinstance(server, LookupServer)
    assert (server.records, server.lookups) == (models.records, models.lookups)
    read = server.settings()
    assert type(read) is getattr(settings, f"{service.capitalize()}Settings")
    assert (read.node, read.lookup_port) == (node, 18443)
    assert module.create_app().title == f"jukinet lookups ({node.code})"


async def test_a_mounted_permission_table_is_in_force_when_the_server_starts(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployment mounts the table; the server loads it before serving (replacing the
    grants, keeping a suspension), so no operator has to run `permissions load`."""
    import asyncio
    from pathlib import Path

    from sqlalchemy import text
    from typer.testing import CliRunner

    import agency.lookup_server
    from jukinet.cli import app
    from jukinet.db.engine import create_engine

    runner = CliRunner()
    table = Path(agency.lookup_server.__file__).parent / "permissions" / "table.toml"
    upgraded = await asyncio.to_thread(
        runner.invoke, app, ["db", "upgrade", "agency", "--url", database_url]
    )
    assert upgraded.exit_code == 0, upgraded.output
    for key, value in {
        "PRINCIPAL": AGENCY.uri, "DATABASE_URL": database_url, "API_TOKEN": "t" * 32,
        "PERMISSION_TABLE": str(table),
    }.items():  # fmt: skip
        monkeypatch.setenv(f"JUKINET_AGENCY_{key}", value)
    server = agency.lookup_server.server

    def in_force() -> str:
        shown = runner.invoke(app, ["permissions", "show", "--db", database_url])
        assert shown.exit_code == 0, shown.output
        return shown.output

    assert "passport-issuance" not in await asyncio.to_thread(in_force)
    await asyncio.to_thread(load_table_at_start, server.settings(), server.lookups)
    assert "passport-issuance" in await asyncio.to_thread(in_force)

    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE lookup_clients SET suspended_at = CURRENT_TIMESTAMP "
                     "WHERE client = 'nta-tax'")
            )  # fmt: skip
    finally:
        await engine.dispose()
    await asyncio.to_thread(load_table_at_start, server.settings(), server.lookups)
    assert "suspended" in await asyncio.to_thread(in_force)
