"""A clerk's day at the counter, in Debian's Chromium with a virtual FIDO2 authenticator
as the IC card: find a household by a variant kanji, record a birth into it, move the
household within the town, issue the town's own 住民票の写し (the PDF is read) and a
nationwide copy of a Chiyoda resident, record a 転入 from the 転出証明書情報 of an online
move-out, record a foreign resident's 通称, file the head's 転出 — refused until the new head
is named in the same action —, take the resident's disclosure request and print it;
then an auditor verifies the operation log. Screenshots of each page are kept."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from jukinet.contracts.residentcard import ResidentCard
from jukinet.devtools.localfed import LocalFederation
from tests.browser import closed_network_page, screenshot
from tests.federation.support import PersonalData, cli, database_url_of, eventually, query
from tests.federation.test_counter_ui import _base, _clerk, _enrol, _log_in, _with_card
from tests.pdftext import text_of
from tests.principals import CHIYODA, HIRATSUKA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

TODAY = dt.datetime.now(dt.UTC).date()
BORN = TODAY - dt.timedelta(days=10)
HOME = "神奈川県平塚市浅間町一丁目1番1号"
NEW_HOME = "神奈川県平塚市浅間町二丁目2番2号"
FAR = "東京都千代田区千代田一丁目1番1号"


def _person(name: str, kana: str, birth: str, sex: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "name_kana": kana, "birth_date": birth, "sex": sex,
            "address": HOME, "reason": "move_in", "change_date": "2019-05-01",
            "notified_on": "2019-05-07", "previous_address": "アメリカ合衆国ハワイ州ホノルル市",
            **more}  # fmt: skip


HEAD = _person("髙畑 見本", "タカハタ ミホン", "1981-03-03", "male")
SPOUSE = _person("髙畑 見本子", "タカハタ ミホンコ", "1984-07-07", "female", relation="妻")
FAR_AWAY = {**_person("髙嶋 遠子", "タカシマ トオコ", "1977-11-11", "female"), "address": FAR}
ONLINE = {**_person("千代 移子", "チヨ ウツコ", "1990-02-02", "female"), "address": FAR}
FOREIGNER = {"name": "PHAM THI LAN", "birth_date": "1995-05-05", "sex": "female",
             "nationality": "VN", **{k: v for k, v in HEAD.items() if k in (
                 "address", "reason", "change_date", "notified_on", "previous_address")}}  # fmt: skip
ALIAS = "林 蘭"


async def _register(fed: LocalFederation, town: Any, body: dict[str, Any],
                    pd: PersonalData) -> dict[str, Any]:  # fmt: skip
    pd.add_body(body)
    async with fed.client(town) as client:
        r = await client.post("/residents", json=body)
    assert r.status_code == 201, r.text
    pd.add(r.json()["resident_code"])
    return dict(r.json())


async def _pdf_of(page: Any, click: Any) -> str:
    """The text of the PDF a click hands over (saved by the browser, as a clerk does
    before printing it)."""
    async with page.expect_download() as download:
        await click()
    path = await (await download.value).path()
    return text_of(await asyncio.to_thread(Path(path).read_bytes))


async def _individual_number(page: Any, pd: PersonalData, unlike: str | None = None) -> str:
    """The number the resident page shows once the agency's answer is in (bounded)."""
    for _ in range(120):
        shown = (await page.locator("dt:text-is('個人番号') + dd").inner_text()).strip()
        if shown.isdigit() and len(shown) == 12 and shown != unlike:
            pd.add(shown)
            return str(shown)
        await asyncio.sleep(0.25)
        await page.reload()
    raise AssertionError("no individual number arrived within 30 s")


async def _fill(page: Any, fields: dict[str, str]) -> None:
    for label, value in fields.items():
        await page.get_by_label(label, exact=True).fill(value)


async def _filed_online(fed: LocalFederation, pd: PersonalData, tmp_path: Path) -> dict[str, Any]:
    """A Chiyoda resident with a card files the move-out to Hiratsuka online; the
    certificate has arrived when this returns."""
    card = ResidentCard.create(tmp_path / "online.key")
    person = await _register(fed, CHIYODA, ONLINE, pd)
    async with fed.client(CHIYODA) as chiyoda:
        r = await chiyoda.post(
            f"/residents/{person['id']}/card", json={"public_key": card.public_key}
        )
        assert r.status_code == 201, r.text
        filing = card.move_out(
            town=CHIYODA.code, resident_code=person["resident_code"], planned_on=TODAY,
            destination_municipality=HIRATSUKA.code, destination_address=HOME, visit_on=TODAY,
        )  # fmt: skip
        r = await chiyoda.post("/move-outs/online", json={"filing": filing})
        assert r.status_code == 202, r.text

    async def arrived() -> bool:
        async with fed.client(HIRATSUKA) as town:
            listed = (await town.get("/move-outs/incoming")).json()
        return any(n["resident_code"] == person["resident_code"] for n in listed)

    await eventually(arrived)
    return person


