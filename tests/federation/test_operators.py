"""Operators at the counter: password and IC card, lockout, office and role scoping, and
the hash-chained operation log — against running nodes, on SQLite and PostgreSQL.

Trust at the edges: strangers' failures are counted, not chained; they cannot lock the
operator out, run out the challenges or send bodies past the cap; a place that keeps
failing is made to wait (the per-source rate limit is test_login_limits'); a revoked card
ends its sessions at once. Each login below comes from its own loopback address (its own
workstation), so the per-source limits only meet the tests about them. The nodes are
shared with every other federation test: the operators here are this module's own
("op-…")."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.contracts.principals import Principal
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.operators import ThrottlePolicy, card_principal, challenge_message
from jukinet.pki import CertificateAuthority, utcnow
from tests.federation.support import (
    PASSWORD,
    PersonalData,
    anonymous,
    card_of,
    cli,
    database_url_of,
    execute,
    fresh_source,
    log_in,
    query,
)
from tests.principals import AGENCY, CHIYODA, HIRATSUKA, KANAGAWA, MOFA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

TODAY = dt.datetime.now(dt.UTC).date().isoformat()
OPERATORS = {
    HIRATSUKA: {
        "op-tanaka": "clerk", "op-sato": "supervisor", "op-suzuki": "auditor",
        "op-kato": "administrator", "op-ito": "clerk", "op-yamada": "clerk", "op-abe": "clerk",
    },
    CHIYODA: {"op-tanaka": "clerk"},
    KANAGAWA: {"op-mori": "clerk"},
}  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def operators(federation: LocalFederation) -> AsyncIterator[LocalFederation]:
    """Every operator above, created with `jukinet operators create` (a new IC card each);
    "op-ito" then gets a card that expired a year ago."""
    root = str(federation.layout.root)
    for office, people in OPERATORS.items():
        db = database_url_of(federation, office)
        for slug, role in people.items():
            result = await cli(
                "operators", "create", slug, "--role", role, "--node", office.uri,
                "--db", db, "--pki-root", root,
            )  # fmt: skip
            assert result.exit_code == 0, result.output
    ca = CertificateAuthority.load(federation.layout.ca_dir)
    expired = card_principal(HIRATSUKA, "op-ito")
    past = utcnow() - dt.timedelta(days=400)
    federation.layout.issue(ca, expired, validity=dt.timedelta(days=30), now=past)
    result = await cli(
        "operators", "card", "op-ito", "--node", HIRATSUKA.uri, "--db",
        database_url_of(federation, HIRATSUKA), "--pki-root", root,
        "--cert", str(federation.layout.node_dir(expired) / "sign.crt"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    yield federation


async def session_client(
    fed: LocalFederation, office: Principal, slug: str, at: Principal | None = None
) -> httpx.AsyncClient:
    r = await log_in(fed, office, slug)
    assert r.status_code == 200, r.text
    return httpx.AsyncClient(
        base_url=fed.nodes[at or office].url,
        headers={"Authorization": f"Bearer {r.json()['token']}"},
        timeout=30.0,
    )


async def operations(fed: LocalFederation, node: Principal) -> list[dict[str, Any]]:
    rows = await query(
        fed,
        node,
        "SELECT seq, actor, role, action, target, outcome FROM operation_log ORDER BY seq",
    )
    return [dict(r._mapping) for r in rows]


async def last_login_outcome(fed: LocalFederation, node: Principal, slug: str) -> str:
    ops = [o for o in await operations(fed, node) if o["action"] == "auth.login"]
    mine = [o for o in ops if o["target"] == slug]
    return str(mine[-1]["outcome"])


async def test_a_clerk_logs_in_with_password_and_card(operators: LocalFederation) -> None:
    r = await log_in(operators, HIRATSUKA, "op-tanaka")
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "clerk"
    assert r.json()["token"].startswith("jks_")
    async with await session_client(operators, HIRATSUKA, "op-tanaka") as client:
        me = (await client.get("/auth/me")).json()
    assert me["actor"] == card_principal(HIRATSUKA, "op-tanaka").uri
    assert await last_login_outcome(operators, HIRATSUKA, "op-tanaka") == "ok"


async def anonymous_failures(fed: LocalFederation, node: Principal) -> dict[str, float]:
    """The node's ``jukinet_anonymous_failures_total`` by kind."""
    async with anonymous(fed, node) as client:
        text = (await client.get("/metrics")).text
    pattern = r'^jukinet_anonymous_failures_total\{kind="([a-z_]+)"\} ([0-9.e+]+)$'
    return {k: float(v) for k, v in re.findall(pattern, text, re.MULTILINE)}


