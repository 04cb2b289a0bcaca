"""The counter's register: households and relations, each reason's own data, corrections
that keep history, deleted residents that stay, and input that is refused whole."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from tests.federation.support import PersonalData, eventually, query
from tests.principals import AGENCY, HIRATSUKA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

TODAY = dt.datetime.now(dt.UTC).date()


async def register(
    client: httpx.AsyncClient, body: dict[str, Any], pd: PersonalData
) -> dict[str, Any]:
    pd.add_body(body)
    pd.add(body.get("registered_domicile"), body.get("family_register_head"))
    r = await client.post("/residents", json=body)
    assert r.status_code == 201, r.text
    pd.add(r.json()["resident_code"])
    return dict(r.json())


async def test_a_household_has_a_head_members_and_relations(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=101)
    async with federation.client(HIRATSUKA) as client:
        head = await register(client, people.registration(HIRATSUKA.code), personal_data)
        assert head["relation"] == "世帯主"
        household = head["household_id"]
        spouse_body = {
            **people.registration(HIRATSUKA.code, reason="move_in"),
            "household_id": household, "relation": "妻",
        }  # fmt: skip
        spouse = await register(client, spouse_body, personal_data)
        child_body = {
            **people.registration(HIRATSUKA.code), "household_id": household, "relation": "子",
        }  # fmt: skip
        await register(client, child_body, personal_data)
        found = (await client.get(f"/households/{household}")).json()
        assert found["head_id"] == head["id"]
        assert sorted(m["relation"] for m in found["members"]) == ["世帯主", "妻", "子"]

        change = {"resident_id": spouse["id"], "change_date": dt.date.today().isoformat()}
        stays = await client.post(f"/households/{household}/head", json=change)
        assert stays.status_code == 409  # the previous head stays: their relation is needed
        change["relations"] = {head["id"]: "夫"}
        r = await client.post(f"/households/{household}/head", json=change)
        assert r.status_code == 200, r.text
        assert r.json()["head_id"] == spouse["id"]
        relations = {m["id"]: m["relation"] for m in r.json()["members"]}
        assert (relations[spouse["id"]], relations[head["id"]]) == ("世帯主", "夫")
        bad = {**child_body, "relation": None}
        assert (await client.post("/residents", json=bad)).status_code == 422
        missing = {**child_body, "household_id": "f" * 32}
        assert (await client.post("/residents", json=missing)).status_code == 404


async def test_each_reason_keeps_its_own_data(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=102)
    async with federation.client(HIRATSUKA) as client:
        body = {
            **people.registration(HIRATSUKA.code, reason="move_in"),
            "registered_domicile": "東京都千代田区千代田1番", "family_register_head": "山田 太郎",
        }  # fmt: skip
        arrived = await register(client, body, personal_data)
        assert arrived["previous_address"] == body["previous_address"]
        assert arrived["notified_on"] == body["notified_on"]
        assert arrived["became_resident_on"] == body["change_date"]
        assert arrived["registered_domicile"] == "東京都千代田区千代田1番"
        leaving = {
            "reason": "move_out", "change_date": TODAY.isoformat(),
            "notified_on": (TODAY - dt.timedelta(days=3)).isoformat(),  # 転出届 comes first
            "next_address": "フランス共和国パリ市",
        }  # fmt: skip
        r = await client.post(f"/residents/{arrived['id']}/changes", json=leaving)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["next_address"]) == ("deleted", "フランス共和国パリ市")
        history = (await client.get(f"/residents/{arrived['id']}/history")).json()
    assert [h["change_reason"] for h in history] == ["move_in", "move_out"]
    assert history[1]["detail"]["next_address"] == "フランス共和国パリ市"
    assert history[1]["detail"]["operator"] == "system"
    # the register keeps 本籍 and 筆頭者; the identity record that travels never has them
    versions = await query(
        federation, HIRATSUKA, "SELECT record FROM resident_versions WHERE resident_id = :r",
        r=arrived["id"],
    )  # fmt: skip
    assert len(versions) == 2
    for (record,) in versions:
        assert "本籍" not in record
        assert "千代田1番" not in record
        assert "山田 太郎" not in record


async def test_a_correction_keeps_the_old_version_and_a_deleted_resident_stays(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=103)
    async with federation.client(HIRATSUKA) as client:
        born = await register(client, people.registration(HIRATSUKA.code), personal_data)
        fix = {"reason": "ex_officio_correction", "change_date": TODAY.isoformat(), "sex": (
            "female" if born["sex"] == "male" else "male")}  # fmt: skip
        assert (await client.post(f"/residents/{born['id']}/changes", json=fix)).status_code == 200
        death = {"reason": "death", "change_date": TODAY.isoformat(),
                 "notified_on": TODAY.isoformat()}  # fmt: skip
        assert (
            await client.post(f"/residents/{born['id']}/changes", json=death)
        ).status_code == 200
        kept = (await client.get(f"/residents/{born['id']}")).json()
        history = (await client.get(f"/residents/{born['id']}/history")).json()
    assert (kept["status"], kept["change_reason"]) == ("deleted", "death")
    assert [h["record"]["sex"] for h in history][:2] == [born["sex"], fix["sex"]]
    assert [h["version"] for h in history] == [1, 2, 3]

    async def upstream() -> bool:
        async with federation.client(AGENCY) as client:
            r = await client.post("/records/lookup", json={"resident_code": born["resident_code"]})
        return r.status_code == 200 and r.json()["status"] == "deleted"

    await eventually(upstream)


BAD_REGISTRATIONS = [
    ({"name_kana": "やまだ"}, "kana in hiragana"),
    ({"birth_date": (TODAY + dt.timedelta(days=30)).isoformat()}, "birth in the future"),
    ({"notified_on": None}, "a birth without its notification date"),
    ({"change_date": "1900-01-01"}, "a birth dated before it happened"),
    ({"reason": "move_in", "previous_address": None}, "a move-in without 前住所"),
    (
        {
            "reason": "move_in",
            "previous_address": "x",
            "previous_municipality": "142035",
            "resident_code": "12345678901",
        },
        "a bad local government code",
    ),
    (
        {
            "reason": "move_in",
            "previous_address": "x",
            "previous_municipality": "131016",
            "resident_code": "12345678900",
        },
        "a resident code with a bad check digit",
    ),
    ({"reason": "death"}, "a deletion reason"),
    ({"address": "\u0000"}, "a control character"),
    ({"relation": "妻"}, "a relation without a household"),
]


@pytest.mark.parametrize(
    ("change", "why"), BAD_REGISTRATIONS, ids=[b[1] for b in BAD_REGISTRATIONS]
)
async def test_bad_input_is_refused_whole(
    federation: LocalFederation, change: dict[str, Any], why: str
) -> None:
    body = SyntheticResidents(seed=104).registration(HIRATSUKA.code) | change
    before = await query(federation, HIRATSUKA, "SELECT count(*) FROM residents")
    async with federation.client(HIRATSUKA) as client:
        r = await client.post("/residents", json={k: v for k, v in body.items() if v is not None})
    assert r.status_code == 422, why
    assert r.headers["content-type"] == "application/problem+json"
    assert await query(federation, HIRATSUKA, "SELECT count(*) FROM residents") == before


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert personal_data.leaks(federation.root / "log") == []
