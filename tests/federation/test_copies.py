"""Nationwide copies (住民票の写しの広域交付), end to end: a clerk at Hiratsuka (Kanagawa)
issues a certified copy of people registered at Chiyoda (Tokyo) — over the real broker,
between running services, on SQLite and PostgreSQL.

The federation is shared with other modules: this module's operators have their own
names, and its ledger checks look at its own clerk's rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from typer.testing import CliRunner, Result

from jukinet.bus import connect
from jukinet.cli import app
from jukinet.contracts.era import to_era
from jukinet.contracts.principals import Principal
from jukinet.devtools.localfed import LocalFederation
from jukinet.envelope import Opener, RecipientDirectory, Sealer
from jukinet.operators import IcCard, card_login, card_principal
from jukinet.pki import Credentials, RevocationList, TrustStore, read_certificate
from municipal.copies.document import CERTIFICATION, OWN_TITLE, TITLE
from municipal.copies.exchange import read_answer, seal_request, send
from municipal.copies.protocol import CopyAnswer, CopyRequest
from tests.federation.isolation import certify_silent_town
from tests.federation.support import PersonalData, database_url_of, eventually, execute, query
from tests.pdftext import text_of
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA, YOKOHAMA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

# Hiratsuka (平塚市, 神奈川県) issues the copies; Chiyoda (千代田区, 東京都) is where the people
# live. Nagoya is in the network (certified) and no node answers for it; no other module
# names it.
SILENT = Principal.municipality("231002")
CLERK_SLUG, ADMIN_SLUG = "copies-clerk", "copies-admin"  # other modules have a tanaka
PASSWORD = "correct horse battery"
TODAY = dt.datetime.now(dt.UTC).date()
JST_TODAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date()
PURPOSE = "本人確認済み 転入手続き"
DOMICILE = "北海道札幌市中央区北一条西二丁目1番地"  # 本籍: never on a nationwide copy
FAMILY_HEAD = "川辺 源三郎"  # 筆頭者: never on a nationwide copy
ADDRESS = "東京都千代田区千代田一丁目1番1号"
FROM_ABROAD = "アメリカ合衆国ハワイ州ホノルル市"
CLERK = card_principal(HIRATSUKA, CLERK_SLUG).uri


def _person(name: str, kana: str, birth: str, sex: str, **more: Any) -> dict[str, Any]:
    return {
        "name": name, "name_kana": kana, "birth_date": birth, "sex": sex, "address": ADDRESS,
        "registered_domicile": DOMICILE, "family_register_head": FAMILY_HEAD, **more,
    }  # fmt: skip


def _moved_in(on: str, notified: str) -> dict[str, Any]:
    return {"reason": "move_in", "change_date": on, "notified_on": notified,
            "previous_address": FROM_ABROAD}  # fmt: skip


HEAD = _person("川辺 一郎", "カワベ イチロウ", "1980-04-01", "male",
               **_moved_in("2019-05-01", "2019-05-07"))  # fmt: skip
SPOUSE = _person("川辺 静香", "カワベ シズカ", "1989-01-08", "female",
                 relation="妻", **_moved_in("2019-05-01", "2019-05-07"))  # fmt: skip
CHILD = _person("川辺 湊", "カワベ ミナト", "2020-02-29", "male", relation="子",
                reason="birth", change_date="2020-02-29", notified_on="2020-03-05")  # fmt: skip
MOTHER = _person("川辺 梅子", "カワベ ウメコ", "1950-10-10", "female", relation="母",
                 **_moved_in("2019-05-01", "2019-05-07"))  # fmt: skip
LEAVER = _person("山野 健", "ヤマノ ケン", "1975-06-15", "male",
                 **_moved_in("2018-01-10", "2018-01-12"))  # fmt: skip


def _ask(person: dict[str, Any], **options: Any) -> dict[str, Any]:
    """A counter request for ``person`` as their ID states them (name and birth date)."""
    return {
        "home_municipality": CHIYODA.code,
        "purpose": PURPOSE,
        "id_checked": True,
        "person": {"name": person["name"], "birth_date": person["birth_date"]},
        **options,
    }


async def cli(*args: str) -> Result:
    env = {"JUKINET_OPERATOR_PASSWORD": PASSWORD}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def _register(
    client: httpx.AsyncClient, body: dict[str, Any], pd: PersonalData
) -> dict[str, Any]:
    pd.add_body(body)
    pd.add(body["name"].replace(" ", "　"), body.get("registered_domicile"), FAMILY_HEAD)
    r = await client.post("/residents", json=body)
    assert r.status_code == 201, r.text
    pd.add(r.json()["resident_code"])
    return dict(r.json())


async def _delete(client: httpx.AsyncClient, resident: dict[str, Any], reason: str) -> None:
    change = {"reason": reason, "change_date": TODAY.isoformat(), "notified_on": TODAY.isoformat()}
    if reason == "move_out":
        change["next_address"] = "大阪府大阪市北区梅田一丁目1番1号"
    r = await client.post(f"/residents/{resident['id']}/changes", json=change)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "deleted"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def register(
    federation: LocalFederation, personal_data: PersonalData
) -> dict[str, dict[str, Any]]:
    """Chiyoda's register: a household of four (the mother has died since) and a man who
    moved out. Everyone has 本籍 and 筆頭者 recorded. Hiratsuka gets a clerk and an
    administrator, created with `jukinet operators create` (a new IC card each)."""
    root = str(federation.layout.root)
    db = database_url_of(federation, HIRATSUKA)
    for slug, role in ((CLERK_SLUG, "clerk"), (ADMIN_SLUG, "administrator")):
        result = await cli("operators", "create", slug, "--role", role, "--node",
                           HIRATSUKA.uri, "--db", db, "--pki-root", root)  # fmt: skip
        assert result.exit_code == 0, result.output
    async with federation.client(CHIYODA) as chiyoda:
        head = await _register(chiyoda, HEAD, personal_data)
        household = {"household_id": head["household_id"]}
        spouse = await _register(chiyoda, SPOUSE | household, personal_data)
        child = await _register(chiyoda, CHILD | household, personal_data)
        mother = await _register(chiyoda, MOTHER | household, personal_data)
        leaver = await _register(chiyoda, LEAVER, personal_data)
        await _delete(chiyoda, mother, "death")
        await _delete(chiyoda, leaver, "move_out")
    return {"head": head, "spouse": spouse, "child": child, "mother": mother, "leaver": leaver}


@pytest_asyncio.fixture(loop_scope="session")
async def clerk(
    federation: LocalFederation, register: dict[str, dict[str, Any]]
) -> AsyncIterator[httpx.AsyncClient]:
    """Hiratsuka's clerk, logged in with password and IC card."""
    async with await _logged_in(federation, CLERK_SLUG) as client:
        yield client


