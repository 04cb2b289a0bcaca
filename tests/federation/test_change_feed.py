"""Change notifications (異動情報の提供) on a real federation, both backends: a pension body
watches the residents it serves and pulls, in order, every change of exactly those
residents — moves, a name change, a code change it follows, a death — with only its
affair's fields, each page logged as a provision; removing a code stops delivery; its
cursor survives a restart of the agency; a body without the permission is refused with
a reason, and malformed requests say what is wrong."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from jukinet.cli import app
from jukinet.client import Change, LookupClient, LookupRefused
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.lookups import PermissionTable
from jukinet.pki import CertificateAuthority
from tests.federation.support import PersonalData, eventually, execute, query, tier_record
from tests.federation.test_propagation import TODAY, change, register
from tests.pdftext import text_of
from tests.principals import AGENCY, CHIYODA, HIRATSUKA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

KKR = Principal(PrincipalKind.MINISTRY, "kkr-pension")  # no birth date, sex or reading
AFFAIR = "public-servant-pensions"
JPA = Principal(PrincipalKind.MINISTRY, "jpa-pension")  # its grant: status and address
JPA_AFFAIR = "pension-existence-check"
OPS = Principal(PrincipalKind.OPS, "admin")  # a federation certificate, no lookup client


async def subscribe(
    fed: LocalFederation, body: dict[str, Any], who: Principal = KKR
) -> httpx.Response:
    async with fed.lookup_client(AGENCY, who) as c:
        return await c.post("/subscriptions", json={"affair": AFFAIR, **body})


async def pull(
    fed: LocalFederation, cursor: str | None, limit: int = 1000, who: Principal = KKR,
    affair: str = AFFAIR,
) -> httpx.Response:  # fmt: skip
    body: dict[str, Any] = {"affair": affair, "limit": limit}
    if cursor is not None:
        body["cursor"] = cursor
    async with fed.lookup_client(AGENCY, who) as c:
        return await c.post("/subscriptions/changes", json=body)


async def head(fed: LocalFederation, who: Principal = KKR) -> str | None:
    """The feed's end for a body now: where a test starts reading from."""
    sql = "SELECT max(seq) FROM change_feed WHERE client = :c"
    rows = await query(fed, AGENCY, sql, c=who.name)
    return None if rows[0][0] is None else str(rows[0][0])


async def at_agency(fed: LocalFederation, code: str, version: int) -> None:
    async def arrived() -> bool:
        view = await tier_record(fed, AGENCY, code)
        return view is not None and view["version"] >= version

    await eventually(arrived)


async def newcomer(
    fed: LocalFederation, town: httpx.AsyncClient, code: str, people: SyntheticResidents,
    pd: PersonalData,
) -> tuple[dict[str, Any], str | None]:  # fmt: skip
    """A resident newly registered at ``town`` (municipality ``code``), once the agency
    holds them, and the end of KKR's feed before any change of theirs is watched."""
    resident = await register(town, people.registration(code), pd)
    await at_agency(fed, resident["resident_code"], 1)
    return resident, await head(fed)


async def everything_after(fed: LocalFederation, cursor: str | None) -> list[dict[str, Any]]:
    r = await pull(fed, cursor)
    assert r.status_code == 200, r.text
    return list(r.json()["changes"])