@pytest.mark.parametrize(
    ("slug", "card_owner", "password", "cause"),
    [
        ("op-tanaka", (HIRATSUKA, "op-tanaka"), "wrong password!!", "wrong_password"),
        ("op-tanaka", (HIRATSUKA, "op-sato"), PASSWORD, "wrong_card"),
        ("op-tanaka", (CHIYODA, "op-tanaka"), PASSWORD, "card_of_another_office"),
        ("op-ito", (HIRATSUKA, "op-ito"), PASSWORD, "card_expired"),
        ("op-nobody", (HIRATSUKA, "op-tanaka"), PASSWORD, "wrong_card"),
    ],
    ids=["wrong-password", "wrong-card", "card-of-another-office", "expired-card", "unknown"],
)
async def test_a_login_is_refused_alike_and_only_the_operators_own_attempt_chained(
    operators: LocalFederation,
    slug: str,
    card_owner: tuple[Principal, str],
    password: str,
    cause: str,
) -> None:
    """With the operator's own card (a wrong password), the attempt is the operator's and
    chained; without it, it is a stranger's: counted by cause, never chained."""
    chained_before = len(await operations(operators, HIRATSUKA))
    counted_before = (await anonymous_failures(operators, HIRATSUKA)).get(f"login_{cause}", 0)
    card = card_of(operators, *card_owner)
    r = await log_in(operators, HIRATSUKA, slug, password=password, card=card)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/authentication-failed")
    chained = (await operations(operators, HIRATSUKA))[chained_before:]
    counted = (await anonymous_failures(operators, HIRATSUKA)).get(f"login_{cause}", 0)
    if cause == "wrong_password":
        assert [(o["target"], o["outcome"]) for o in chained] == [(slug, f"failed:{cause}")]
        assert counted == counted_before
    else:
        assert chained == []
        assert counted == counted_before + 1
    await execute(
        operators, HIRATSUKA, "UPDATE operators SET failed_attempts = 0 WHERE slug = :s", s=slug
    )


async def test_a_challenge_is_good_for_one_login_only(operators: LocalFederation) -> None:
    card = card_of(operators, HIRATSUKA, "op-tanaka")
    async with anonymous(operators, HIRATSUKA) as client:
        challenge = (await client.post("/auth/challenge")).json()
        message = challenge_message(HIRATSUKA, challenge["challenge_id"], challenge["challenge"])
        body = {
            "operator": "op-tanaka",
            "password": PASSWORD,
            "challenge_id": challenge["challenge_id"],
            "signature": card.sign(message),
            "card_certificate": card.certificate_pem,
        }
        assert (await client.post("/auth/login", json=body)).status_code == 200
        replay = await client.post("/auth/login", json=body)
    assert replay.status_code == 401
    assert await last_login_outcome(operators, HIRATSUKA, "op-tanaka") == (
        "failed:challenge_replayed"
    )
    await execute(
        operators, HIRATSUKA, "UPDATE operators SET failed_attempts = 0 WHERE slug = 'op-tanaka'"
    )


async def test_repeated_failures_lock_the_operator_out_until_unlocked(
    operators: LocalFederation,
) -> None:
    for _ in range(5):
        r = await log_in(operators, HIRATSUKA, "op-yamada", password="not the password")
        assert r.status_code == 401
    locked = await log_in(operators, HIRATSUKA, "op-yamada")
    assert locked.status_code == 423
    assert locked.json()["type"].endswith("/operator-locked")
    assert await last_login_outcome(operators, HIRATSUKA, "op-yamada") == "failed:locked"

    async with await session_client(operators, HIRATSUKA, "op-tanaka") as clerk:
        assert (await clerk.post("/operators/op-yamada/unlock")).status_code == 403
    async with await session_client(operators, HIRATSUKA, "op-kato") as admin:
        assert (await admin.post("/operators/op-yamada/unlock")).status_code == 204
    assert (await log_in(operators, HIRATSUKA, "op-yamada")).status_code == 200