async def test_a_clerks_day_at_the_counter(
    federation: LocalFederation, personal_data: PersonalData, tmp_path: Path
) -> None:
    head = await _register(federation, HIRATSUKA, HEAD, personal_data)
    spouse = await _register(
        federation, HIRATSUKA, {**SPOUSE, "household_id": head["household_id"]}, personal_data
    )
    far = await _register(federation, CHIYODA, FAR_AWAY, personal_data)
    foreigner = await _register(federation, HIRATSUKA, FOREIGNER, personal_data)
    online = await _filed_online(federation, personal_data, tmp_path)
    personal_data.add(ALIAS)
    code = await _clerk(federation, HIRATSUKA, "day-clerk")
    base = _base(federation, HIRATSUKA)
    child_name = "髙畑 小見本"
    personal_data.add(child_name)

    async with closed_network_page(accept_downloads=True) as page:
        page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))  # 確認: はい
        await _with_card(page)
        await _enrol(page, base, "day-clerk", code, "day")
        await _log_in(page, base, "day-clerk")
        await page.wait_for_url(f"{base}/ui/")

        # find the household by the variant the clerk types (高, the register has 髙)
        await page.get_by_label("氏名").fill("高畑")
        await page.get_by_role("button", name="検索").click()
        await page.get_by_role("link", name=HEAD["name"], exact=True).click()
        await page.wait_for_url(f"{base}/ui/residents/{head['id']}")

        # a birth into the household
        await page.get_by_role("link", name="この世帯に記載").click()
        await page.get_by_label("異動事由").select_option("birth")
        await _fill(page, {"氏名（必須）": child_name, "ふりがな（カタカナ）": "タカハタ コミホン",
                           "生年月日（必須）": BORN.isoformat(), "住所（必須）": HOME,
                           "異動年月日（必須）": BORN.isoformat(), "届出年月日": TODAY.isoformat(),
                           "世帯主との続柄": "子"})  # fmt: skip
        await page.get_by_label("性別（必須）").select_option("female")
        await screenshot(page, "counter-register-birth")
        await page.get_by_role("button", name="記載する").click()
        await page.wait_for_load_state()
        assert "/ui/residents/" in page.url, (page.url, await page.content())
        recorded = await page.inner_text("main")
        assert "出生" in recorded
        assert f"届出年月日: {TODAY.isoformat()}" in recorded  # the change's own data
        child_id = page.url.rsplit("/", 1)[-1]

        # the whole household moves within the town
        await page.goto(f"{base}/ui/residents/{head['id']}/move")
        await _fill(page, {"新しい住所（必須）": NEW_HOME, "異動年月日（必須）": TODAY.isoformat(),
                           "届出年月日": TODAY.isoformat()})  # fmt: skip
        await page.get_by_label("世帯全員で転居する").check()
        await screenshot(page, "counter-move")
        await page.get_by_role("button", name="転居を記録する").click()
        await page.wait_for_url(f"{base}/ui/residents/{head['id']}")
        await page.goto(f"{base}/ui/residents/{child_id}")
        assert NEW_HOME in await page.inner_text("main")

        # the child's 個人番号 arrives from the agency; a leak replaces it
        first = await _individual_number(page, personal_data)
        await page.get_by_role("button", name="個人番号の変更（漏えい）").click()
        await page.wait_for_url(f"{base}/ui/residents/{child_id}")
        assert await _individual_number(page, personal_data, unlike=first) != first

        # the town's own copy of the whole household, with relations
        await page.goto(f"{base}/ui/residents/{head['id']}/copy")
        await _fill(page, {"請求の目的（必須）": "児童手当の申請"})
        await page.get_by_label("本人確認書類を確認した").check()
        await page.get_by_label("写しの範囲").select_option("household")
        await page.get_by_label("続柄を記載する").check()
        await screenshot(page, "counter-own-copy")
        own = await _pdf_of(page, page.get_by_role("button", name="写しを交付する").click)
        assert "世帯主" in own
        for name in (HEAD["name"], SPOUSE["name"], child_name):
            assert name.replace(" ", "　") in own or name in own, name
        assert "浅間町二丁目" in own  # the new address

        # a nationwide copy of a Chiyoda resident
        await page.goto(f"{base}/ui/copies")
        await _fill(page, {"住所地の団体コード（必須）": CHIYODA.code,
                           "氏名（本人確認書類のとおり）（必須）": FAR_AWAY["name"],
                           "生年月日（必須）": FAR_AWAY["birth_date"],
                           "請求の目的（必須）": "年金の手続"})  # fmt: skip
        await page.get_by_label("本人確認書類を確認した").check()
        await screenshot(page, "counter-nationwide-copy")
        nationwide = await _pdf_of(page, page.get_by_role("button", name="写しを交付する").click)
        assert "千代田区" in nationwide
        assert far["resident_code"] not in nationwide  # not asked for: not printed

        # a Chiyoda resident filed their move-out online: the clerk records the 転入 from
        # the 転出証明書情報 that arrived
        await page.goto(f"{base}/ui/move-ins")
        await page.get_by_role("row", name=ONLINE["name"]).get_by_role("link").click()
        await _fill(page, {"異動年月日（転入した日）（必須）": TODAY.isoformat(),
                           "届出年月日（必須）": TODAY.isoformat()})  # fmt: skip
        await screenshot(page, "counter-special-move-in")
        await page.get_by_role("button", name="転入を記録する").click()
        await page.wait_for_load_state()
        assert "/ui/residents/" in page.url, (page.url, await page.content())
        arrived = await page.inner_text("main")
        assert online["resident_code"] in arrived  # the code the certificate states
        assert "転入" in arrived

        # a foreign resident's 通称 is recorded on their application; its history shows
        await page.goto(f"{base}/ui/residents/{foreigner['id']}")
        await page.get_by_role("link", name="通称の記載・削除").click()
        await page.get_by_label("異動事由").select_option("alias_record")
        await _fill(page, {"通称（記載するとき）": ALIAS, "異動年月日（必須）": TODAY.isoformat(),
                           "届出年月日": TODAY.isoformat()})  # fmt: skip
        await page.get_by_role("button", name="記録する").click()
        await page.wait_for_url(f"{base}/ui/residents/{foreigner['id']}")
        shown = await page.inner_text("main")
        assert "通称の履歴" in shown
        assert ALIAS in shown
        assert "ベトナム" in shown  # 国籍・地域 as the register writes it
        await screenshot(page, "counter-alias")

        # the head moves out; the spouse and the child stay: first refused without a new head
        await page.goto(f"{base}/ui/residents/{head['id']}/move-out")
        await _fill(page, {"転出先の住所（必須）": FAR, "転出先の団体コード": CHIYODA.code,
                           "異動年月日（必須）": TODAY.isoformat(), "届出年月日": TODAY.isoformat()})  # fmt: skip
        await page.get_by_role("button", name="転出を記録する").click()
        assert "新しい世帯主" in await page.inner_text("p.problem")
        await screenshot(page, "counter-move-out-needs-head")
        await page.get_by_label("新しい世帯主（世帯主変更）").select_option(spouse["id"])
        await page.get_by_label(f"{child_name} の新しい世帯主との続柄").fill("子")
        await page.get_by_role("button", name="転出を記録する").click()
        await page.wait_for_url(f"{base}/ui/residents/{head['id']}")
        await page.goto(f"{base}/ui/residents/{spouse['id']}")
        text = await page.inner_text("main")
        assert "世帯主" in text
        await screenshot(page, "counter-new-head")

        # the spouse asks who was given their record
        await page.get_by_role("button", name="提供状況の開示請求").click()
        await page.wait_for_url(f"{base}/ui/disclosures/*")
        for _ in range(120):  # bounded: until the prefecture and the agency have answered
            if await page.locator("#document").count():
                break
            await asyncio.sleep(0.5)
            await page.reload()
        await screenshot(page, "counter-disclosure")
        disclosed = await _pdf_of(page, page.locator("#document").click)
        assert "提供" in disclosed
        assert page.blocked == []

    # the auditor, on a workstation of their own, verifies the operation log
    db, root = database_url_of(federation, HIRATSUKA), str(federation.layout.root)
    made = await cli("operators", "create", "day-auditor", "--role", "auditor", "--node",
                     HIRATSUKA.uri, "--db", db, "--pki-root", root)  # fmt: skip
    assert made.exit_code == 0, made.output
    issued = await cli("operators", "enrol", "day-auditor", "--node", HIRATSUKA.uri,
                       "--db", db, "--pki-root", root)  # fmt: skip
    async with closed_network_page() as page:
        await _with_card(page)
        await _enrol(page, base, "day-auditor", issued.output.strip().splitlines()[-1], "auditor")
        await _log_in(page, base, "day-auditor")
        await page.wait_for_url(f"{base}/ui/audit")
        await page.get_by_role("button", name="ハッシュチェーンを検証する").click()
        await page.wait_for_selector("#verified")
        assert "改ざんはありません" in await page.inner_text("#verified")
        await screenshot(page, "counter-audit")
        # the auditor reads the log, never a resident
        await page.goto(f"{base}/ui/residents/{head['id']}")
        assert "権限がありません" in await page.inner_text("main")

    clerk_actions = {
        r[0] for r in await query(
            federation, HIRATSUKA,
            "SELECT action FROM operation_log WHERE actor LIKE '%/day-clerk'",
        )
    }  # fmt: skip
    assert {"residents.search", "residents.write", "copies.issue", "disclosures"} <= clerk_actions
