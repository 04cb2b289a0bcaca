"""`jukinet audit verify` against a running federation: what an attacker with the node's
database (but not its signing key) can do to the chained logs is caught — a cut tail, a
forged purge, a truncated log, a log rewritten under a planted certificate — and a log
checked under the wrong node is named as another node's, on SQLite and PostgreSQL.

Each node sends its signed chain heads to its witness every second here (municipality
→ prefecture → agency → a municipality), over the bus channels it already has. The logs
are cut, forged and truncated for good, and the checkpoints are configured: so this
module has a federation of its own (the agency, Kanagawa and Hiratsuka), not the shared
one."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import MetaData, text
from typer.testing import CliRunner, Result

from jukinet.cli import app
from jukinet.contracts.ids import resident_code_check_digit
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.db.engine import create_engine, session_factory
from jukinet.devtools.localfed import LocalFederation
from jukinet.operators import Actor, Operation, Role, append_operation, operator_tables
from jukinet.pki import fingerprint
from tests.certs import self_signed
from tests.federation.support import PersonalData, database_url_of, eventually, execute, query
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

RUN_NODES = {AGENCY, KANAGAWA, HIRATSUKA}
EXTRA_ENV = {
    **{f"JUKINET_{p}_CHECKPOINT_SECONDS": "1" for p in ("AGENCY", "PREFECTURE", "MUNICIPAL")},
    "JUKINET_AGENCY_CHECKPOINT_WITNESS": HIRATSUKA.uri,
}
WITNESS = {AGENCY: HIRATSUKA, KANAGAWA: AGENCY, HIRATSUKA: KANAGAWA}
PASSWORD = "correct horse battery"
OPERATIONS = operator_tables(MetaData())


def code(body: str) -> str:
    return body + str(resident_code_check_digit(body))


async def cli(*args: str) -> Result:
    env = {"JUKINET_OPERATOR_PASSWORD": PASSWORD}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def verify(
    fed: LocalFederation, node: Principal, *, as_node: Principal | None = None, witness: bool = True
) -> Result:
    args = [
        "audit", "verify", "--db", database_url_of(fed, node), "--node", (as_node or node).uri,
        "--pki-root", str(fed.layout.root),
    ]  # fmt: skip
    if witness:
        args += ["--witness-db", database_url_of(fed, WITNESS[node])]
    return await cli(*args)


async def head(fed: LocalFederation, node: Principal, log: str) -> int:
    rows = await query(fed, node, f"SELECT max(seq) FROM {log}")
    return int(rows[0][0] or 0)


async def checkpointed(fed: LocalFederation, node: Principal, log: str) -> None:
    """Wait until the witness holds a checkpoint of the node's current head of ``log``."""
    target = await head(fed, node, log)
    assert target > 0

    async def reached() -> bool:
        rows = await query(
            fed, WITNESS[node],
            "SELECT max(seq) FROM chain_checkpoints WHERE node = :n AND log = :l",
            n=node.uri, l=log,
        )  # fmt: skip
        return rows[0][0] is not None and int(rows[0][0]) >= target

    await eventually(reached, seconds=60)


async def read_records(fed: LocalFederation, node: Principal, count: int, pd: PersonalData) -> None:
    """Operator reads at a serving node: each is a provision-log entry."""
    async with fed.client(node) as client:
        for i in range(count):
            resident = code(f"70000{i:05d}")
            pd.add(resident)
            r = await client.post("/records/lookup", json={"resident_code": resident})
            assert r.status_code == 404


async def create_operators(fed: LocalFederation, node: Principal, *slugs: str) -> None:
    for slug in slugs:
        result = await cli(
            "operators", "create", slug, "--role", "clerk", "--node", node.uri,
            "--db", database_url_of(fed, node), "--pki-root", str(fed.layout.root),
        )  # fmt: skip
        assert result.exit_code == 0, result.output


def is_sqlite(fed: LocalFederation, node: Principal) -> bool:
    return "sqlite" in database_url_of(fed, node)


