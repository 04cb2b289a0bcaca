"""The counter in a real browser: Debian's Chromium with a virtual FIDO2 authenticator as
the clerk's IC card. A clerk registers the card with an administrator's one-time code,
logs in with password and card, searches with a variant kanji and opens the resident;
a wrong password or another clerk's card is refused; a clerk of another town sees none
of it. Screenshots of each page are kept as test artefacts."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from jukinet.devtools.democlerk import make_demo_clerk
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from jukinet.operators import card_principal
from tests.browser import closed_network_page, screenshot
from tests.federation.support import (
    PASSWORD,
    PersonalData,
    cli,
    database_url_of,
    on_one_backend,
    query,
)
from tests.principals import CHIYODA, HIRATSUKA

ONE_BACKEND = (
    "the counter's pages and cards do not depend on the database (the day's flow runs on both)"
)

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]


async def _clerk(fed: LocalFederation, town: Any, slug: str, role: str = "clerk") -> str:
    """An operator created with the CLI, and the enrolment code an administrator gives
    them."""
    db, root = database_url_of(fed, town), str(fed.layout.root)
    made = await cli("operators", "create", slug, "--role", role, "--node", town.uri,
                     "--db", db, "--pki-root", root)  # fmt: skip
    assert made.exit_code == 0, made.output
    issued = await cli("operators", "enrol", slug, "--node", town.uri, "--db", db,
                       "--pki-root", root)  # fmt: skip
    assert issued.exit_code == 0, issued.output
    code = issued.output.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9A-F]{4}(-[0-9A-F]{4}){3}", code), code
    return code


async def _with_card(page: Any) -> None:
    """A virtual authenticator in this page's browser: the clerk's IC card."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
    }})  # fmt: skip


async def _enrol(page: Any, base: str, slug: str, code: str, name: str) -> None:
    await page.goto(f"{base}/ui/enrol")
    await page.get_by_label("職員番号（ID）").fill(slug)
    await page.get_by_label("パスワード").fill(PASSWORD)
    await page.get_by_label("登録コード").fill(code)
    await screenshot(page, f"counter-{name}-enrol")
    await page.get_by_role("button", name="ICカードを登録").click()
    await page.wait_for_url(f"{base}/ui/login")


async def _log_in(page: Any, base: str, slug: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base}/ui/login")
    await page.get_by_label("職員番号（ID）").fill(slug)
    await page.get_by_label("パスワード").fill(password)
    await page.get_by_role("button", name="ICカードでログイン").click()


def _base(fed: LocalFederation, town: Any) -> str:
    """The town's UI by host name: WebAuthn does not accept an IP address as a site."""
    return fed.nodes[town].url.replace("127.0.0.1", "localhost")


