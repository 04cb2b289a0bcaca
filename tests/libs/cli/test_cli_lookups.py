"""`jukinet permissions load|show` and `jukinet clients reinstate` on a real database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

import agency.models
from jukinet.cli import app
from jukinet.db.engine import create_engine

TABLE = Path(agency.models.__file__).parent / "permissions" / "table.toml"
runner = CliRunner()


async def _sql(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_loading_showing_and_reloading_the_permission_table(database_url: str) -> None:
    async def invoke(*args: str):
        return await asyncio.to_thread(runner.invoke, app, list(args))

    assert (await invoke("db", "upgrade", "agency", "--url", database_url)).exit_code == 0
    loaded = await invoke("permissions", "load", str(TABLE), "--db", database_url)
    assert loaded.exit_code == 0, loaded.output
    assert "8 clients, 8 grants" in loaded.output
    shown = await invoke("permissions", "show", "--db", database_url)
    assert "passport-issuance" in shown.output
    assert "外務省" in shown.output
    assert "suspended" not in shown.output

    await _sql(
        database_url,
        "UPDATE lookup_clients SET suspended_at = CURRENT_TIMESTAMP WHERE client = 'nta-tax'",
    )
    again = await invoke("permissions", "load", str(TABLE), "--db", database_url)
    assert again.exit_code == 0
    assert "suspended" in (await invoke("permissions", "show", "--db", database_url)).output

    assert (await invoke("clients", "reinstate", "nta-tax", "--db", database_url)).exit_code == 0
    assert (await invoke("clients", "reinstate", "nta-tax", "--db", database_url)).exit_code == 1
    assert "suspended" not in (await invoke("permissions", "show", "--db", database_url)).output


def test_a_malformed_table_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        TABLE.read_text().replace(
            'fields = ["status", "address"]', 'fields = ["status", "honseki"]'
        )
    )
    result = runner.invoke(
        app, ["permissions", "load", str(bad), "--db", f"sqlite:///{tmp_path}/x.db"]
    )
    assert result.exit_code != 0
    assert "honseki" in str(result.exception)