async def test_a_body_receives_every_change_of_its_residents_and_nothing_else(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=1701)
    async with federation.client(HIRATSUKA) as town:
        a, b, stranger = [
            await register(town, people.registration(HIRATSUKA.code), personal_data)
            for _ in range(3)
        ]
        await at_agency(federation, stranger["resident_code"], 1)
        start = await head(federation)
        r = await subscribe(federation, {"add": [a["resident_code"], b["resident_code"]]})
        assert r.status_code == 200, r.text
        assert r.json() == {"affair": AFFAIR, "added": 2, "removed": 0}
        new_address = people.address(HIRATSUKA.code)
        a = await change(town, a["id"], {"reason": "in_town_move", "address": new_address},
                         personal_data)  # fmt: skip
        await change(town, stranger["id"], {"reason": "in_town_move",
                                            "address": people.address(HIRATSUKA.code)},
                     personal_data)  # fmt: skip
        b = await change(town, b["id"], {"reason": "name_change", "name": "改名 咲子",
                                         "name_kana": "カイメイ サキコ"}, personal_data)  # fmt: skip
        old_code = a["resident_code"]
        a = await change(town, a["id"], {"reason": "code_change"}, personal_data)
        a = await change(town, a["id"], {"reason": "death"}, personal_data)  # on the new code
    await at_agency(federation, a["resident_code"], 4)
    await at_agency(federation, b["resident_code"], 2)

    first = await pull(federation, start, limit=2)
    assert first.status_code == 200, first.text
    assert first.json()["more"] is True
    rest = await everything_after(federation, first.json()["cursor"])
    changes = first.json()["changes"] + rest
    mine = {old_code, a["resident_code"], b["resident_code"]}
    assert all(c["resident_code"] in mine for c in changes), "a stranger's change leaked"
    assert stranger["resident_code"] not in json.dumps(changes)
    by_a = [c for c in changes if c["resident_code"] in (old_code, a["resident_code"])]
    assert [c["change_reason"] for c in by_a] == ["in_town_move", "code_change", "death"]
    assert by_a[0]["record"] == {"status": "live", "name": a["name"], "address": new_address,
                                 "change_reason": "in_town_move", "change_date": TODAY}  # fmt: skip
    assert (by_a[1]["previous_code"], by_a[1]["resident_code"]) == (old_code, a["resident_code"])
    assert by_a[2]["record"]["status"] == "deleted"
    named = [c for c in changes if c["resident_code"] == b["resident_code"]]
    assert [c["record"]["name"] for c in named] == ["改名 咲子"]
    granted = {"status", "name", "address", "change_reason", "change_date"}  # the grant's
    assert all(set(c["record"]) == granted for c in changes)
    assert all(c["change_date"] == TODAY for c in changes)
    cursors = [int(c["cursor"]) for c in changes]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == len(cursors)
    assert await everything_after(federation, changes[-1]["cursor"]) == []

    logged = await query(
        federation, AGENCY,
        "SELECT residents, fields FROM provision_log WHERE client = :c AND query_kind = "
        "'changes' AND outcome = 'provided' ORDER BY seq DESC LIMIT 2", c=KKR.uri,
    )  # fmt: skip
    delivered = {code for residents, _ in logged for code in json.loads(residents)}
    assert mine <= delivered
    assert "birth_date" not in logged[0][1]
    assert await disclosed_kinds(federation, b["id"]) >= {(KKR.uri, AFFAIR, "changes")}


async def disclosed_kinds(fed: LocalFederation, resident_id: str) -> set[tuple[str, str, str]]:
    """What the agency answers the resident's disclosure request with, and that its
    printed answer names the change feed."""
    async with fed.client(HIRATSUKA) as c:
        r = await c.post("/disclosures", json={"resident_id": resident_id})
        assert r.status_code == 202, r.text
        disclosure = f"/disclosures/{r.json()['id']}"

        async def answered() -> bool:
            return bool((await c.get(disclosure)).json()["complete"])

        await eventually(answered, seconds=30)
        view = (await c.get(disclosure)).json()
        printed = await c.get(f"{disclosure}/document")
    assert "異動情報の提供" in text_of(printed.content)
    return {(p["recipient"], p["affair"], p["query_kind"]) for p in view["answers"][AGENCY.uri]}


async def test_removing_a_code_stops_delivery_and_withdraws_what_was_waiting(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=1702)
    async with federation.client(HIRATSUKA) as town:
        gone, waiting = [
            await register(town, people.registration(HIRATSUKA.code), personal_data)
            for _ in range(2)
        ]
        await at_agency(federation, waiting["resident_code"], 1)
        start = await head(federation)
        codes = [gone["resident_code"], waiting["resident_code"]]
        assert (await subscribe(federation, {"add": codes})).status_code == 200
        await change(town, waiting["id"], {"reason": "in_town_move",
                                           "address": people.address(HIRATSUKA.code)},
                     personal_data)  # fmt: skip
        await at_agency(federation, waiting["resident_code"], 2)
        assert len(await everything_after(federation, start)) == 1  # it was waiting
        r = await subscribe(federation, {"remove": codes})
        assert r.json() == {"affair": AFFAIR, "added": 0, "removed": 2}
        await change(town, gone["id"], {"reason": "death"}, personal_data)
    await at_agency(federation, gone["resident_code"], 2)
    assert await everything_after(federation, start) == []


