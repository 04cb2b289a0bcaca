"""Checkpoints: what a witness accepts and keeps, and what comparing a log with them
finds — a cut tail, a missing entry, a rewrite, a purge that lies about its dates."""

from __future__ import annotations

import base64
import datetime as dt
import importlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from jukinet.audit import (
    Anchor,
    Checkpoint,
    checkpoint_table,
    compare_with_checkpoints,
    purge_contradiction,
    read_heads,
    store_checkpoints,
)
from jukinet.audit._checkpoints import signed_bytes
from jukinet.bus import Rejected
from jukinet.contracts.principals import Principal
from jukinet.db.engine import create_engine, session_factory
from jukinet.db.migrations import upgrade
from jukinet.envelope import SignedMessage
from jukinet.operators import Actor, Operation, Role, append_operation, operator_tables
from jukinet.pki import Credentials, PkiLayout, Purpose, read_certificate
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
METADATA = MetaData()
OPERATIONS = operator_tables(METADATA)
CHECKPOINTS = checkpoint_table(METADATA)
ENTRIES = 10


@pytest.fixture
async def engine(module_database_url: str) -> AsyncIterator[AsyncEngine]:
    """The module's database with new tables and a log of ENTRIES operations."""
    engine = create_engine(module_database_url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.drop_all)  # the last test's log, as it left it
        await conn.run_sync(METADATA.create_all)
    key = ed25519.Ed25519PrivateKey.generate()
    async with session_factory(engine)() as session, session.begin():
        for i in range(ENTRIES):
            op = Operation.of(Actor("cli", Role.SYSTEM), "operators.create", f"op{i}", "ok")
            await append_operation(session, OPERATIONS, op, key)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _hash(engine: AsyncEngine, seq: int) -> str:
    log = OPERATIONS.operation_log
    async with engine.connect() as conn:
        return str((await conn.execute(select(log.c.hash).where(log.c.seq == seq))).scalar_one())


def _cp(seq: int, digest: str, at: dt.datetime = NOW) -> Checkpoint:
    return Checkpoint(HIRATSUKA.uri, "operation_log", seq, digest, at, b"")


async def _compare(engine: AsyncEngine, checkpoints: list[Checkpoint]) -> Any:
    async with session_factory(engine)() as session:
        return await compare_with_checkpoints(session, OPERATIONS.operation_log, checkpoints)


