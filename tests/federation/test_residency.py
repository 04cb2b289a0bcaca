"""The identity record as it stands now, on a real federation, both backends: a national's
旧氏 and a foreign resident's alphabet name, 通称 (with its own history) and nationality
are recorded at the counter, travel to the prefecture and the agency in the record, and
reach a lookup only where the affair's grant names them; the rules of each kind of
resident are refused at the counter with a reason, never stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.devtools.localfed import LocalFederation
from tests.federation.support import PersonalData, eventually, query
from tests.federation.test_propagation import TODAY, change, register
from tests.principals import AGENCY, HIRATSUKA, KANAGAWA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

POLICE = Principal(PrincipalKind.MINISTRY, "kanagawa-police")  # grant names all of them
MOFA = Principal(PrincipalKind.MINISTRY, "mofa-passport")  # 旧氏 only (passports show it)
RESIDENCY = ("former_surname", "former_surname_kana", "nationality", "alias", "alias_kana")


def _person(name: str, birth: str, sex: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "birth_date": birth, "sex": sex, "address": "神奈川県平塚市浅間町7-7",
            "reason": "birth", "change_date": birth, "notified_on": birth, **more}  # fmt: skip


FOREIGNER = _person("NGUYEN VAN AN", "1991-02-03", "male", nationality="VN",
                    alias="中村 安", alias_kana="ナカムラ ヤスシ")  # fmt: skip
NATIONAL = _person("平塚 薫", "1987-06-05", "female", name_kana="ヒラツカ カオル")


async def _at_tier(fed: LocalFederation, node: Principal, code: str, **wanted: Any) -> None:
    columns = ", ".join(RESIDENCY)

    async def arrived() -> bool:
        rows = await query(fed, node, f"SELECT {columns} FROM identity_records "
                           "WHERE resident_code = :c", c=code)  # fmt: skip
        return bool(rows) and dict(zip(RESIDENCY, rows[0], strict=True)) == (
            dict.fromkeys(RESIDENCY) | wanted
        )

    await eventually(arrived)


async def _lookup(
    fed: LocalFederation, node: Principal, who: Principal, body: dict[str, Any]
) -> dict[str, Any]:
    path = "/lookups/by-code" if "resident_code" in body else "/lookups/by-facts"
    async with fed.lookup_client(node, who) as c:
        r = await c.post(path, json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_a_foreign_resident_travels_with_alias_and_nationality_to_permitted_lookups(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    personal_data.add("中村 安", "ナカムラ ヤスシ")
    async with federation.client(HIRATSUKA) as town:
        foreigner = await register(town, FOREIGNER, personal_data)
    code = foreigner["resident_code"]
    assert (foreigner["nationality"], foreigner["alias"]) == ("VN", "中村 安")
    wanted = {"nationality": "VN", "alias": "中村 安", "alias_kana": "ナカムラ ヤスシ"}
    for tier in (KANAGAWA, AGENCY):
        await _at_tier(federation, tier, code, **wanted)
    police = await _lookup(federation, KANAGAWA, POLICE,
                           {"affair": "driving-licences", "resident_code": code})  # fmt: skip
    assert {k: police["record"][k] for k in wanted} == wanted
    passport = await _lookup(federation, AGENCY, MOFA,
                             {"affair": "passport-issuance", "resident_code": code})  # fmt: skip
    assert not {"nationality", "alias", "alias_kana"} & set(passport["record"])
    facts = {"affair": "driving-licences", "birth_date": "1991-02-03", "sex": "male"}
    for name in ("Nguyen Van An", "中村安"):  # by the alphabet name in any case, or the 通称
        found = await _lookup(federation, KANAGAWA, POLICE, facts | {"name": name})
        assert found["match"] == "unique", name
        assert found["record"]["name"] == "NGUYEN VAN AN"
    fields = await query(federation, KANAGAWA, "SELECT fields FROM provision_log "
                         "WHERE residents LIKE :c ORDER BY seq", c=f"%{code}%")  # fmt: skip
    assert all("nationality" in str(row[0]) for row in fields)  # the log says what was given


async def test_the_alias_has_its_own_history_and_a_national_never_gets_one(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    personal_data.add("中村 安", "ナカムラ ヤスシ", "中村 安夫")
    async with federation.client(HIRATSUKA) as town:
        rid = (await register(town, FOREIGNER | {"birth_date": "1992-03-04",
                                                 "change_date": "1992-03-04",
                                                 "notified_on": "1992-03-04"},
                              personal_data))["id"]  # fmt: skip
        await change(town, rid, {"reason": "alias_record", "alias": "中村 安夫"}, personal_data)
        deleted = await change(town, rid, {"reason": "alias_delete"}, personal_data)
        again = await town.post(f"/residents/{rid}/changes", json={
            "reason": "alias_delete", "change_date": TODAY, "notified_on": TODAY})  # fmt: skip
        history = (await town.get(f"/residents/{rid}/aliases")).json()
        national = (await register(town, NATIONAL, personal_data))["id"]
        aliased = await town.post(f"/residents/{national}/changes", json={
            "reason": "alias_record", "alias": "ヒラツカ", "change_date": TODAY,
            "notified_on": TODAY})  # fmt: skip
        kept = (await town.get(f"/residents/{national}")).json()
    assert deleted["alias"] is None
    assert [(h["alias"], h["municipality"]) for h in history] == [
        ("中村 安", HIRATSUKA.code), ("中村 安夫", HIRATSUKA.code),
    ]  # fmt: skip
    assert all(h["deleted_on"] == TODAY for h in history)
    assert (again.status_code, again.json()["type"].rsplit("/", 1)[-1]) == (409, "nothing-recorded")
    assert aliased.status_code == 409
    assert aliased.json()["type"].endswith("residency-mismatch")
    assert (kept["alias"], kept["version"]) == (None, 1)  # nothing stored


async def test_a_nationals_former_surname_is_recorded_on_request_and_given_by_grant(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    personal_data.add("鈴木", "スズキ")
    async with federation.client(HIRATSUKA) as town:
        national = await register(town, NATIONAL | {"birth_date": "1987-06-06",
                                                    "change_date": "1987-06-06",
                                                    "notified_on": "1987-06-06"},
                                  personal_data)  # fmt: skip
        recorded = await change(town, national["id"], {"reason": "former_surname_record",
                                "former_surname": "鈴木", "former_surname_kana": "スズキ"},
                                personal_data)  # fmt: skip
    code = national["resident_code"]
    assert (recorded["former_surname"], recorded["change_reason"]) == (
        "鈴木", "former_surname_record")  # fmt: skip
    wanted = {"former_surname": "鈴木", "former_surname_kana": "スズキ"}
    await _at_tier(federation, AGENCY, code, **wanted)
    passport = await _lookup(federation, AGENCY, MOFA,
                             {"affair": "passport-issuance", "resident_code": code})  # fmt: skip
    assert {k: passport["record"][k] for k in wanted} == wanted
    assert "nationality" not in passport["record"]


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (FOREIGNER | {"name": "グエン ヴァン アン"}, "Latin alphabet"),
        (FOREIGNER | {"nationality": "ZZ"}, "ISO 3166-1"),
        (NATIONAL | {"alias": "ヒラツカ"}, "foreign resident only"),
        (FOREIGNER | {"former_surname": "グエン"}, "Japanese national only"),
        (NATIONAL | {"former_surname_kana": "スズキ"}, "reads a former_surname"),
    ],
    ids=["katakana-name", "no-such-country", "national-alias", "foreign-former", "kana-alone"],
)
async def test_each_kind_of_resident_keeps_its_rules(
    federation: LocalFederation, body: dict[str, Any], rule: str
) -> None:
    async with federation.client(HIRATSUKA) as town:
        r: httpx.Response = await town.post("/residents", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert rule in r.text
    assert body["name"] not in r.text  # the rule, never the value