async def test_the_cursor_survives_a_restart_of_the_agency(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=1703)
    async with federation.client(CHIYODA) as town:
        resident, start = await newcomer(federation, town, CHIYODA.code, people,
                                         personal_data)  # fmt: skip
        assert (
            await subscribe(federation, {"add": [resident["resident_code"]]})
        ).status_code == 200
        for _ in range(2):
            resident = await change(town, resident["id"], {
                "reason": "in_town_move", "address": people.address(CHIYODA.code)}, personal_data)  # fmt: skip
        await at_agency(federation, resident["resident_code"], 3)
        first = (await pull(federation, start, limit=1)).json()
        assert len(first["changes"]) == 1
        assert first["more"] is True

        for process in (federation.nodes[AGENCY], federation.lookup_servers[AGENCY]):
            process.stop()
        for process in (federation.nodes[AGENCY], federation.lookup_servers[AGENCY]):
            process.start()
            await process.wait_ready()
        resident = await change(town, resident["id"], {"reason": "death"}, personal_data)
    await at_agency(federation, resident["resident_code"], 4)
    rest = await everything_after(federation, first["cursor"])
    assert [c["change_reason"] for c in rest] == ["in_town_move", "death"]
    assert rest[0]["record"]["address"] == resident["address"]
    assert rest[0]["cursor"] not in {c["cursor"] for c in first["changes"]}


@pytest.mark.parametrize(
    ("who", "affair", "reason"),
    [
        ("mofa-passport", "passport-issuance", "query_kind_not_permitted"),
        ("kkr-pension", "pension-existence-check", "affair_not_permitted"),
        ("unlisted-feed-body", AFFAIR, "no_grant"),
    ],
)
async def test_a_body_without_the_permission_is_refused_with_a_reason(
    federation: LocalFederation, who: str, affair: str, reason: str
) -> None:
    body = Principal(PrincipalKind.MINISTRY, who)
    if who == "unlisted-feed-body":
        ca = CertificateAuthority.load(federation.layout.ca_dir)
        federation.layout.issue(ca, body, validity=dt.timedelta(days=1))
    for path, payload in (
        ("/subscriptions", {"affair": affair, "add": ["12345678903"]}),
        ("/subscriptions/changes", {"affair": affair}),
    ):
        async with federation.lookup_client(AGENCY, body) as c:
            r = await c.post(path, json=payload)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["reason"] == reason
    rows = await query(
        federation, AGENCY,
        "SELECT reason FROM provision_log WHERE client = :c AND query_kind = 'changes' "
        "ORDER BY seq DESC LIMIT 1", c=body.uri,
    )  # fmt: skip
    assert rows[0][0] == reason


async def test_a_private_body_may_never_watch_by_resident_code(
    federation: LocalFederation,
) -> None:
    """The permission table refuses a private-sector grant of the `changes` kind, and a
    private-sector client (with any other grant) is refused on the feed's routes."""
    table = {
        "version": "t", "tier": "agency",
        "clients": [{"id": "example-bank", "organisation": "例示銀行", "sector": "private"}],
        "grants": [{"client": "example-bank", "affair": "account-opening", "item": "x",
                    "title": "x", "legal_basis": "x", "query_kinds": ["changes"],
                    "fields": ["status"], "valid_from": "2026-04-01",
                    "valid_until": "2030-03-31", "daily_quota": 10}],
    }  # fmt: skip
    with pytest.raises(ValueError, match="private-sector"):
        PermissionTable.model_validate(table)
    bank = Principal(PrincipalKind.MINISTRY, "example-bank")
    federation.layout.issue(CertificateAuthority.load(federation.layout.ca_dir), bank,
                            validity=dt.timedelta(days=1))  # fmt: skip
    await execute(
        federation, AGENCY,
        "INSERT INTO lookup_clients (client, organisation, sector, table_version) "
        "VALUES ('example-bank', '株式会社例示銀行', 'private', 'test') ON CONFLICT DO NOTHING",
    )  # fmt: skip
    for who, reason in ((bank, "not_government"), (OPS, "not_a_lookup_client")):
        async with federation.lookup_client(AGENCY, who) as c:
            r = await c.post("/subscriptions", json={"affair": AFFAIR, "add": ["12345678903"]})
        assert r.status_code == 403, r.text
        assert r.json()["reason"] == reason