async def test_an_operator_reaches_only_the_data_of_their_own_office(
    operators: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=5)
    async with await session_client(operators, CHIYODA, "op-tanaka") as chiyoda:
        body = people.registration(CHIYODA.code)
        personal_data.add_body(body)
        r = await chiyoda.post("/residents", json=body)
        assert r.status_code == 201, r.text
        theirs = r.json()["id"]
        personal_data.add(r.json()["resident_code"])
    async with await session_client(operators, HIRATSUKA, "op-tanaka") as hiratsuka:
        assert (await hiratsuka.get(f"/residents/{theirs}")).status_code == 404
        change = {
            "reason": "in_town_move",
            "change_date": TODAY,
            "notified_on": TODAY,
            "address": "どこか",
        }
        assert (
            await hiratsuka.post(f"/residents/{theirs}/changes", json=change)
        ).status_code == 404
        token = hiratsuka.headers["Authorization"]
    async with anonymous(operators, CHIYODA) as chiyoda:
        r = await chiyoda.get(f"/residents/{theirs}", headers={"Authorization": token})
        assert r.status_code == 401
    # a Hiratsuka operator's card does not open Chiyoda, whatever the name on the account
    before = (await anonymous_failures(operators, CHIYODA)).get("login_card_of_another_office", 0)
    r = await log_in(operators, HIRATSUKA, "op-tanaka", at=CHIYODA)
    assert r.status_code == 401
    after = (await anonymous_failures(operators, CHIYODA)).get("login_card_of_another_office", 0)
    assert after == before + 1


async def test_roles_are_enforced(operators: LocalFederation, personal_data: PersonalData) -> None:
    people = SyntheticResidents(seed=6)
    body = people.registration(HIRATSUKA.code)
    personal_data.add_body(body)
    ex_officio = {**people.registration(HIRATSUKA.code), "reason": "ex_officio_record"}
    personal_data.add_body(ex_officio)
    async with await session_client(operators, HIRATSUKA, "op-tanaka") as clerk:
        r = await clerk.post("/residents", json=body)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        personal_data.add(r.json()["resident_code"])
        assert (await clerk.post("/residents", json=ex_officio)).status_code == 403
        correction = {"reason": "ex_officio_correction", "change_date": TODAY, "sex": "female"}
        assert (await clerk.post(f"/residents/{rid}/changes", json=correction)).status_code == 403
        assert (await clerk.get("/audit/operations")).status_code == 403
        assert (await clerk.get("/operators")).status_code == 403
    async with await session_client(operators, HIRATSUKA, "op-sato") as supervisor:
        r = await supervisor.post(f"/residents/{rid}/changes", json=correction)
        assert r.status_code == 200, r.text
    async with await session_client(operators, HIRATSUKA, "op-suzuki") as auditor:
        assert (await auditor.get(f"/residents/{rid}")).status_code == 403
        assert (await auditor.post("/residents", json=body)).status_code == 403
        assert (await auditor.get("/audit/operations")).status_code == 200
    async with await session_client(operators, HIRATSUKA, "op-kato") as admin:
        assert (await admin.get(f"/residents/{rid}")).status_code == 403
        listed = (await admin.get("/operators")).json()
        assert {o["slug"] for o in listed} >= {"op-tanaka", "op-sato", "op-suzuki", "op-kato"}
    async with await session_client(operators, KANAGAWA, "op-mori") as prefecture_clerk:
        assert (await prefecture_clerk.get("/operators")).status_code == 403

    ops = await operations(operators, HIRATSUKA)
    clerk_uri = card_principal(HIRATSUKA, "op-tanaka").uri
    refused = [o for o in ops if o["actor"] == clerk_uri and o["outcome"] == "refused:403"]
    assert {o["action"] for o in refused} >= {"residents.write", "audit.read", "operators.manage"}
    done = [o for o in ops if o["target"] == rid and o["outcome"] == "ok"]
    assert [o["role"] for o in done][:2] == ["clerk", "supervisor"]