async def test_checkpoints_leave_every_node_and_an_untouched_log_verifies(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    await read_records(federation, AGENCY, 4, personal_data)
    await create_operators(federation, HIRATSUKA, "tanaka", "sato")
    await checkpointed(federation, AGENCY, "provision_log")
    await checkpointed(federation, AGENCY, "operation_log")
    await checkpointed(federation, HIRATSUKA, "operation_log")
    for node in (AGENCY, HIRATSUKA):
        ok = await verify(federation, node)
        assert ok.exit_code == 0, ok.output
        assert "operation log intact" in ok.output
        assert "checkpoints kept outside the node" in ok.output
    with pytest.raises(Exception, match="append-only"):
        await execute(federation, HIRATSUKA, "DELETE FROM chain_checkpoints")


async def test_deleting_the_newest_provision_is_a_cut_tail(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """With INSERT and DELETE rights only: the purge guard's row opens the triggers."""
    await read_records(federation, AGENCY, 2, personal_data)
    await checkpointed(federation, AGENCY, "provision_log")
    newest = await head(federation, AGENCY, "provision_log")
    await execute(federation, AGENCY, "INSERT INTO provision_purge_guard (id) VALUES (1)")
    await execute(federation, AGENCY, "DELETE FROM provision_log WHERE seq = :s", s=newest)
    await execute(federation, AGENCY, "DELETE FROM provision_purge_guard")

    alone = await verify(federation, AGENCY, witness=False)
    assert "provision log intact" in alone.output  # the log alone cannot show it
    cut = await verify(federation, AGENCY)
    assert cut.exit_code == 1, cut.output
    assert f"provision log broken at entry {newest}: cut tail" in cut.output


async def test_an_anchor_claiming_an_old_purge_of_todays_entries_is_forged(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    await read_records(federation, KANAGAWA, 5, personal_data)
    await checkpointed(federation, KANAGAWA, "provision_log")
    rows = await query(federation, KANAGAWA, "SELECT seq, hash FROM provision_log WHERE seq = 3")
    seq, digest = rows[0]
    await execute(federation, KANAGAWA, "INSERT INTO provision_purge_guard (id) VALUES (1)")
    await execute(federation, KANAGAWA, "DELETE FROM provision_subjects WHERE seq <= 3")
    await execute(federation, KANAGAWA, "DELETE FROM provision_log WHERE seq <= 3")
    await execute(
        federation, KANAGAWA,
        "INSERT INTO provision_chain_anchor (id, seq, hash, purged_before) "
        "VALUES (1, :seq, :hash, :before)",
        seq=seq, hash=digest, before=dt.datetime(2018, 4, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    await execute(federation, KANAGAWA, "DELETE FROM provision_purge_guard")

    forged = await verify(federation, KANAGAWA)
    assert forged.exit_code == 1, forged.output
    assert "provision log broken at entry 3" in forged.output
    assert "forged purge" in forged.output


async def test_verifying_under_the_wrong_node_names_the_signer(
    federation: LocalFederation,
) -> None:
    wrong = await verify(federation, HIRATSUKA, as_node=CHIYODA, witness=False)
    assert wrong.exit_code == 1
    assert "operation log broken at entry 1" in wrong.output
    assert f"signed by another node's key ({HIRATSUKA.uri})" in wrong.output
    assert "forged" not in wrong.output


async def test_a_truncated_operation_log_is_a_cut_tail(federation: LocalFederation) -> None:
    """The database owner drops the triggers and empties the log."""
    await checkpointed(federation, HIRATSUKA, "operation_log")
    if is_sqlite(federation, HIRATSUKA):
        await execute(federation, HIRATSUKA, "DROP TRIGGER operation_log_no_delete")
        await execute(federation, HIRATSUKA, "DELETE FROM operation_log")
    else:
        await execute(
            federation, HIRATSUKA, "DROP TRIGGER operation_log_no_truncate ON operation_log"
        )
        await execute(federation, HIRATSUKA, "TRUNCATE operation_log")
    alone = await verify(federation, HIRATSUKA, witness=False)
    assert "operation log intact: 0 entries verified" in alone.output
    cut = await verify(federation, HIRATSUKA)
    assert cut.exit_code == 1, cut.output
    assert "operation log broken at entry 1: cut tail" in cut.output


async def test_a_log_rewritten_under_a_planted_certificate_is_forged(
    federation: LocalFederation,
) -> None:
    """Entries re-signed with the attacker's key, and a self-signed certificate naming
    the node planted in its archive: only keys the federation CA certified count."""
    await create_operators(federation, KANAGAWA, "mori")
    forger = ed25519.Ed25519PrivateKey.generate()
    planted = federation.layout.directory / "archive"
    planted.mkdir(exist_ok=True)
    cert = self_signed(forger, KANAGAWA)
    (planted / f"{KANAGAWA.slug}.sign.{fingerprint(cert)}.crt").write_bytes(
        cert.public_bytes(Encoding.PEM)
    )
    await rewrite_operation_log(federation, KANAGAWA, forger)
    forged = await verify(federation, KANAGAWA, witness=False)
    assert forged.exit_code == 1, forged.output
    assert "operation log broken at entry 1: its signature is not the node's" in forged.output
    assert "ignored" in forged.output


async def rewrite_operation_log(
    fed: LocalFederation, node: Principal, key: ed25519.Ed25519PrivateKey
) -> None:
    """Replace every entry by a plausible one, chained and signed with ``key``."""
    engine = create_engine(database_url_of(fed, node))
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                await conn.execute(text("DROP TRIGGER operation_log_no_delete"))
            else:
                await conn.execute(text("ALTER TABLE operation_log DISABLE TRIGGER USER"))
            await conn.execute(text("DELETE FROM operation_log"))
        async with session_factory(engine)() as session, session.begin():
            for slug in ("mori", "hayashi"):
                entry = Operation.of(Actor("cli", Role.SYSTEM), "operators.create", slug, "ok")
                await append_operation(session, OPERATIONS, entry, key)
    finally:
        await engine.dispose()


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []


@pytest.fixture(scope="module")
def federation(own_federation: LocalFederation) -> LocalFederation:
    """This module's own federation (its RUN_NODES and EXTRA_ENV)."""
    return own_federation
