"""The provision log is append-only and hash-chained: `jukinet audit verify` proves it
intact or names the first broken entry. Tampering is done directly in the database."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import MetaData, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.contracts.principals import AGENCY
from jukinet.db.engine import create_engine, session_factory
from jukinet.lookups import (
    Provision,
    anchor_bytes,
    append,
    append_only_sql,
    drop_append_only_sql,
    lookup_tables,
    purge_before,
    verify_chain,
)
from jukinet.operators import operator_tables
from jukinet.pki import PkiLayout

TABLES = lookup_tables(MetaData())
OPERATIONS = operator_tables(MetaData())
START = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
ENTRIES = 12
LATER = START + dt.timedelta(days=8 * 365)  # when a retention purge may drop them


@pytest.fixture
async def chain(
    module_database_url: str, layout: PkiLayout
) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """The module's database with new tables and a chain of ENTRIES provisions."""
    engine = await _new_tables(module_database_url)
    async with engine.begin() as conn:
        for statement in append_only_sql(conn.dialect.name):
            await conn.exec_driver_sql(statement)
    key = _agency_key(layout)
    async with session_factory(engine)() as session, session.begin():
        for i in range(ENTRIES):
            await append(session, TABLES, _provision(i), key)
    try:
        yield engine, module_database_url
    finally:
        await engine.dispose()


async def _new_tables(url: str) -> AsyncEngine:
    """An engine on the module's database, where the tables the last test left (and
    their append-only triggers) are dropped and the provision tables created anew."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        for statement in drop_append_only_sql(conn.dialect.name):
            await conn.exec_driver_sql(statement)
        await conn.run_sync(OPERATIONS.operation_log.metadata.drop_all)
        await conn.run_sync(TABLES.provisions.metadata.drop_all)
        await conn.run_sync(TABLES.provisions.metadata.create_all)
    return engine


def _agency_key(layout: PkiLayout) -> ed25519.Ed25519PrivateKey:
    from jukinet.pki import Credentials

    key, _ = Credentials.load(layout.node_dir(AGENCY), layout.ca_cert, AGENCY).require_signing()
    return key


def _provision(i: int) -> Provision:
    return Provision(
        at=START + dt.timedelta(minutes=i),
        client="spiffe://jukinet/ministry/mofa-passport",
        affair="passport-issuance",
        query_kind="by_code",
        outcome="provided" if i % 3 else "refused",
        reason=None if i % 3 else "affair_not_permitted",
        residents=[f"{i:010d}0"],
        fields=["name", "address"] if i % 3 else [],
    )


async def _verify(engine: AsyncEngine, layout: PkiLayout):
    public = _agency_key(layout).public_key()
    async with session_factory(engine)() as session:
        return await verify_chain(session, TABLES, public)


async def _tamper(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as conn:
        for statement in drop_append_only_sql(conn.dialect.name):
            await conn.exec_driver_sql(statement)
        for statement in statements:
            await conn.execute(text(statement))


async def test_an_untouched_log_verifies(chain, layout: PkiLayout) -> None:
    engine, _ = chain
    report = await _verify(engine, layout)
    assert report.intact
    assert report.checked == ENTRIES


async def test_the_log_refuses_updates_and_deletes(chain) -> None:
    engine, _ = chain
    for statement in (
        "UPDATE provision_log SET outcome = 'provided' WHERE seq = 3",
        "DELETE FROM provision_log WHERE seq = 3",
    ):
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))


async def test_an_edited_entry_is_named(chain, layout: PkiLayout) -> None:
    engine, _ = chain
    await _tamper(engine, "UPDATE provision_log SET residents = '[\"99999999999\"]' WHERE seq = 5")
    report = await _verify(engine, layout)
    assert report.broken_at == 5
    assert "altered" in (report.problem or "")


async def test_a_deleted_entry_is_found(chain, layout: PkiLayout) -> None:
    engine, _ = chain
    await _tamper(engine, "DELETE FROM provision_log WHERE seq = 7")
    report = await _verify(engine, layout)
    assert report.broken_at == 8
    assert report.checked == 6


async def test_an_inserted_entry_is_found(chain, layout: PkiLayout) -> None:
    engine, _ = chain
    shift = [
        f"UPDATE provision_log SET seq = seq + 1 WHERE seq = {s}" for s in range(ENTRIES, 4, -1)
    ]
    forged = (
        "INSERT INTO provision_log (seq, at, client, affair, query_kind, outcome, reason, "
        "residents, fields, prev_hash, hash, signature) SELECT 5, at, client, affair, "
        "query_kind, outcome, reason, residents, fields, hash, hash, signature "
        "FROM provision_log WHERE seq = 4"
    )
    await _tamper(engine, *shift, forged)
    report = await _verify(engine, layout)
    assert report.broken_at == 5


async def test_a_reordering_is_found(chain, layout: PkiLayout) -> None:
    engine, _ = chain
    swap = [
        "UPDATE provision_log SET seq = -1 WHERE seq = 9",
        "UPDATE provision_log SET seq = 9 WHERE seq = 10",
        "UPDATE provision_log SET seq = 10 WHERE seq = -1",
    ]
    await _tamper(engine, *swap)
    report = await _verify(engine, layout)
    assert report.broken_at == 9


async def test_a_hidden_provision_in_the_resident_index_is_found(chain, layout: PkiLayout) -> None:
    """Deleting a resident's index row would hide a provision from their disclosure."""
    engine, _ = chain
    await _tamper(engine, "DELETE FROM provision_subjects WHERE seq = 4")
    report = await _verify(engine, layout)
    assert report.broken_at == 4
    assert "index" in (report.problem or "")