async def test_a_session_ends_at_logout(operators: LocalFederation) -> None:
    client = await session_client(operators, HIRATSUKA, "op-tanaka")
    async with client:
        assert (await client.get("/auth/me")).status_code == 200
        assert (await client.post("/auth/logout")).status_code == 204
        assert (await client.get("/auth/me")).status_code == 401
    async with anonymous(operators, HIRATSUKA) as nobody:
        assert (await nobody.get("/residents/abc")).status_code == 401
        forged = {"Authorization": "Bearer jks_" + "A" * 43}
        assert (await nobody.get("/residents/abc", headers=forged)).status_code == 401


async def test_the_operation_log_is_append_only_and_verifiable(
    operators: LocalFederation,
) -> None:
    node, db = HIRATSUKA, database_url_of(operators, HIRATSUKA)
    root = str(operators.layout.root)
    args = ["audit", "verify", "--db", db, "--node", node.uri, "--pki-root", root]
    ok = await cli(*args)
    assert ok.exit_code == 0, ok.output
    assert "operation log intact" in ok.output
    created = [o for o in await operations(operators, node) if o["action"] == "operators.create"]
    assert {(o["actor"], o["target"]) for o in created} >= {
        ("cli", "op-tanaka"),
        ("cli", "op-kato"),
    }
    async with await session_client(operators, HIRATSUKA, "op-suzuki") as auditor:
        report = (await auditor.get("/audit/operations/verify")).json()
    assert report["intact"] is True
    assert report["checked"] >= 20

    # this module's own entry: the log is every test's, so it is put back afterwards
    mine = next(o for o in created if o["target"] == "op-tanaka")
    seq, outcome = mine["seq"], mine["outcome"]
    with pytest.raises(Exception, match="append-only"):
        await execute(
            operators, node, "UPDATE operation_log SET outcome = 'ok' WHERE seq = :s", s=seq
        )
    with pytest.raises(Exception, match="append-only"):
        await execute(operators, node, "DELETE FROM operation_log WHERE seq = :s", s=seq)
    # someone with the database owner's rights goes round the triggers
    async with _without_triggers(operators, node):
        await execute(
            operators, node, "UPDATE operation_log SET outcome = 'forged' WHERE seq = :s", s=seq
        )
        try:
            broken = await cli(*args)
        finally:
            await execute(
                operators, node, "UPDATE operation_log SET outcome = :o WHERE seq = :s",
                o=outcome, s=seq,
            )  # fmt: skip
    assert broken.exit_code == 1
    assert f"operation log broken at entry {seq}" in broken.output
    # put back: whole again, and append-only again
    assert (await cli(*args)).exit_code == 0
    with pytest.raises(Exception, match="append-only"):
        await execute(
            operators, node, "UPDATE operation_log SET outcome = 'ok' WHERE seq = :s", s=seq
        )


@asynccontextmanager
async def _without_triggers(fed: LocalFederation, node: Principal) -> AsyncIterator[None]:
    """The append-only triggers off, as the database owner may; on again afterwards."""
    if "sqlite" not in database_url_of(fed, node):
        await execute(fed, node, "ALTER TABLE operation_log DISABLE TRIGGER USER")
        try:
            yield
        finally:
            await execute(fed, node, "ALTER TABLE operation_log ENABLE TRIGGER USER")
        return
    trigger = "operation_log_no_update"
    rows = await query(
        fed, node, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n", n=trigger
    )
    await execute(fed, node, f"DROP TRIGGER {trigger}")
    try:
        yield
    finally:
        await execute(fed, node, rows[0][0])


async def test_a_stranger_cannot_lock_the_operator_out(operators: LocalFederation) -> None:
    """Wrong passwords without the operator's card, from many places, lock nothing; one
    place that keeps trying is slowed down; the operator logs in as usual."""
    others = card_of(operators, HIRATSUKA, "op-sato")
    for _ in range(3 * 5):
        r = await log_in(operators, HIRATSUKA, "op-tanaka", password="guess guess!", card=others)
        assert r.status_code == 401
    # past the free failures the place waits, twice as long after each further one: it
    # keeps trying until it is told to wait (bounded; the wait soon outlasts a try)
    source, statuses = fresh_source(), []
    while 429 not in statuses and len(statuses) < ThrottlePolicy().free_failures + 8:
        r = await log_in(
            operators, HIRATSUKA, "op-tanaka", password="guess guess!", card=others, source=source
        )
        statuses.append(r.status_code)
    assert set(statuses) == {401, 429}
    assert (await query(operators, HIRATSUKA, "SELECT failed_attempts, locked_until FROM "
                        "operators WHERE slug = 'op-tanaka'")) == [(0, None)]  # fmt: skip
    assert (await log_in(operators, HIRATSUKA, "op-tanaka")).status_code == 200