async def test_two_bodies_watching_one_resident_each_get_their_own_fields(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=1706)
    async with federation.client(HIRATSUKA) as town:
        resident = await register(town, people.registration(HIRATSUKA.code), personal_data)
        await at_agency(federation, resident["resident_code"], 1)
        starts = {KKR: await head(federation, KKR), JPA: await head(federation, JPA)}
        code = resident["resident_code"]
        assert (await subscribe(federation, {"add": [code]})).status_code == 200
        jpa = await subscribe(federation, {"affair": JPA_AFFAIR, "add": [code]}, who=JPA)
        assert jpa.status_code == 200, jpa.text
        resident = await change(town, resident["id"], {"reason": "death"}, personal_data)
    await at_agency(federation, code, 2)
    kkr_feed = await everything_after(federation, starts[KKR])
    jpa_page = await pull(federation, starts[JPA], who=JPA, affair=JPA_AFFAIR)
    assert jpa_page.status_code == 200, jpa_page.text
    jpa_feed = jpa_page.json()["changes"]
    assert [c["resident_code"] for c in kkr_feed] == [code]
    assert [c["resident_code"] for c in jpa_feed] == [code]
    assert "name" in kkr_feed[0]["record"]
    assert set(jpa_feed[0]["record"]) == {"status", "address"}  # the pension check's grant
    assert jpa_feed[0]["change_reason"] == "death"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/subscriptions", {"add": ["12345678900"]}, "add"),  # a wrong check digit
        ("/subscriptions", {"add": ["12345678903"], "remove": ["12345678903"]}, None),
        ("/subscriptions", {"add": ["12345678903"] * 100_001}, "add"),
        ("/subscriptions/changes", {"cursor": "-1"}, "cursor"),
        ("/subscriptions/changes", {"limit": 0}, "limit"),
    ],
    ids=["check-digit", "add-and-remove", "too-many", "bad-cursor", "zero-limit"],
)
async def test_malformed_requests_say_what_is_wrong_and_change_nothing(
    federation: LocalFederation, path: str, body: dict[str, Any], field: str | None
) -> None:
    before = await query(federation, AGENCY, "SELECT count(*) FROM change_subscriptions")
    async with federation.lookup_client(AGENCY, KKR) as c:
        r = await c.post(path, json={"affair": AFFAIR, **body})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert field in json.dumps(r.json())
    assert "12345678900" not in r.text  # the value sent is never echoed
    assert await query(federation, AGENCY, "SELECT count(*) FROM change_subscriptions") == before


