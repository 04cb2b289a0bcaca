"""A clerk finds a resident by what they know: a name's start as the ID writes it
(spaces, width and variant kanji folded), the reading in either kana, a birth date, an
address, a code or a household — in pages, only in their own town's register, and the
operation log records that they searched, not what."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jukinet.devtools.localfed import LocalFederation
from tests.federation.support import PersonalData, query
from tests.principals import CHIYODA, HIRATSUKA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

ADDRESS = "神奈川県平塚市見附町7-7"


def _person(name: str, kana: str, birth: str) -> dict[str, Any]:
    return {"name": name, "name_kana": kana, "birth_date": birth, "sex": "male",
            "address": ADDRESS, "reason": "birth", "change_date": birth,
            "notified_on": birth}  # fmt: skip


async def _search(client: httpx.AsyncClient, **ask: Any) -> httpx.Response:
    return await client.post("/residents/search", json=ask)


@pytest.fixture(scope="module")
async def found(federation: LocalFederation, personal_data: PersonalData) -> dict[str, Any]:
    people = [
        _person("検索 髙太郎", "ケンサク タカタロウ", "2001-02-03"),
        _person("検索 髙次郎", "ケンサク タカジロウ", "2003-04-05"),
        _person("検索 花子", "ケンサク ハナコ", "2005-06-07"),
    ]
    made = {}
    async with federation.client(HIRATSUKA) as client:
        for body in people:
            personal_data.add_body(body)
            r = await client.post("/residents", json=body)
            assert r.status_code == 201, r.text
            made[body["name"]] = r.json()
        gone = made["検索 花子"]
        death = {"reason": "death", "change_date": "2024-01-01", "notified_on": "2024-01-02"}
        assert (
            await client.post(f"/residents/{gone['id']}/changes", json=death)
        ).status_code == 200
    return made


async def test_names_and_readings_are_found_as_written(
    federation: LocalFederation, found: dict[str, Any]
) -> None:
    async with federation.client(HIRATSUKA) as client:
        by_name = (await _search(client, name="検索高")).json()  # no space, 高 for 髙
        by_kana = (await _search(client, kana="けんさく たか")).json()  # hiragana
        by_birth = (await _search(client, name="検索", birth_date="2003-04-05")).json()
        by_code = (
            await _search(client, resident_code=found["検索 髙太郎"]["resident_code"])
        ).json()
    names = {r["name"] for r in by_name["results"]}
    assert names == {"検索 髙太郎", "検索 髙次郎"}
    assert by_name["total"] == 2
    assert {r["name"] for r in by_kana["results"]} == names
    assert [r["name"] for r in by_birth["results"]] == ["検索 髙次郎"]
    assert [r["name"] for r in by_code["results"]] == ["検索 髙太郎"]


async def test_pages_closed_records_and_other_towns(
    federation: LocalFederation, found: dict[str, Any]
) -> None:
    async with federation.client(HIRATSUKA) as client:
        first = (await _search(client, name="検索", page_size=1)).json()
        second = (await _search(client, name="検索", page_size=1, page=2)).json()
        everyone = (await _search(client, name="検索", include_closed=True)).json()
        nothing = await _search(client)
    assert (first["total"], len(first["results"])) == (2, 1)  # the deceased is not live
    assert first["results"][0]["id"] != second["results"][0]["id"]
    assert everyone["total"] == 3
    assert nothing.status_code == 422
    async with federation.client(CHIYODA) as other:
        elsewhere = (await _search(other, name="検索")).json()
    assert elsewhere["total"] == 0


async def test_the_log_says_who_searched_not_what(
    federation: LocalFederation, found: dict[str, Any]
) -> None:
    async with federation.client(HIRATSUKA) as client:
        assert (await _search(client, name="検索")).status_code == 200
    rows = await query(
        federation, HIRATSUKA,
        "SELECT actor, target, outcome FROM operation_log WHERE action = 'residents.search' "
        "ORDER BY seq DESC LIMIT 1",
    )  # fmt: skip
    assert [tuple(r) for r in rows] == [("system", None, "ok")]
    logged = await query(federation, HIRATSUKA, "SELECT count(*) FROM operation_log "
                         "WHERE target LIKE '%検索%'")  # fmt: skip
    assert logged[0][0] == 0