async def test_the_heads_are_the_last_entries(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        heads = await read_heads(session, METADATA)
    assert [(h.log, h.seq) for h in heads] == [("operation_log", ENTRIES)]
    assert heads[0].hash == await _hash(engine, ENTRIES)


async def test_an_intact_log_matches_its_checkpoints(engine: AsyncEngine) -> None:
    checkpoints = [_cp(s, await _hash(engine, s)) for s in (3, 7, ENTRIES)]
    assert await _compare(engine, checkpoints) is None


async def test_a_cut_tail_a_missing_entry_and_a_rewrite_are_found(engine: AsyncEngine) -> None:
    top, middle = _cp(ENTRIES, await _hash(engine, ENTRIES)), _cp(5, await _hash(engine, 5))
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM operation_log WHERE seq > 8"))
    cut = await _compare(engine, [middle, top])
    assert (cut.entry, cut.problem.startswith("cut tail")) == (9, True)
    rewritten = await _compare(engine, [_cp(4, "f" * 64), top])
    assert (rewritten.entry, rewritten.problem.startswith("rewritten")) == (4, True)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM operation_log WHERE seq = 5"))
    missing = await _compare(engine, [middle])
    assert (missing.entry, missing.problem.startswith("missing")) == (5, True)


def test_a_purge_of_entries_a_checkpoint_saw_as_young_is_forged() -> None:
    anchor = Anchor(20, "a" * 64, purged_before=NOW - dt.timedelta(days=400))
    assert purge_contradiction([_cp(10, "b" * 64, NOW - dt.timedelta(days=500))], anchor) is None
    found = purge_contradiction([_cp(10, "b" * 64, NOW - dt.timedelta(days=3))], anchor)
    assert found is not None
    assert "forged purge" in found.problem


def _message(layout: PkiLayout, sender: Principal, items: list[dict[str, Any]]) -> SignedMessage:
    return SignedMessage(
        issuer=sender, audience=KANAGAWA, message_id="0" * 32,
        issued_at=0, expires_at=0, sequence=1, type="audit.checkpoint.batch",
        payload={"items": items}, token="",
        signer=read_certificate(layout.public_cert(sender, Purpose.SIGN)),
    )  # fmt: skip


def _item(key: ed25519.Ed25519PrivateKey, node: Principal, seq: int = 4) -> dict[str, Any]:
    digest = "c" * 64
    signature = key.sign(signed_bytes(node.uri, "operation_log", seq, digest, NOW))
    return {
        "node": node.uri, "log": "operation_log", "seq": seq, "hash": digest,
        "sealed_at": NOW.isoformat(), "signature": base64.b64encode(signature).decode(),
    }  # fmt: skip


async def test_a_witness_keeps_only_its_senders_own_signed_checkpoints(
    engine: AsyncEngine, layout: PkiLayout
) -> None:
    key, _ = Credentials.load(
        layout.node_dir(HIRATSUKA), layout.ca_cert, HIRATSUKA
    ).require_signing()
    other = ed25519.Ed25519PrivateKey.generate()
    refused = [
        [_item(key, CHIYODA)],  # about another node
        [_item(other, HIRATSUKA)],  # not signed by the sender
        [{**_item(key, HIRATSUKA), "log": "residents"}],
        [],
    ]
    for items in refused:
        async with session_factory(engine)() as session, session.begin():
            with pytest.raises(Rejected):
                await store_checkpoints(
                    session, CHECKPOINTS, _message(layout, HIRATSUKA, items), NOW
                )
    async with session_factory(engine)() as session, session.begin():
        message = _message(layout, HIRATSUKA, [_item(key, HIRATSUKA)])
        await store_checkpoints(session, CHECKPOINTS, message, NOW)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(CHECKPOINTS.c.node, CHECKPOINTS.c.seq))).all()
    assert [tuple(r) for r in rows] == [(HIRATSUKA.uri, 4)]


@pytest.mark.parametrize("service", ["municipal", "prefecture", "agency"])
async def test_each_service_migrates_the_audit_tables_as_modelled(
    service: str, database_url: str
) -> None:
    """The new migrations create the checkpoint table (append-only) and the signed
    anchor's columns exactly as the models describe them; downgrading removes them."""
    models = importlib.import_module(f"{service}.models")
    migrations = Path(models.__file__).parent / "migrations"
    engine = create_engine(database_url)
    try:
        await upgrade(engine, migrations)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}),
                    models.Base.metadata,
                )
            )
        names = ("chain_checkpoints", "provision_chain_anchor")
        assert [d for d in diff if any(name in str(d) for name in names)] == []
        async with engine.begin() as conn:
            row = {**_item(ed25519.Ed25519PrivateKey.generate(), HIRATSUKA), "received_at": NOW}
            row |= {"sealed_at": NOW, "signature": b"x"}
            await conn.execute(CHECKPOINTS.insert().values(row))
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM chain_checkpoints"))
        await downgrade_one(engine, migrations)
    finally:
        await engine.dispose()


async def downgrade_one(engine: AsyncEngine, migrations: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations))

    audit = next(
        rev
        for rev in ScriptDirectory.from_config(config).walk_revisions()
        if rev.path.endswith("_audit_checkpoints.py")
    )

    def run(connection: Any) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, str(audit.down_revision))  # later heads come down too

    async with engine.begin() as conn:
        await conn.run_sync(run)
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert "chain_checkpoints" not in tables