async def _logged_in(
    fed: LocalFederation, slug: str, town: Principal = HIRATSUKA
) -> httpx.AsyncClient:
    card = IcCard(fed.layout.node_dir(card_principal(town, slug)))
    async with httpx.AsyncClient(base_url=fed.nodes[town].url, timeout=30.0) as client:
        r = await card_login(client, town, slug, PASSWORD, card)
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    return httpx.AsyncClient(base_url=fed.nodes[town].url, headers=headers, timeout=30.0)


async def _copy(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await client.post("/copies", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    return text_of(r.content)


def _never_the_family_register(text: str) -> None:
    for absent in (DOMICILE, FAMILY_HEAD, "本籍", "筆頭者"):
        assert absent not in text


# -- the copy -----------------------------------------------------------------------------


async def test_a_clerk_issues_a_certified_copy_of_a_resident_registered_elsewhere(
    clerk: httpx.AsyncClient, register: dict[str, dict[str, Any]]
) -> None:
    body = _ask(HEAD)
    body["person"]["name"] = "川辺　一郎"  # as printed on the ID, with an ideographic space
    text = await _copy(clerk, body)

    for expected in (
        TITLE, "川辺 一郎", "カワベ イチロウ", ADDRESS, FROM_ABROAD, "千代田区（131016）",
        "昭和55年4月1日",  # birth
        "令和元年5月1日",  # became a resident, and the move-in
        "令和元年5月1日　転入",
        CERTIFICATION, to_era(JST_TODAY), "交付市区町村　平塚市（142034）", "平塚市長　見本　太郎",
    ):  # fmt: skip
        assert expected in text, expected
    assert "世帯主\n川辺 一郎" in text  # the head's name is on every copy
    assert "（2）" not in text  # the person alone
    _never_the_family_register(text)
    assert "住民票コード" not in text  # not specially requested
    assert register["head"]["resident_code"] not in text
    assert "続柄" not in text
    for year in ("1980", "2019"):  # every date in era form
        assert year not in text


async def test_the_name_is_found_however_the_id_spaces_it(
    clerk: httpx.AsyncClient, register: dict[str, dict[str, Any]]
) -> None:
    body = _ask(HEAD)
    body["person"]["name"] = "川辺一郎"  # no space between family and given name
    assert "川辺 一郎" in await _copy(clerk, body)


async def test_resident_code_and_relation_appear_only_when_specially_requested(
    clerk: httpx.AsyncClient, register: dict[str, dict[str, Any]]
) -> None:
    code = register["spouse"]["resident_code"]
    both = await _copy(clerk, _ask(SPOUSE, include_resident_code=True, include_relation=True))
    assert f"住民票コード\n{code}" in both
    assert "続柄\n妻" in both
    assert "平成元年1月8日" in both

    code_only = await _copy(clerk, _ask(SPOUSE, include_resident_code=True))
    assert code in code_only
    assert "続柄" not in code_only

    relation_only = await _copy(clerk, _ask(SPOUSE, include_relation=True))
    assert "続柄\n妻" in relation_only
    assert code not in relation_only
    assert "住民票コード" not in relation_only


async def test_a_household_copy_lists_every_live_member_head_first(
    clerk: httpx.AsyncClient, register: dict[str, dict[str, Any]]
) -> None:
    text = await _copy(clerk, _ask(CHILD, whole_household=True, include_relation=True))
    names = [line for line in text.splitlines() if line.startswith("川辺 ")]
    # each entry prints its name, then its head; the mother (died) is not on the copy
    assert [n for n in names if n != "川辺 一郎"] == ["川辺 静香", "川辺 湊"]
    assert text.index("（1）") < text.index("川辺 一郎") < text.index("（2）")
    assert "（3）" in text
    assert "（4）" not in text
    assert "川辺 梅子" not in text
    assert "続柄\n子" in text
    assert "令和2年2月29日" in text  # the child's birth
    _never_the_family_register(text)


async def test_a_resident_code_identifies_the_person_too(
    clerk: httpx.AsyncClient, register: dict[str, dict[str, Any]]
) -> None:
    body = _ask(HEAD)
    body["person"] = {"resident_code": register["head"]["resident_code"]}
    assert "川辺 一郎" in await _copy(clerk, body)


# -- refusals -----------------------------------------------------------------------------

REFUSALS = [
    pytest.param(LEAVER, None, 409, "moved_out", id="moved-out"),
    pytest.param(MOTHER, None, 409, "deceased", id="died"),
    pytest.param({**HEAD, "name": "川辺 二郎"}, None, 404, "not_found", id="unknown"),
    pytest.param(HEAD, "東京都千代田区永田町九丁目9番9号", 404, "not_found", id="other-address"),
]


@pytest.mark.parametrize(("person", "address", "status", "reason"), REFUSALS)
async def test_no_copy_for_who_moved_out_died_or_is_unknown(
    clerk: httpx.AsyncClient,
    register: dict[str, dict[str, Any]],
    person: dict[str, Any],
    address: str | None,
    status: int,
    reason: str,
) -> None:
    body = _ask(person)
    if address is not None:
        body["person"]["address"] = address
    r = await clerk.post("/copies", json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == reason
    assert person["name"] not in r.text


INVALID = [
    pytest.param({"id_checked": False}, "id_checked", id="id-not-checked"),
    pytest.param({"purpose": ""}, "purpose", id="no-purpose"),
    pytest.param({"purpose": "x" * 201}, "purpose", id="purpose-too-long"),
    pytest.param({"person": {"name": "川辺 一郎"}}, "person", id="name-without-birth-date"),
    pytest.param({"home_municipality": "131017"}, "home_municipality", id="bad-code"),
    pytest.param({"home_municipality": "130001"}, "home_municipality", id="a-prefecture"),
]


@pytest.mark.parametrize(("change", "field"), INVALID)
async def test_an_invalid_request_is_refused_before_anything_is_sent(
    clerk: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    r = await clerk.post("/copies", json=_ask(HEAD) | change)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in {e["loc"][1] for e in r.json()["errors"]}


async def test_own_residents_are_not_asked_for_over_the_network(
    clerk: httpx.AsyncClient,
) -> None:
    r = await clerk.post("/copies", json=_ask(HEAD) | {"home_municipality": HIRATSUKA.code})
    assert r.status_code == 422
    assert r.json()["reason"] == "own_municipality"


@pytest.mark.parametrize(
    ("home", "status", "reason"),
    [
        pytest.param(SILENT.code, 503, "unreachable", id="not-answering"),
        pytest.param("011002", 422, "unknown_municipality", id="not-in-the-network"),
    ],
)
async def test_a_home_municipality_that_cannot_answer_is_reported_and_recorded(
    federation: LocalFederation, clerk: httpx.AsyncClient, home: str, status: int, reason: str
) -> None:
    certify_silent_town(federation, SILENT)
    r = await clerk.post("/copies", json=_ask(HEAD) | {"home_municipality": home})
    assert r.status_code == status, r.text
    assert r.json()["reason"] == reason
    sql = "SELECT home_municipality, outcome, reason, clerk FROM issued_copies ORDER BY id DESC"
    assert (await _rows(federation, HIRATSUKA, sql, clerk=CLERK))[0] == {
        "home_municipality": home, "outcome": "failed", "reason": reason, "clerk": CLERK
    }  # fmt: skip


async def test_only_counter_roles_issue_copies(
    federation: LocalFederation, register: dict[str, dict[str, Any]]
) -> None:
    async with await _logged_in(federation, ADMIN_SLUG) as admin:
        assert (await admin.post("/copies", json=_ask(HEAD))).status_code == 403
    async with httpx.AsyncClient(base_url=federation.nodes[HIRATSUKA].url) as anonymous:
        assert (await anonymous.post("/copies", json=_ask(HEAD))).status_code == 401
    async with federation.client(HIRATSUKA) as system:  # the node's machine token
        assert (await system.post("/copies", json=_ask(HEAD))).status_code == 403


# -- both ends record the exchange --------------------------------------------------------


async def _rows(
    fed: LocalFederation, node: Principal, sql: str, *, clerk: str | None = None
) -> list[dict[str, Any]]:
    """The rows, or only those of ``clerk`` (other modules' clerks issue copies too)."""
    rows = [dict(r._mapping) for r in await query(fed, node, sql)]
    return [r for r in rows if clerk is None or r["clerk"] == clerk]


async def test_both_ends_record_the_exchange(
    federation: LocalFederation, clerk: httpx.AsyncClient, register: dict[str, dict[str, Any]]
) -> None:
    await _copy(clerk, _ask(HEAD, whole_household=True))
    assert (await clerk.post("/copies", json=_ask(LEAVER))).status_code == 409

    issued = await _rows(
        federation, HIRATSUKA, "SELECT * FROM issued_copies ORDER BY id", clerk=CLERK
    )
    provided = await _rows(
        federation, CHIYODA, "SELECT * FROM copy_provisions ORDER BY requested_at", clerk=CLERK
    )
    here, there = issued[-2:], provided[-2:]
    assert [(r["outcome"], r["reason"], r["people"]) for r in here] == [
        ("issued", None, 3), ("refused", "moved_out", 0)
    ]  # fmt: skip
    assert [(r["outcome"], r["reason"]) for r in there] == [
        ("provided", None), ("refused", "moved_out")
    ]  # fmt: skip
    for mine, theirs in zip(here, there, strict=True):
        assert mine["home_municipality"] == CHIYODA.code
        assert theirs["requester"] == HIRATSUKA.code
        assert mine["clerk"] == theirs["clerk"] == CLERK
        assert mine["purpose"] == theirs["purpose"] == PURPOSE
        assert mine["request_message_id"] == theirs["request_message_id"]
    assert here[0]["provision_id"] == there[0]["id"]
    people = {register[k]["id"] for k in ("head", "spouse", "child")}
    assert set(json.loads(there[0]["resident_ids"])) == people
    assert json.loads(there[1]["resident_ids"]) == []

    ops_here = await _operations(federation, HIRATSUKA, "copies.issue")
    assert [(o["actor"], o["outcome"]) for o in ops_here[-2:]] == [
        (CLERK, "ok"), (CLERK, "failed:409")
    ]  # fmt: skip
    assert ops_here[-2]["target"] == here[0]["copy_id"]
    ops_there = await _operations(federation, CHIYODA, "copies.provide")
    assert [(o["actor"], o["role"], o["target"], o["outcome"]) for o in ops_there[-2:]] == [
        (CLERK, "clerk", there[0]["id"], "ok"),
        (CLERK, "clerk", there[1]["id"], "refused:moved_out"),
    ]


async def _operations(fed: LocalFederation, node: Principal, action: str) -> list[dict[str, Any]]:
    sql = "SELECT actor, role, action, target, outcome FROM operation_log ORDER BY seq"
    return [o for o in await _rows(fed, node, sql) if o["action"] == action]


async def test_the_ledgers_hold_no_personal_data(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    tables = {
        HIRATSUKA: ["issued_copies", "operation_log"],
        CHIYODA: ["copy_provisions", "operation_log"],
    }
    for node, names in tables.items():
        for table in names:
            dump = json.dumps(await _rows(federation, node, f"SELECT * FROM {table}"),
                              default=str, ensure_ascii=False)  # fmt: skip
            assert [v for v in personal_data.values if v in dump] == [], (node, table)


# -- what travels, and requests that are not what they claim ------------------------------


def _credentials(fed: LocalFederation, principal: Principal) -> Credentials:
    return Credentials.load(fed.layout.node_dir(principal), fed.layout.ca_cert, principal)


def _trust(fed: LocalFederation) -> TrustStore:
    layout = fed.layout
    return TrustStore(read_certificate(layout.ca_cert), RevocationList(layout.revocations))


def _sealer(fed: LocalFederation, principal: Principal) -> Sealer:
    directory = RecipientDirectory.from_layout(fed.layout, _trust(fed))
    return Sealer(_credentials(fed, principal), directory)


class Wire:
    """Hiratsuka's own broker identity, used by hand: seal as anyone, send, read."""

    def __init__(self, fed: LocalFederation, nc: Any) -> None:
        self.fed, self.nc = fed, nc
        self.opener = Opener(_credentials(fed, HIRATSUKA), _trust(fed))

    def request(self, **changes: Any) -> CopyRequest:
        body = _ask(HEAD, include_resident_code=True, include_relation=True)
        body.pop("home_municipality")
        return CopyRequest.model_validate(body | {"clerk": CLERK, "clerk_role": "clerk"} | changes)

    async def exchange(self, token: str, sent_id: str) -> CopyAnswer:
        data = await send(self.nc, HIRATSUKA, CHIYODA, token, wait=10.0)
        return read_answer(self.opener, data, home=CHIYODA, sent_id=sent_id)

    async def raw(self, token: str) -> dict[str, Any]:
        data = await send(self.nc, HIRATSUKA, CHIYODA, token, wait=10.0)
        payload: dict[str, Any] = self.opener.open(data).payload
        return payload


@pytest_asyncio.fixture(loop_scope="session")
async def wire(
    federation: LocalFederation, register: dict[str, dict[str, Any]]
) -> AsyncIterator[Wire]:
    tls = federation.tls(HIRATSUKA)
    nc = await connect(HIRATSUKA, federation.nats_urls, tls, name="test", reconnect=False)
    try:
        yield Wire(federation, nc)
    finally:
        await nc.close()


async def test_what_travels_has_no_family_register_and_only_what_was_asked(
    wire: Wire, register: dict[str, dict[str, Any]]
) -> None:
    sealed = seal_request(_sealer(wire.fed, HIRATSUKA), CHIYODA, wire.request())
    payload = await wire.raw(sealed.token)
    text = json.dumps(payload, ensure_ascii=False)
    assert payload["outcome"] == "provided"
    for absent in (DOMICILE, FAMILY_HEAD, "domicile", "family_register"):
        assert absent not in text
    (entry,) = payload["entries"]
    assert (entry["resident_code"], entry["relation"]) == (
        register["head"]["resident_code"], "世帯主"
    )  # fmt: skip

    plain = seal_request(_sealer(wire.fed, HIRATSUKA), CHIYODA, wire.request(
        include_resident_code=False, include_relation=False))  # fmt: skip
    (entry,) = (await wire.raw(plain.token))["entries"]
    assert "resident_code" not in entry
    assert "relation" not in entry


async def test_a_replayed_request_is_refused(wire: Wire) -> None:
    sealed = seal_request(_sealer(wire.fed, HIRATSUKA), CHIYODA, wire.request())
    first = await wire.exchange(sealed.token, sealed.message_id)
    again = await wire.exchange(sealed.token, sealed.message_id)
    assert first.outcome == "provided"
    assert (again.outcome, again.reason, again.detail) == ("refused", "invalid_request", "replayed")
    assert again.entries == []


FORGED = [
    pytest.param(KANAGAWA, {}, "not_a_municipality", id="signed-by-a-prefecture"),
    pytest.param(YOKOHAMA, {}, "sender_mismatch", id="signed-by-another-town"),
    pytest.param(
        HIRATSUKA,
        {"clerk": card_principal(YOKOHAMA, "tanaka").uri},
        "foreign_clerk",
        id="clerk-of-another-town",
    ),
]


@pytest.mark.parametrize(("signer", "changes", "detail"), FORGED)
async def test_a_forged_request_is_refused_and_logged(
    federation: LocalFederation,
    wire: Wire,
    signer: Principal,
    changes: dict[str, Any],
    detail: str,
) -> None:
    sealed = seal_request(_sealer(federation, signer), CHIYODA, wire.request(**changes))
    answer = await wire.exchange(sealed.token, sealed.message_id)
    assert (answer.outcome, answer.reason, answer.detail) == ("refused", "invalid_request", detail)
    last = (await _operations(federation, CHIYODA, "copies.provide"))[-1]
    assert (last["actor"], last["role"]) == (HIRATSUKA.uri, "anonymous")
    assert (last["target"], last["outcome"]) == (sealed.message_id, f"refused:{detail}")


async def test_a_request_sealed_to_another_town_is_refused(wire: Wire) -> None:
    sealed = seal_request(_sealer(wire.fed, HIRATSUKA), YOKOHAMA, wire.request())
    answer = await wire.exchange(sealed.token, sealed.message_id)
    assert (answer.reason, answer.detail, answer.in_reply_to) == (
        "invalid_request", "decryption_failed", None
    )  # fmt: skip


# -- copies from the own register (本庁交付) ---------------------------------------------------

OWN_SLUG = "copies-own-clerk"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def chiyoda_clerk(
    federation: LocalFederation, register: dict[str, dict[str, Any]]
) -> AsyncIterator[httpx.AsyncClient]:
    """A clerk of Chiyoda itself, logged in with password and IC card."""
    result = await cli("operators", "create", OWN_SLUG, "--role", "clerk", "--node", CHIYODA.uri,
                       "--db", database_url_of(federation, CHIYODA),
                       "--pki-root", str(federation.layout.root))  # fmt: skip
    assert result.exit_code == 0, result.output
    async with await _logged_in(federation, OWN_SLUG, CHIYODA) as client:
        yield client


async def _own(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/copies/own", json={"purpose": PURPOSE, "id_checked": True} | body)


async def _own_text(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await _own(client, body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    return text_of(r.content)


def _values(text: str, label: str) -> list[str]:
    lines = text.splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if line == label]


async def test_a_town_issues_its_own_residents_household_head_first_optional_items_on_request(
    chiyoda_clerk: httpx.AsyncClient, register: dict[str, dict[str, Any]]
) -> None:
    spouse = register["spouse"]["id"]
    text = await _own_text(chiyoda_clerk, {"resident_id": spouse, "whole_household": True})
    asked = await _own_text(chiyoda_clerk, {
        "resident_id": spouse, "whole_household": True, "include_registered_domicile": True,
        "include_previous_address": True, "include_relation": True,
        "include_resident_code": True,
    })  # fmt: skip
    assert text.splitlines()[0] == OWN_TITLE
    assert "東京都千代田区（131016）" in text  # the home town with its prefecture
    assert _values(text, "氏名") == ["川辺 一郎", "川辺 静香", "川辺 湊"]  # head first
    assert _values(text, "世帯主") == ["川辺 一郎"] * 3  # always the head's line
    for absent in ("本籍", "筆頭者", DOMICILE, FAMILY_HEAD, FROM_ABROAD, "続柄", "住民票コード"):
        assert absent not in text, absent  # left off unless specially requested
    for present in (DOMICILE, FAMILY_HEAD, FROM_ABROAD, "妻", register["child"]["resident_code"]):
        assert present in asked, present
    assert "公印" in text


async def test_chosen_members_only_and_only_of_the_same_household(
    chiyoda_clerk: httpx.AsyncClient, register: dict[str, dict[str, Any]]
) -> None:
    spouse = register["spouse"]["id"]
    text = await _own_text(chiyoda_clerk, {"resident_id": spouse,
                                           "members": [register["child"]["id"]]})  # fmt: skip
    outsider = await _own(chiyoda_clerk, {"resident_id": spouse,
                                          "members": [register["leaver"]["id"]]})  # fmt: skip
    deceased = await _own(chiyoda_clerk, {"resident_id": register["mother"]["id"]})
    stranger = await _own(chiyoda_clerk, {"resident_id": "0" * 32})
    assert _values(text, "氏名") == ["川辺 静香", "川辺 湊"]
    assert (outsider.status_code, outsider.json()["reason"]) == (422, "not_member")
    assert (deceased.status_code, deceased.json()["reason"]) == (409, "not_live")
    assert (stranger.status_code, stranger.json()["reason"]) == (404, "not_found")
    for r in (outsider, deceased, stranger):
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_no_copy_while_the_household_has_no_head(
    federation: LocalFederation,
    chiyoda_clerk: httpx.AsyncClient,
    personal_data: PersonalData,
) -> None:
    moved_in = _moved_in("2018-02-01", "2018-02-02")
    head = _person("森 一郎", "モリ イチロウ", "1970-07-07", "male", **moved_in)
    son = _person("森 健太", "モリ ケンタ", "2001-03-03", "male", relation="子", **moved_in)
    async with federation.client(CHIYODA) as chiyoda:
        first = await _register(chiyoda, head, personal_data)
        household = {"household_id": first["household_id"]}
        second = await _register(chiyoda, son | household, personal_data)
        out = {
            "reason": "move_out",
            "change_date": TODAY.isoformat(),
            "notified_on": TODAY.isoformat(),
            "next_address": "大阪府大阪市北区梅田一丁目1番1号",
        }
        refused = await chiyoda.post(f"/residents/{first['id']}/changes", json=out)
        assert refused.json()["reason"] == "head_leaves"  # the API keeps households whole
    # a register kept before that rule: the head left, the household still names them
    await execute(
        federation, CHIYODA, "UPDATE residents SET status = 'deleted', change_reason = 'move_out' "
        "WHERE id = :r", r=first["id"],
    )  # fmt: skip
    r = await _own(chiyoda_clerk, {"resident_id": second["id"]})
    assert (r.status_code, r.json()["reason"]) == (409, "no_household_head")


async def test_both_ledgers_record_each_own_copy(
    federation: LocalFederation,
    chiyoda_clerk: httpx.AsyncClient,
    register: dict[str, dict[str, Any]],
) -> None:
    head = register["head"]["id"]
    r = await _own(chiyoda_clerk, {"resident_id": head, "include_registered_domicile": True})
    assert r.status_code == 200, r.text
    issued = await query(
        federation, CHIYODA,
        "SELECT copy_id, outcome, people, include_registered_domicile, home_municipality, "
        "clerk FROM issued_copies ORDER BY id DESC LIMIT 1",
    )  # fmt: skip
    copy_id, outcome, people, domicile, home, clerk = issued[0]
    assert (outcome, people, bool(domicile), home) == ("issued", 1, True, CHIYODA.code)
    assert clerk == card_principal(CHIYODA, OWN_SLUG).uri
    provided = await query(
        federation, CHIYODA,
        "SELECT requester, resident_ids, include_registered_domicile FROM copy_provisions "
        "WHERE id = :c", c=copy_id,
    )  # fmt: skip
    requester, residents, domicile = provided[0]
    assert (requester, json.loads(residents), bool(domicile)) == (CHIYODA.code, [head], True)


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []


async def test_the_individual_number_is_printed_only_when_specially_asked(
    chiyoda_clerk: httpx.AsyncClient, register: dict[str, dict[str, Any]],
    federation: LocalFederation, personal_data: PersonalData,
) -> None:  # fmt: skip
    """個人番号 is on an own-register copy only at the applicant's special request
    (住民基本台帳法第12条第5項), as the agency generated it; recorded in the ledger."""
    child = register["child"]["id"]
    seen: dict[str, Any] = {}

    async def numbered() -> bool:
        seen.update((await chiyoda_clerk.get(f"/residents/{child}")).json())
        return seen.get("individual_number") is not None

    await eventually(numbered)
    number = str(seen["individual_number"])
    personal_data.add(number)
    plain = await _own_text(chiyoda_clerk, {"resident_id": child})
    asked = await _own_text(
        chiyoda_clerk, {"resident_id": child, "include_individual_number": True}
    )
    assert "個人番号" not in plain
    assert number not in plain
    assert _values(asked, "個人番号") == [number]
    rows = await query(federation, CHIYODA, "SELECT include_individual_number FROM issued_copies "
                       "ORDER BY id DESC LIMIT 1")  # fmt: skip
    assert bool(rows[0][0]) is True


async def test_copies_show_the_former_surname_and_a_foreign_residents_alias_and_nationality(
    federation: LocalFederation,
    personal_data: PersonalData,
    clerk: httpx.AsyncClient,
    chiyoda_clerk: httpx.AsyncClient,
) -> None:
    """旧氏 beside the name on every copy it is recorded for; a foreign resident's 通称 and
    国籍・地域 (as the register writes it) on the nationwide copy, carried over the network."""
    foreigner = {"name": "TRAN THI MAI", "birth_date": "1994-07-08", "sex": "female",
                 "address": ADDRESS, "nationality": "VN", "alias": "陳 舞",
                 "alias_kana": "チン マイ", **_moved_in("2024-01-10", "2024-01-12")}  # fmt: skip
    national = _person("川辺 律子", "カワベ リツコ", "1985-09-09", "female",
                       former_surname="森", former_surname_kana="モリ",
                       **_moved_in("2024-01-10", "2024-01-12"))  # fmt: skip
    personal_data.add("陳 舞", "チン マイ", "森", "モリ")
    async with federation.client(CHIYODA) as chiyoda:
        await _register(chiyoda, foreigner, personal_data)
        own = await _register(chiyoda, national, personal_data)
    text = await _copy(clerk, _ask(foreigner))
    for label, value in (("氏名", "TRAN THI MAI"), ("通称", "陳 舞"), ("国籍・地域", "ベトナム")):
        assert _values(text, label) == [value], label
    assert "旧氏" not in text
    own_text = await _own_text(chiyoda_clerk, {"resident_id": own["id"]})
    assert (_values(own_text, "旧氏"), _values(own_text, "旧氏のふりがな")) == (["森"], ["モリ"])
    assert "国籍・地域" not in own_text