async def test_the_index_and_anchor_are_append_only_too(chain) -> None:
    engine, _ = chain
    for statement in (
        "DELETE FROM provision_subjects WHERE seq = 2",
        "UPDATE provision_subjects SET resident_code = '00000000000' WHERE seq = 2",
    ):
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))


async def test_a_rewritten_tail_fails_without_the_nodes_key(chain, layout: PkiLayout) -> None:
    """Recomputing every hash after an edit is not enough: the signatures are the node's."""
    engine, _ = chain
    await _tamper(engine, "DELETE FROM provision_log WHERE seq > 10")
    forger = ed25519.Ed25519PrivateKey.generate()
    async with session_factory(engine)() as session, session.begin():
        await append(session, TABLES, _provision(99), forger)
    report = await _verify(engine, layout)
    assert report.broken_at == 11
    assert "signature" in (report.problem or "")


async def test_purging_old_entries_keeps_the_chain_verifiable(chain, layout: PkiLayout) -> None:
    engine, _ = chain
    async with session_factory(engine)() as session, session.begin():
        dropped = await purge_before(
            session, TABLES, START + dt.timedelta(minutes=4), _agency_key(layout), LATER
        )
    assert dropped == 4
    report = await _verify(engine, layout)
    assert report.intact
    assert report.checked == ENTRIES - 4
    async with session_factory(engine)() as session, session.begin():
        await append(session, TABLES, _provision(50), _agency_key(layout))
    assert (await _verify(engine, layout)).intact


async def test_the_cli_proves_the_log_or_names_the_first_broken_entry(
    chain, layout: PkiLayout
) -> None:
    engine, url = chain
    runner = CliRunner()
    args = ["audit", "verify", "--db", url, "--node", AGENCY.uri, "--pki-root", str(layout.root)]
    ok = await asyncio.to_thread(runner.invoke, app, args)
    assert ok.exit_code == 0, ok.output
    assert f"{ENTRIES} entries verified" in ok.output
    await _tamper(engine, "UPDATE provision_log SET affair = 'student-loans' WHERE seq = 6")
    broken = await asyncio.to_thread(runner.invoke, app, args)
    assert broken.exit_code == 1
    assert "broken at entry 6" in broken.output


async def test_entries_signed_before_a_rotation_still_verify(
    module_database_url: str, ca, tmp_path
) -> None:
    """After the node's signing key is rotated, `audit verify` checks each entry against
    every signing certificate the node has had."""
    rotated = PkiLayout(tmp_path / "pki")
    engine = await _new_tables(module_database_url)
    try:
        for round_ in range(2):
            creds = rotated.issue(ca, AGENCY, validity=dt.timedelta(days=2))
            key, _ = creds.require_signing()
            async with session_factory(engine)() as session, session.begin():
                for i in range(3):
                    await append(session, TABLES, _provision(round_ * 3 + i), key)
        args = [
            "audit",
            "verify",
            "--db",
            module_database_url,
            "--node",
            AGENCY.uri,
            "--pki-root",
            str(rotated.root),
        ]
        result = await asyncio.to_thread(CliRunner().invoke, app, args)
        assert result.exit_code == 0, result.output
        assert "6 entries verified" in result.output
        assert len(rotated.signing_history(AGENCY)) == 2
    finally:
        await engine.dispose()