def alert_lines(fed: LocalFederation, node: Principal) -> list[str]:
    lines = fed.nodes[node].log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if "refused before authentication" in line]


async def test_anonymous_failures_are_counted_and_alerted_not_chained(
    operators: LocalFederation,
) -> None:
    """60 requests without valid credentials: none chained, each counted, and warned about
    in the log — at most once a minute (each alert stands for 20 failures), never once
    per failure."""
    chained = len(await operations(operators, HIRATSUKA))
    counted = (await anonymous_failures(operators, HIRATSUKA)).get("no_credentials", 0)
    forged = {"Authorization": "Bearer jks_" + "A" * 43}
    async with anonymous(operators, HIRATSUKA) as nobody:
        for i in range(60):
            r = await nobody.get(f"/residents/r{i}", headers=forged if i % 2 else {})
            assert r.status_code == 401
    assert len(await operations(operators, HIRATSUKA)) == chained
    failures = await anonymous_failures(operators, HIRATSUKA)
    assert failures["no_credentials"] == counted + 60
    alerts = alert_lines(operators, HIRATSUKA)
    assert 1 <= len(alerts) <= sum(failures.values()) // 20
    assert {json.loads(line)["level"] for line in alerts} == {"warning"}


async def _refused_status(
    port: int, path: str, *, chunked: bool, tls: ssl.SSLContext | None = None
) -> tuple[int, str]:
    """Send a body past the cap — announced (50 MiB, never sent) or streamed in chunks
    without end — and read the answer's status and content type."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {50 * 2**20}"
        writer.write(f"{head}{framing}\r\n\r\n".encode())
        if chunked:
            chunk = b"[" * 65536
            for _ in range(17):  # 1 MiB and a little more, and no last chunk
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        status = int((await asyncio.wait_for(reader.readline(), 60)).split()[1])
        headers = {}
        while (line := await asyncio.wait_for(reader.readline(), 60)) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers.get("content-type", "")
    finally:
        writer.close()


async def test_bodies_past_the_cap_are_refused_before_anything_reads_them(
    operators: LocalFederation,
) -> None:
    refused = (413, "application/problem+json")
    port = int(operators.nodes[HIRATSUKA].url.rsplit(":", 1)[1])
    for path in ("/auth/login", "/residents"):
        for chunked in (False, True):
            assert await _refused_status(port, path, chunked=chunked) == refused
    assert await _refused_status(port, "/auth/challenge", chunked=False) == refused
    ministry = operators.https_client_tls(MOFA)
    lookup_port = int(operators.lookup_servers[AGENCY].url.rsplit(":", 1)[1])
    for chunked in (False, True):
        status = await _refused_status(lookup_port, "/lookups/batch", chunked=chunked, tls=ministry)
        assert status == refused
    async with anonymous(operators, HIRATSUKA) as client:  # the node serves on
        assert (await client.get("/healthz")).status_code == 200


async def test_a_revoked_card_stops_working_at_once(operators: LocalFederation) -> None:
    card = card_of(operators, HIRATSUKA, "op-abe")  # read before the rotation
    async with await session_client(operators, HIRATSUKA, "op-abe") as abe:
        assert (await abe.get("/auth/me")).status_code == 200
        root = str(operators.layout.root)
        rotated = await asyncio.to_thread(
            CliRunner().invoke,
            app,
            ["pki", "rotate", card_principal(HIRATSUKA, "op-abe").uri, "--root", root],
        )
        assert rotated.exit_code == 0, rotated.output
        assert (await abe.get("/auth/me")).status_code == 401
    before = (await anonymous_failures(operators, HIRATSUKA)).get("login_card_revoked", 0)
    assert (await log_in(operators, HIRATSUKA, "op-abe", card=card)).status_code == 401
    after = (await anonymous_failures(operators, HIRATSUKA)).get("login_card_revoked", 0)
    assert after == before + 1


async def test_no_personal_data_reached_any_log(
    operators: LocalFederation, personal_data: PersonalData
) -> None:
    personal_data.add(PASSWORD)
    assert personal_data.leaks(operators.root / "log") == []
