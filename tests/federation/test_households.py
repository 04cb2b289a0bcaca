"""Households stay consistent (世帯): a 転居 or 転出 can take the whole household along,
each member with their own change upstream; a head who leaves members behind names the
new head in the same request, whose date, notification date and relations are kept;
someone who moves house alone heads a household of their own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from jukinet.devtools.localfed import LocalFederation
from jukinet.devtools.synthetic import SyntheticResidents
from tests.federation.support import PersonalData, eventually, query, tier_record
from tests.principals import AGENCY, HIRATSUKA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

TODAY = dt.date.today().isoformat()
NEW_ADDRESS = "神奈川県平塚市浅間町9番9号"


async def _register(client: httpx.AsyncClient, body: dict[str, Any], pd: PersonalData) -> Any:
    pd.add_body(body)
    r = await client.post("/residents", json=body)
    assert r.status_code == 201, r.text
    pd.add(r.json()["resident_code"])
    return r.json()


async def _family(client: httpx.AsyncClient, pd: PersonalData, seed: int) -> tuple[Any, Any, Any]:
    people = SyntheticResidents(seed=seed)
    head = await _register(client, people.registration(HIRATSUKA.code), pd)
    home = {"household_id": head["household_id"]}
    spouse = await _register(
        client,
        people.registration(HIRATSUKA.code, reason="move_in") | home | {"relation": "妻"},
        pd,
    )
    child = await _register(
        client, people.registration(HIRATSUKA.code) | home | {"relation": "子"}, pd
    )
    return head, spouse, child


async def _change(client: httpx.AsyncClient, who: Any, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/residents/{who['id']}/changes", json=body)


async def test_the_whole_household_moves_house_each_with_its_own_change(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    async with federation.client(HIRATSUKA) as client:
        family = await _family(client, personal_data, seed=701)
        move = {"reason": "in_town_move", "change_date": TODAY, "notified_on": TODAY,
                "address": NEW_ADDRESS, "whole_household": True}  # fmt: skip
        r = await _change(client, family[1], move)  # asked by the spouse: all of them move
        assert r.status_code == 200, r.text
        household = (await client.get(f"/households/{family[0]['household_id']}")).json()
    assert household["address"] == NEW_ADDRESS
    assert household["head_id"] == family[0]["id"]
    assert {m["address"] for m in household["members"]} == {NEW_ADDRESS}
    assert {m["version"] for m in household["members"]} == {2}

    async def upstream() -> bool:
        records = [await tier_record(federation, AGENCY, p["resident_code"]) for p in family]
        return all(
            r is not None and r["record"]["change_reason"] == "in_town_move" and r["version"] == 2
            for r in records
        )

    await eventually(upstream)


async def test_a_head_who_moves_out_names_the_new_head_in_the_same_request(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    async with federation.client(HIRATSUKA) as client:
        head, spouse, child = await _family(client, personal_data, seed=702)
        out = {"reason": "move_out", "change_date": TODAY, "notified_on": TODAY,
               "next_address": "大阪府大阪市北区梅田一丁目1番1号"}  # fmt: skip
        refused = await _change(client, head, out)
        assert (refused.status_code, refused.json()["reason"]) == (409, "head_leaves")
        assert (await client.get(f"/residents/{head['id']}")).json()["status"] == "live"
        out["new_head"] = {"resident_id": spouse["id"], "change_date": TODAY,
                           "notified_on": TODAY, "relations": {child["id"]: "子"}}  # fmt: skip
        r = await _change(client, head, out)
        assert r.status_code == 200, r.text
        household = (await client.get(f"/households/{head['household_id']}")).json()
    assert household["head_id"] == spouse["id"]
    assert {m["id"]: m["relation"] for m in household["members"]} == {
        spouse["id"]: "世帯主", child["id"]: "子"
    }  # fmt: skip
    kept = await query(
        federation, HIRATSUKA,
        "SELECT previous_head_id, head_id, change_date, notified_on FROM household_changes "
        "WHERE household_id = :h", h=head["household_id"],
    )  # fmt: skip
    assert [(r[0], r[1], str(r[2]), str(r[3])) for r in kept] == [
        (head["id"], spouse["id"], TODAY, TODAY)
    ]


async def test_moving_house_alone_makes_a_household_of_ones_own(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    async with federation.client(HIRATSUKA) as client:
        head, _, child = await _family(client, personal_data, seed=703)
        move = {"reason": "in_town_move", "change_date": TODAY, "notified_on": TODAY,
                "address": NEW_ADDRESS}  # fmt: skip
        r = await _change(client, child, move)
        assert r.status_code == 200, r.text
        moved = (await client.get(f"/residents/{child['id']}")).json()
        old = (await client.get(f"/households/{head['household_id']}")).json()
        new = (await client.get(f"/households/{moved['household_id']}")).json()
        needless = await _change(client, head, {**move, "new_head": {
            "resident_id": child["id"], "change_date": TODAY}})  # fmt: skip
    assert moved["household_id"] != head["household_id"]
    assert moved["relation"] == "世帯主"
    assert new["head_id"] == child["id"]
    assert new["address"] == NEW_ADDRESS
    assert child["id"] not in {m["id"] for m in old["members"]}
    assert needless.status_code == 409  # the head leaves the spouse: new head from them only


async def test_chosen_members_move_out_together_and_the_head_rule_still_holds(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    out = {"reason": "move_out", "change_date": TODAY, "notified_on": TODAY,
           "next_address": "大阪府大阪市北区梅田一丁目1番1号"}  # fmt: skip
    async with federation.client(HIRATSUKA) as client:
        head, spouse, child = await _family(client, personal_data, seed=704)
        r = await _change(client, spouse, out | {"members": [child["id"]]})
        assert r.status_code == 200, r.text
        household = (await client.get(f"/households/{head['household_id']}")).json()
        assert [m["id"] for m in household["members"]] == [head["id"]]
        gone = (await client.get(f"/residents/{child['id']}")).json()
        assert (gone["status"], gone["change_reason"]) == ("deleted", "move_out")

        head2, spouse2, child2 = await _family(client, personal_data, seed=705)
        leaving = out | {"members": [child2["id"]]}
        refused = await _change(client, head2, leaving)
        assert (refused.status_code, refused.json()["reason"]) == (409, "head_leaves")
        stranger = await _change(client, head2, out | {"members": [head["id"]]})
        assert (stranger.status_code, stranger.json()["reason"]) == (422, "not_member")
        leaving["new_head"] = {"resident_id": spouse2["id"], "change_date": TODAY}
        r = await _change(client, head2, leaving)
        assert r.status_code == 200, r.text
        left = (await client.get(f"/households/{head2['household_id']}")).json()
    assert (left["head_id"], [m["id"] for m in left["members"]]) == (spouse2["id"], [spouse2["id"]])


async def test_chosen_members_move_house_together_into_a_household_of_their_own(
    federation: LocalFederation, personal_data: PersonalData
) -> None:
    """A 転居 with chosen members: they and the resident head a household at the new
    address, each with the relation given; the head who moves names the new head of
    those who stay; relations missing, or everyone named, are refused."""
    move = {"reason": "in_town_move", "change_date": TODAY, "notified_on": TODAY,
            "address": NEW_ADDRESS}  # fmt: skip
    async with federation.client(HIRATSUKA) as client:
        head, spouse, child = await _family(client, personal_data, seed=706)
        no_relation = await _change(client, head, move | {"members": [child["id"]]})
        assert no_relation.status_code == 422
        everyone = move | {"members": [spouse["id"], child["id"]],
                           "relations": {spouse["id"]: "妻", child["id"]: "子"}}  # fmt: skip
        refused = await _change(client, head, everyone)
        assert (refused.status_code, refused.json()["reason"]) == (422, "everyone_moves")
        with_child = move | {"members": [child["id"]], "relations": {child["id"]: "子"}}
        no_head = await _change(client, head, with_child)
        assert (no_head.status_code, no_head.json()["reason"]) == (409, "head_leaves")
        with_child["new_head"] = {"resident_id": spouse["id"], "change_date": TODAY}
        r = await _change(client, head, with_child)
        assert r.status_code == 200, r.text

        moved = (await client.get(f"/residents/{head['id']}")).json()
        new_home = (await client.get(f"/households/{moved['household_id']}")).json()
        assert new_home["head_id"] == head["id"]
        assert new_home["address"] == NEW_ADDRESS
        relations = {m["id"]: (m["relation"], m["address"]) for m in new_home["members"]}
        assert relations == {head["id"]: ("世帯主", NEW_ADDRESS), child["id"]: ("子", NEW_ADDRESS)}
        old_home = (await client.get(f"/households/{head['household_id']}")).json()
        assert old_home["head_id"] == spouse["id"]
        assert [m["id"] for m in old_home["members"]] == [spouse["id"]]
        assert old_home["address"] != NEW_ADDRESS  # those who stay, stay
        history = (await client.get(f"/residents/{child['id']}/history")).json()
    assert history[-1]["change_reason"] == "in_town_move"  # the child's own change