async def test_a_clerk_logs_in_with_password_and_card_and_finds_a_resident(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    body = SyntheticResidents(seed=31).registration(HIRATSUKA.code, reason="birth")
    body["name"] = "髙橋 " + body["name"].split()[-1]  # the register writes 髙
    personal_data.add_body(body)
    async with federation.client(HIRATSUKA) as town:
        r = await town.post("/residents", json=body)
        assert r.status_code == 201, r.text
    resident = r.json()
    personal_data.add(resident["resident_code"])
    code = await _clerk(federation, HIRATSUKA, "ui-clerk")
    base = _base(federation, HIRATSUKA)

    async with closed_network_page() as page:
        await _with_card(page)
        await _enrol(page, base, "ui-clerk", code, "hiratsuka")

        await _log_in(page, base, "ui-clerk", "wrong password, surely")
        problem = page.locator("#card-problem")
        await problem.wait_for(state="visible")
        assert "確認できませんでした" in await problem.inner_text()
        await screenshot(page, "counter-login-refused")

        await _log_in(page, base, "ui-clerk")
        await page.wait_for_url(f"{base}/ui/")
        await page.get_by_label("氏名").fill("高橋")  # the clerk types 高
        await page.get_by_label("生年月日").fill(body["birth_date"])
        await page.get_by_role("button", name="検索").click()
        await page.wait_for_selector("#count")
        assert page.url == f"{base}/ui/"  # what the clerk typed is in no URL
        await screenshot(page, "counter-search")
        link = page.get_by_role("link", name=resident["name"])
        await link.click()
        await page.wait_for_url(f"{base}/ui/residents/{resident['id']}")
        text = await page.inner_text("main")
        assert resident["resident_code"] in text
        assert "出生" in text  # the history
        await screenshot(page, "counter-resident")
        assert page.blocked == []

    operator = card_principal(HIRATSUKA, "ui-clerk").uri
    rows = await query(
        federation, HIRATSUKA,
        "SELECT action, outcome FROM operation_log WHERE actor = :a ORDER BY seq", a=operator,
    )  # fmt: skip
    actions = [tuple(r) for r in rows]
    assert ("operators.card_enrolled", "ok") in actions
    assert ("auth.login", "failed:wrong_password") in actions
    assert ("auth.login", "ok") in actions
    assert ("residents.search", "ok") in actions


async def test_another_towns_clerk_sees_nothing_and_another_card_is_refused(
    federation: LocalFederation,
) -> None:
    code = await _clerk(federation, CHIYODA, "ui-chiyoda")
    other = await _clerk(federation, HIRATSUKA, "ui-second")
    chiyoda, hiratsuka = _base(federation, CHIYODA), _base(federation, HIRATSUKA)
    async with closed_network_page() as page:
        await _with_card(page)
        await _enrol(page, chiyoda, "ui-chiyoda", code, "chiyoda")
        # that card at Hiratsuka (the same site name on another port): the browser offers
        # it, Hiratsuka knows no such card for its clerk, and opens no session
        await _log_in(page, hiratsuka, "ui-second")
        problem = page.locator("#card-problem")
        await problem.wait_for(state="visible")
        assert await page.context.cookies(hiratsuka) == []

        await _log_in(page, chiyoda, "ui-chiyoda")
        await page.wait_for_url(f"{chiyoda}/ui/")
        rows = await query(federation, HIRATSUKA, "SELECT id, resident_code FROM residents")
        resident_id, resident_code = rows[0]
        await page.get_by_label("住民票コード").fill(resident_code)
        await page.get_by_role("button", name="検索").click()
        await page.wait_for_selector("#count")
        assert (await page.inner_text("#count")).strip() == "0 件"
        await page.goto(f"{chiyoda}/ui/residents/{resident_id}")
        assert "見つかりません" in await page.inner_text("main")
        await screenshot(page, "counter-another-town")
        assert page.blocked == []
    assert other  # the second Hiratsuka clerk never enrolled a card: nothing to log in with


async def test_the_demo_clerk_of_a_local_federation_logs_in_with_a_virtual_card(
    federation: LocalFederation, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """What `jukinet up` prints for the counter works as the README says: the demo clerk
    (kept across restarts, a fresh enrolment code each time) registers the browser's
    authenticator and logs in."""
    on_one_backend(request, ONE_BACKEND)
    url = database_url_of(federation, HIRATSUKA)
    first = await make_demo_clerk(tmp_path, federation.layout, HIRATSUKA, url)
    again = await make_demo_clerk(tmp_path, federation.layout, HIRATSUKA, url)
    assert again.password == first.password
    assert again.enrolment_code != first.enrolment_code
    assert (tmp_path / "demo-clerk.json").stat().st_mode & 0o077 == 0
    base = _base(federation, HIRATSUKA)
    async with closed_network_page() as page:
        await _with_card(page)
        await page.goto(f"{base}/ui/enrol")
        await page.get_by_label("職員番号（ID）").fill(again.slug)
        await page.get_by_label("パスワード").fill(again.password)
        await page.get_by_label("登録コード").fill(again.enrolment_code)
        await page.get_by_role("button", name="ICカードを登録").click()
        await page.wait_for_url(f"{base}/ui/login")
        await _log_in(page, base, again.slug, again.password)
        await page.wait_for_url(f"{base}/ui/")
        await screenshot(page, "counter-demo-search")


async def test_the_counter_refuses_what_its_own_pages_did_not_send(
    federation: LocalFederation, request: pytest.FixtureRequest
) -> None:
    """A POST from another site (or with no origin) is refused before anything is done;
    a page without a live session, or with a forged one, goes to the login."""
    on_one_backend(request, ONE_BACKEND)
    base = _base(federation, HIRATSUKA)
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        attempt = {"operator": "ui-clerk", "password": "x" * 12, "challenge_id": "0" * 32,
                   "credential": {}}  # fmt: skip
        bodies = {"/ui/login": attempt, "/ui/login/options": {}, "/ui/logout": {},
                  "/ui/enrol": attempt | {"code": "0000"}}  # fmt: skip
        for path, body in bodies.items():
            foreign = await client.post(path, json=body, headers={"Origin": "http://evil.example"})
            assert foreign.status_code == 403, path
            assert "この画面からの操作ではありません" in foreign.json()["message"]
            assert (await client.post(path, json=body)).status_code == 403, path
        assert (await client.get("/ui/")).headers["location"] == "/ui/login"
        client.cookies.set(
            "jukinet_counter", "jks_" + "x" * 43, domain="localhost.local", path="/ui"
        )
        forged = await client.get("/ui/")
        assert "jukinet_counter=" in forged.request.headers["cookie"]  # sent, and not taken
        assert (forged.status_code, forged.headers["location"]) == (303, "/ui/login")
        at_ip = await client.get(federation.nodes[HIRATSUKA].url + "/ui/login")
        assert "localhost で開いてください" in at_ip.text  # WebAuthn needs a host name


async def test_a_replaced_card_no_longer_logs_in_from_the_browser(
    federation: LocalFederation, request: pytest.FixtureRequest
) -> None:
    """The authenticator stands for the operator's registered IC card: once the card is
    replaced (`jukinet operators card`), the browser login it made is refused, as the
    old card is on the command line."""
    on_one_backend(request, ONE_BACKEND)
    code = await _clerk(federation, HIRATSUKA, "ui-replaced")
    base = _base(federation, HIRATSUKA)
    async with closed_network_page() as page:
        await _with_card(page)
        await _enrol(page, base, "ui-replaced", code, "replaced")
        await _log_in(page, base, "ui-replaced")
        await page.wait_for_url(f"{base}/ui/")
        replaced = await cli("operators", "card", "ui-replaced", "--node", HIRATSUKA.uri,
                             "--db", database_url_of(federation, HIRATSUKA),
                             "--pki-root", str(federation.layout.root))  # fmt: skip
        assert replaced.exit_code == 0, replaced.output
        await page.goto(f"{base}/ui/")
        assert page.url == f"{base}/ui/login"  # the session ended with the card
        await _log_in(page, base, "ui-replaced")
        problem = page.locator("#card-problem")
        await problem.wait_for(state="visible")
        assert "確認できませんでした" in await problem.inner_text()


async def test_an_administrator_issues_a_clerks_code_and_revokes_their_card(
    federation: LocalFederation, request: pytest.FixtureRequest
) -> None:
    """The administrator's page: the enrolment code for a clerk, then that clerk's
    registered card, revoked — after which it logs nobody in."""
    on_one_backend(request, ONE_BACKEND)
    admin_code = await _clerk(federation, HIRATSUKA, "ui-admin", role="administrator")
    await _clerk(federation, HIRATSUKA, "ui-newcomer")
    base = _base(federation, HIRATSUKA)
    async with closed_network_page() as admin, closed_network_page() as clerk:
        admin.on("dialog", lambda d: asyncio.ensure_future(d.accept()))  # 確認: はい
        await _with_card(admin)
        await _enrol(admin, base, "ui-admin", admin_code, "admin")
        await _log_in(admin, base, "ui-admin")
        await admin.wait_for_url(f"{base}/ui/admin")
        row = admin.locator("tr", has_text="ui-newcomer")
        await row.get_by_role("button", name="ICカード登録コードを発行").click()
        code = (await admin.inner_text("#code")).strip()
        await screenshot(admin, "counter-admin-code")

        await _with_card(clerk)
        await _enrol(clerk, base, "ui-newcomer", code, "newcomer")
        await _log_in(clerk, base, "ui-newcomer")
        await clerk.wait_for_url(f"{base}/ui/")

        await admin.goto(f"{base}/ui/admin/ui-newcomer/cards")
        await screenshot(admin, "counter-admin-cards")
        await admin.get_by_role("button", name="登録を取り消す").click()
        await admin.wait_for_selector("#no-cards")

        await clerk.goto(f"{base}/ui/login")
        await _log_in(clerk, base, "ui-newcomer")
        problem = clerk.locator("#card-problem")
        await problem.wait_for(state="visible")
        assert "確認できませんでした" in await problem.inner_text()
