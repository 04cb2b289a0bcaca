"""Every kind of identity change made at a municipality reaches its prefecture and the
agency, with history, in order — on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from jukinet.contracts.identity import ChangeReason
from jukinet.contracts.principals import Principal
from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from tests.federation.support import PersonalData, eventually, tier_record
from tests.principals import AGENCY, CHIYODA, HIRATSUKA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

RECORDING = [
    ChangeReason.BIRTH,
    ChangeReason.MOVE_IN,
    ChangeReason.EX_OFFICIO_RECORD,
    ChangeReason.NATURALISATION,
    ChangeReason.NATIONALITY_ACQUIRED,
    ChangeReason.RESTORATION,
]
DELETIONS = [
    ChangeReason.MOVE_OUT,
    ChangeReason.DEATH,
    ChangeReason.EX_OFFICIO_DELETION,
    ChangeReason.NATIONALITY_LOST,
    ChangeReason.DECLARED_MISSING,
]
TODAY = dt.datetime.now(dt.UTC).date().isoformat()


lookup = tier_record


async def arrived(fed: LocalFederation, town: Principal, code: str, version: int) -> None:
    async def check() -> bool:
        for node in (town.prefecture_of, AGENCY):
            view = await lookup(fed, node, code)
            if view is None or view["version"] < version:
                return False
        return True

    await eventually(check)


async def register(
    client: httpx.AsyncClient, body: dict[str, Any], pd: PersonalData
) -> dict[str, Any]:
    pd.add_body(body)
    r = await client.post("/residents", json=body)
    assert r.status_code == 201, r.text
    pd.add(r.json()["resident_code"])
    return dict(r.json())


async def change(
    client: httpx.AsyncClient, rid: str, body: dict[str, Any], pd: PersonalData
) -> dict[str, Any]:
    pd.add_body(body)
    body = {"change_date": TODAY, "notified_on": TODAY, **body}
    if body["reason"] == "move_out":
        body["next_address"] = "北海道札幌市中央区北1条西2丁目"
    r = await client.post(f"/residents/{rid}/changes", json=body)
    assert r.status_code == 200, r.text
    pd.add(r.json()["resident_code"])
    return dict(r.json())


@pytest.mark.parametrize("town", [HIRATSUKA, CHIYODA], ids=["kanagawa", "tokyo"])
async def test_every_change_kind_arrives_with_history_in_order(
    federation: LocalFederation, personal_data: PersonalData, town: Principal
) -> None:
    people = SyntheticResidents(seed=int(town.code))
    async with federation.client(town) as client:
        residents = [
            await register(client, people.registration(town.code, reason=r.value), personal_data)
            for r in RECORDING
        ]
        subject = residents[0]
        steps: list[dict[str, Any]] = [
            {"reason": "in_town_move", "address": people.address(town.code)},
            {"reason": "name_change", "name": "改名 花子", "name_kana": "カイメイ ハナコ"},
            {"reason": "ex_officio_correction", "birth_date": "1990-02-28", "sex": "female"},
            {"reason": "code_change"},
        ]
        old_code = subject["resident_code"]
        for step in steps:
            subject = await change(client, subject["id"], step, personal_data)
        for resident, reason in zip(residents[1:], DELETIONS, strict=True):
            await change(client, resident["id"], {"reason": reason.value}, personal_data)

    await arrived(federation, town, subject["resident_code"], version=5)
    for node in (town.prefecture_of, AGENCY):
        view = await lookup(federation, node, subject["resident_code"])
        assert view is not None
        assert view["status"] == "live"
        assert view["record"]["name"] == "改名 花子"
        assert view["record"]["address"] == subject["address"]
        assert view["record"]["birth_date"] == "1990-02-28"
        assert view["record"]["municipality"] == town.code
        old = await lookup(federation, node, old_code)
        assert old is not None
        assert old["status"] == "retired"
        reasons = [h["record"]["change_reason"] for h in old["history"]]
        assert reasons == ["birth", "in_town_move", "name_change", "ex_officio_correction"]
        assert [h["version"] for h in old["history"]] == [1, 2, 3, 4]
        assert view["history"][-1]["previous_code"] == old_code

    for resident, reason in zip(residents[1:], DELETIONS, strict=True):
        await arrived(federation, town, resident["resident_code"], version=2)
        for node in (town.prefecture_of, AGENCY):
            view = await lookup(federation, node, resident["resident_code"])
            assert view is not None
            assert view["status"] == "deleted"
            assert view["record"]["change_reason"] == reason.value
            recorded = view["history"][0]["record"]["change_reason"]
            assert [h["version"] for h in view["history"]] == [1, 2]
            assert recorded in {r.value for r in RECORDING}


async def test_a_prefecture_holds_only_its_own_municipalities(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=7)
    async with federation.client(HIRATSUKA) as client:
        resident = await register(client, people.registration(HIRATSUKA.code), personal_data)
    await arrived(federation, HIRATSUKA, resident["resident_code"], version=1)
    assert await lookup(federation, CHIYODA.prefecture_of, resident["resident_code"]) is None


async def test_a_deleted_record_cannot_be_changed(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    people = SyntheticResidents(seed=8)
    async with federation.client(HIRATSUKA) as client:
        resident = await register(client, people.registration(HIRATSUKA.code), personal_data)
        await change(client, resident["id"], {"reason": "death"}, personal_data)
        r = await client.post(
            f"/residents/{resident['id']}/changes",
            json={
                "reason": "in_town_move",
                "change_date": TODAY,
                "notified_on": TODAY,
                "address": "どこか",
            },
        )
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "death", "name": "x"},  # a deletion changes no facts
        {"reason": "birth"},  # a recording reason is not a change
        {"reason": "in_town_move"},  # a move needs an address
        {"reason": "name_change", "address": "x"},  # a name change changes the name
    ],
)
async def test_changes_that_do_not_fit_their_reason_are_refused(
    federation: LocalFederation, personal_data: PersonalData, body: dict[str, Any]
) -> None:
    people = SyntheticResidents(seed=9)
    async with federation.client(HIRATSUKA) as client:
        resident = await register(client, people.registration(HIRATSUKA.code), personal_data)
        r = await client.post(
            f"/residents/{resident['id']}/changes", json={"change_date": TODAY, **body}
        )
        assert r.status_code == 422
        after = (await client.get(f"/residents/{resident['id']}")).json()
    assert after["version"] == 1


async def test_the_operator_api_needs_the_token(federation: LocalFederation) -> None:
    async with httpx.AsyncClient(base_url=federation.nodes[AGENCY].url) as client:
        r = await client.post("/records/lookup", json={"resident_code": "12345678903"})
        assert r.status_code == 401
        r = await client.post(
            "/records/lookup",
            json={"resident_code": "12345678903"},
            headers={"Authorization": "Bearer wrong-token-wrong-token"},
        )
        assert r.status_code == 401
        assert (await client.get("/healthz")).status_code == 200


async def test_no_personal_data_reached_any_log(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    assert len(personal_data.values) > 10  # one backend's tests: a worker runs one backend
    assert personal_data.leaks(federation.root / "log") == []