async def test_an_unsigned_anchor_claiming_an_old_purge_is_forged(chain, layout: PkiLayout) -> None:
    """Today's entries deleted behind an anchor that claims a purge years ago."""
    engine, _ = chain
    await _tamper(
        engine,
        "DELETE FROM provision_subjects WHERE seq <= 4",
        "DELETE FROM provision_log WHERE seq <= 3",
        "INSERT INTO provision_chain_anchor (id, seq, hash, purged_before) "
        "SELECT 1, seq, hash, '2018-04-01 00:00:00+00:00' FROM provision_log WHERE seq = 4",
        "DELETE FROM provision_log WHERE seq = 4",
    )
    report = await _verify(engine, layout)
    assert report.broken_at == 4
    assert "forged purge" in (report.problem or "")


async def test_a_purge_keeps_at_least_a_year(chain, layout: PkiLayout) -> None:
    engine, _ = chain
    async with session_factory(engine)() as session, session.begin():
        with pytest.raises(ValueError, match="a year"):
            await purge_before(
                session, TABLES, START + dt.timedelta(minutes=4), _agency_key(layout)
            )


async def test_a_signed_anchor_must_respect_the_retention_period(chain, layout: PkiLayout) -> None:
    """Even with the node's key, an anchor whose cut-off is younger than the minimum
    retention (relative to its own time) does not verify."""
    engine, _ = chain
    key = _agency_key(layout)
    purged_before, at = START + dt.timedelta(minutes=4), START + dt.timedelta(days=30)
    async with session_factory(engine)() as session:
        log = TABLES.provisions
        row = (await session.execute(select(log.c.hash, log.c.at).where(log.c.seq == 4))).one()
    signature = key.sign(anchor_bytes(4, row.hash, purged_before, row.at, at))
    await _tamper(
        engine,
        "DELETE FROM provision_subjects WHERE seq <= 4",
        "DELETE FROM provision_log WHERE seq <= 4",
    )
    async with session_factory(engine)() as session, session.begin():
        await session.execute(
            TABLES.chain_anchor.insert().values(
                id=1,
                seq=4,
                hash=row.hash,
                purged_before=purged_before,
                last_at=row.at,
                anchored_at=at,
                signature=signature,
            )
        )
    report = await _verify(engine, layout)
    assert report.broken_at == 4
    assert "retention" in (report.problem or "")


async def test_the_purge_cli_needs_the_nodes_key_and_is_logged(
    module_database_url: str, layout: PkiLayout
) -> None:
    engine = await _new_tables(module_database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(OPERATIONS.operation_log.metadata.create_all)
        old, now = dt.datetime(2018, 4, 1, tzinfo=dt.UTC), dt.datetime.now(dt.UTC)
        async with session_factory(engine)() as session, session.begin():
            for i, at in enumerate([old, old, old, now, now]):
                await append(
                    session, TABLES, dataclasses.replace(_provision(i), at=at), _agency_key(layout)
                )
        base = ["--db", module_database_url, "--node", AGENCY.uri, "--pki-root", str(layout.root)]
        runner = CliRunner()
        purged = await asyncio.to_thread(
            runner.invoke, app, ["audit", "purge", *base, "--keep-days", "365"]
        )
        assert purged.exit_code == 0, purged.output
        assert "dropped 3 entries" in purged.output
        verified = await asyncio.to_thread(runner.invoke, app, ["audit", "verify", *base])
        assert verified.exit_code == 0, verified.output
        assert "provision log intact: 2 entries verified" in verified.output
        assert "operation log intact: 1 entries verified" in verified.output
        async with engine.connect() as conn:
            logged = (await conn.execute(text("SELECT actor, action FROM operation_log"))).all()
        assert [tuple(r) for r in logged] == [("cli", "audit.purge")]
    finally:
        await engine.dispose()
