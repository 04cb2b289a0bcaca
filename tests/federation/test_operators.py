"""Operators at the counter: password and IC card, lockout, office and role scoping, and
the hash-chained operation log — against running nodes, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from typer.testing import CliRunner, Result

from jukinet.cli import app
from jukinet.localfed import LocalFederation
from jukinet.operators import IcCard, card_login, card_principal, challenge_message
from jukinet.pki import CertificateAuthority, utcnow
from jukinet.principals import Principal
from jukinet.synthetic import SyntheticResidents
from tests.federation.support import PersonalData, database_url_of, execute, query

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

HIRATSUKA = Principal.municipality("142034")
CHIYODA = Principal.municipality("131016")
KANAGAWA = Principal.prefecture("140007")
PASSWORD = "correct horse battery"
TODAY = dt.datetime.now(dt.UTC).date().isoformat()
OPERATORS = {
    HIRATSUKA: {
        "tanaka": "clerk", "sato": "supervisor", "suzuki": "auditor", "kato": "administrator",
        "ito": "clerk", "yamada": "clerk",
    },
    CHIYODA: {"tanaka": "clerk"},
    KANAGAWA: {"mori": "clerk"},
}  # fmt: skip


async def cli(*args: str) -> Result:
    env = {"JUKINET_OPERATOR_PASSWORD": PASSWORD}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def operators(federation: LocalFederation) -> AsyncIterator[LocalFederation]:
    """Every operator above, created with `jukinet operators create` (a new IC card each);
    "ito" then gets a card that expired a year ago."""
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
    expired = card_principal(HIRATSUKA, "ito")
    past = utcnow() - dt.timedelta(days=400)
    federation.layout.issue(ca, expired, validity=dt.timedelta(days=30), now=past)
    result = await cli(
        "operators", "card", "ito", "--node", HIRATSUKA.uri, "--db",
        database_url_of(federation, HIRATSUKA), "--pki-root", root,
        "--cert", str(federation.layout.node_dir(expired) / "sign.crt"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    yield federation


def card_of(fed: LocalFederation, office: Principal, slug: str) -> IcCard:
    return IcCard(fed.layout.node_dir(card_principal(office, slug)))


def anonymous(fed: LocalFederation, node: Principal) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=fed.nodes[node].url, timeout=30.0)


async def log_in(
    fed: LocalFederation,
    office: Principal,
    slug: str,
    *,
    password: str = PASSWORD,
    card: IcCard | None = None,
    at: Principal | None = None,
) -> httpx.Response:
    async with anonymous(fed, at or office) as client:
        card = card or card_of(fed, office, slug)
        return await card_login(client, at or office, slug, password, card)


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
    r = await log_in(operators, HIRATSUKA, "tanaka")
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "clerk"
    assert r.json()["token"].startswith("jks_")
    async with await session_client(operators, HIRATSUKA, "tanaka") as client:
        me = (await client.get("/auth/me")).json()
    assert me["actor"] == card_principal(HIRATSUKA, "tanaka").uri
    assert await last_login_outcome(operators, HIRATSUKA, "tanaka") == "ok"


@pytest.mark.parametrize(
    ("slug", "card_owner", "password", "cause"),
    [
        ("tanaka", (HIRATSUKA, "tanaka"), "wrong password!!", "wrong_password"),
        ("tanaka", (HIRATSUKA, "sato"), PASSWORD, "wrong_card"),
        ("tanaka", (CHIYODA, "tanaka"), PASSWORD, "card_of_another_office"),
        ("ito", (HIRATSUKA, "ito"), PASSWORD, "card_expired"),
        ("nobody", (HIRATSUKA, "tanaka"), PASSWORD, "unknown_operator"),
    ],
    ids=["wrong-password", "wrong-card", "card-of-another-office", "expired-card", "unknown"],
)
async def test_a_login_is_refused_alike_and_its_cause_logged(
    operators: LocalFederation,
    slug: str,
    card_owner: tuple[Principal, str],
    password: str,
    cause: str,
) -> None:
    card = card_of(operators, *card_owner)
    r = await log_in(operators, HIRATSUKA, slug, password=password, card=card)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/authentication-failed")
    target = "(unknown)" if cause == "unknown_operator" else slug  # a typed name is not kept
    assert await last_login_outcome(operators, HIRATSUKA, target) == f"failed:{cause}"
    await execute(operators, HIRATSUKA, "UPDATE operators SET failed_attempts = 0")


async def test_a_challenge_is_good_for_one_login_only(operators: LocalFederation) -> None:
    card = card_of(operators, HIRATSUKA, "tanaka")
    async with anonymous(operators, HIRATSUKA) as client:
        challenge = (await client.post("/auth/challenge")).json()
        message = challenge_message(HIRATSUKA, challenge["challenge_id"], challenge["challenge"])
        body = {
            "operator": "tanaka",
            "password": PASSWORD,
            "challenge_id": challenge["challenge_id"],
            "signature": card.sign(message),
            "card_certificate": card.certificate_pem,
        }
        assert (await client.post("/auth/login", json=body)).status_code == 200
        replay = await client.post("/auth/login", json=body)
    assert replay.status_code == 401
    assert await last_login_outcome(operators, HIRATSUKA, "tanaka") == (
        "failed:challenge_unknown_or_expired"
    )
    await execute(operators, HIRATSUKA, "UPDATE operators SET failed_attempts = 0")


async def test_repeated_failures_lock_the_operator_out_until_unlocked(
    operators: LocalFederation,
) -> None:
    for _ in range(5):
        r = await log_in(operators, HIRATSUKA, "yamada", password="not the password")
        assert r.status_code == 401
    locked = await log_in(operators, HIRATSUKA, "yamada")
    assert locked.status_code == 423
    assert locked.json()["type"].endswith("/operator-locked")
    assert await last_login_outcome(operators, HIRATSUKA, "yamada") == "failed:locked"

    async with await session_client(operators, HIRATSUKA, "tanaka") as clerk:
        assert (await clerk.post("/operators/yamada/unlock")).status_code == 403
    async with await session_client(operators, HIRATSUKA, "kato") as admin:
        assert (await admin.post("/operators/yamada/unlock")).status_code == 204
    assert (await log_in(operators, HIRATSUKA, "yamada")).status_code == 200


async def test_an_operator_reaches_only_the_data_of_their_own_office(
    operators: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=5)
    async with await session_client(operators, CHIYODA, "tanaka") as chiyoda:
        body = people.registration(CHIYODA.code)
        personal_data.add_body(body)
        r = await chiyoda.post("/residents", json=body)
        assert r.status_code == 201, r.text
        theirs = r.json()["id"]
        personal_data.add(r.json()["resident_code"])
    async with await session_client(operators, HIRATSUKA, "tanaka") as hiratsuka:
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
    r = await log_in(operators, HIRATSUKA, "tanaka", at=CHIYODA)
    assert r.status_code == 401
    assert await last_login_outcome(operators, CHIYODA, "tanaka") == "failed:card_of_another_office"
    await execute(operators, CHIYODA, "UPDATE operators SET failed_attempts = 0")


async def test_roles_are_enforced(operators: LocalFederation, personal_data: PersonalData) -> None:
    people = SyntheticResidents(seed=6)
    body = people.registration(HIRATSUKA.code)
    personal_data.add_body(body)
    ex_officio = {**people.registration(HIRATSUKA.code), "reason": "ex_officio_record"}
    personal_data.add_body(ex_officio)
    async with await session_client(operators, HIRATSUKA, "tanaka") as clerk:
        r = await clerk.post("/residents", json=body)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        personal_data.add(r.json()["resident_code"])
        assert (await clerk.post("/residents", json=ex_officio)).status_code == 403
        correction = {"reason": "ex_officio_correction", "change_date": TODAY, "sex": "female"}
        assert (await clerk.post(f"/residents/{rid}/changes", json=correction)).status_code == 403
        assert (await clerk.get("/audit/operations")).status_code == 403
        assert (await clerk.get("/operators")).status_code == 403
    async with await session_client(operators, HIRATSUKA, "sato") as supervisor:
        r = await supervisor.post(f"/residents/{rid}/changes", json=correction)
        assert r.status_code == 200, r.text
    async with await session_client(operators, HIRATSUKA, "suzuki") as auditor:
        assert (await auditor.get(f"/residents/{rid}")).status_code == 403
        assert (await auditor.post("/residents", json=body)).status_code == 403
        assert (await auditor.get("/audit/operations")).status_code == 200
    async with await session_client(operators, HIRATSUKA, "kato") as admin:
        assert (await admin.get(f"/residents/{rid}")).status_code == 403
        listed = (await admin.get("/operators")).json()
        assert {o["slug"] for o in listed} >= {"tanaka", "sato", "suzuki", "kato"}
    async with await session_client(operators, KANAGAWA, "mori") as prefecture_clerk:
        assert (await prefecture_clerk.get("/operators")).status_code == 403

    ops = await operations(operators, HIRATSUKA)
    clerk_uri = card_principal(HIRATSUKA, "tanaka").uri
    refused = [o for o in ops if o["actor"] == clerk_uri and o["outcome"] == "refused:403"]
    assert {o["action"] for o in refused} >= {"residents.write", "audit.read", "operators.manage"}
    done = [o for o in ops if o["target"] == rid and o["outcome"] == "ok"]
    assert [o["role"] for o in done][:2] == ["clerk", "supervisor"]


async def test_a_session_ends_at_logout(operators: LocalFederation) -> None:
    client = await session_client(operators, HIRATSUKA, "tanaka")
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
    assert {(o["actor"], o["target"]) for o in created} >= {("cli", "tanaka"), ("cli", "kato")}
    async with await session_client(operators, HIRATSUKA, "suzuki") as auditor:
        report = (await auditor.get("/audit/operations/verify")).json()
    assert report["intact"] is True
    assert report["checked"] >= 20

    with pytest.raises(Exception, match="append-only"):
        await execute(operators, node, "UPDATE operation_log SET outcome = 'ok' WHERE seq = 3")
    with pytest.raises(Exception, match="append-only"):
        await execute(operators, node, "DELETE FROM operation_log WHERE seq = 3")
    # someone with the database owner's rights goes round the triggers
    await _without_triggers(
        operators, node, "UPDATE operation_log SET outcome = 'forged' WHERE seq = 3"
    )
    broken = await cli(*args)
    assert broken.exit_code == 1
    assert "operation log broken at entry 3" in broken.output


async def _without_triggers(fed: LocalFederation, node: Principal, statement: str) -> None:
    url = database_url_of(fed, node)
    if "sqlite" in url:
        await execute(fed, node, "DROP TRIGGER operation_log_no_update")
    else:
        await execute(fed, node, "ALTER TABLE operation_log DISABLE TRIGGER USER")
    await execute(fed, node, statement)


async def test_no_personal_data_reached_any_log(
    operators: LocalFederation, personal_data: PersonalData
) -> None:
    personal_data.add(PASSWORD)
    assert personal_data.leaks(operators.root / "log") == []