async def test_a_page_holds_what_the_quota_leaves_and_none_beyond_it(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=1704)
    async with federation.client(HIRATSUKA) as town:
        resident, start = await newcomer(federation, town, HIRATSUKA.code, people,
                                         personal_data)  # fmt: skip
        code = resident["resident_code"]
        assert (await subscribe(federation, {"add": [code]})).status_code == 200
        for reason in ("in_town_move", "death"):
            step: dict[str, Any] = {"reason": reason}
            if reason == "in_town_move":
                step["address"] = people.address(HIRATSUKA.code)
            resident = await change(town, resident["id"], step, personal_data)
    await at_agency(federation, code, 3)
    grant = "client = 'kkr-pension' AND affair = 'public-servant-pensions'"
    used = await query(federation, AGENCY, f"SELECT coalesce(sum(count), 0) FROM lookup_usage "
                       f"WHERE {grant} AND day = (SELECT max(day) FROM lookup_usage)")  # fmt: skip
    quota = f"UPDATE lookup_grants SET daily_quota = :q WHERE {grant}"
    await execute(federation, AGENCY, quota, q=int(used[0][0]) + 1)  # room for one change
    try:
        capped = await pull(federation, start)
        assert capped.status_code == 200, capped.text
        assert [c["change_reason"] for c in capped.json()["changes"]] == ["in_town_move"]
        assert capped.json()["more"] is True
        refused = await pull(federation, capped.json()["cursor"])
        assert refused.status_code == 429, refused.text
        assert refused.json()["reason"] == "quota_exhausted"
    finally:
        await execute(federation, AGENCY, quota, q=2_000_000)
    again = await everything_after(federation, capped.json()["cursor"])
    assert [c["change_reason"] for c in again] == ["death"]  # asked again: nothing lost


async def test_the_python_client_watches_and_follows_the_feed(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """What an integrator writes: `LookupClient.watch`, then `changes` page by page."""
    people = SyntheticResidents(seed=1705)
    async with federation.client(HIRATSUKA) as town:
        resident, start = await newcomer(federation, town, HIRATSUKA.code, people,
                                         personal_data)  # fmt: skip
        me = federation.layout.node_dir(KKR)
        options = {"cert": me / "tls.crt", "key": me / "tls.key", "ca": federation.layout.ca_cert}
        url = f"https://localhost:{federation.lookup_servers[AGENCY].port}"
        code = resident["resident_code"]

        def watch() -> tuple[int, int]:
            with LookupClient(url, **options) as lookups:
                return lookups.watch(AFFAIR, add=[code])

        assert await asyncio.to_thread(watch) == (1, 0)
        resident = await change(town, resident["id"], {"reason": "death"}, personal_data)
    await at_agency(federation, code, 2)

    def follow() -> tuple[list[Change], LookupRefused]:
        with LookupClient(url, **options) as lookups:
            page = lookups.changes(AFFAIR, cursor=start, limit=10)
            with pytest.raises(LookupRefused) as refused:
                lookups.changes("pension-existence-check")
            return page.changes, refused.value

    changes, refused = await asyncio.to_thread(follow)
    assert [(c.resident_code, c.change_reason) for c in changes] == [(code, "death")]
    assert changes[0].record["status"] == "deleted"
    assert refused.reason == "affair_not_permitted"


async def test_the_command_line_watches_and_pulls(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    """`jukinet lookup watch` and `jukinet lookup changes`, as an integrator tries them."""
    people = SyntheticResidents(seed=1707)
    async with federation.client(HIRATSUKA) as town:
        resident, start = await newcomer(federation, town, HIRATSUKA.code, people,
                                         personal_data)  # fmt: skip
        codes = tmp_path / "codes.txt"
        codes.write_text(resident["resident_code"] + "\n")
        server = f"https://localhost:{federation.lookup_servers[AGENCY].port}"
        common = ["--affair", AFFAIR, "--as", str(federation.layout.node_dir(KKR)),
                  "--ca", str(federation.layout.ca_cert), "--server", server]  # fmt: skip

        def run(*args: str) -> Any:
            return CliRunner().invoke(app, ["lookup", *args, *common])

        watched = await asyncio.to_thread(run, "watch", "--add", str(codes))
        assert watched.exit_code == 0, watched.output
        assert json.loads(watched.stdout)["added"] == 1
        await change(town, resident["id"], {"reason": "death"}, personal_data)
    await at_agency(federation, resident["resident_code"], 2)
    pulled = await asyncio.to_thread(run, "changes", *(["--cursor", start] if start else []))
    assert pulled.exit_code == 0, pulled.output
    page = json.loads(pulled.stdout)
    assert [c["change_reason"] for c in page["changes"]] == ["death"]
    refused = await asyncio.to_thread(run, "changes", "--cursor", "x")
    assert refused.exit_code == 2
    assert "cursor" in refused.stderr
    assert "Traceback" not in refused.output
