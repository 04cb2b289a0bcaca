"""The household rules a change request must keep before it reaches the register (the
rules that need the register — who is a member, who heads — are in
tests/federation/test_households.py): who may go along, and with what."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from municipal.residents.schemas import ChangeResident, NewHead

TODAY = "2026-11-01"
A, B = "a" * 32, "b" * 32
ON = {"change_date": TODAY, "notified_on": TODAY}
MOVE = {"reason": "in_town_move", "address": "神奈川県平塚市浅間町1番1号"} | ON
OUT = {"reason": "move_out", "next_address": "大阪府大阪市北区梅田1番1号"} | ON
DEATH = {"reason": "death"} | ON


@pytest.mark.parametrize(
    "body",
    [
        MOVE | {"whole_household": True},
        OUT | {"whole_household": True},
        OUT | {"members": [A, B]},
        MOVE | {"members": [A], "relations": {A: "子"}},
        DEATH | {"new_head": {"resident_id": A, "change_date": TODAY, "relations": {B: "子"}}},
        OUT | {"members": [A], "new_head": {"resident_id": B, "change_date": TODAY}},
    ],
    ids=["move-all", "out-all", "out-chosen", "move-chosen", "death-new-head", "out-new-head"],
)
def test_a_household_change_that_keeps_the_rules_is_accepted(body: dict[str, Any]) -> None:
    ChangeResident.model_validate(body)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (DEATH | {"whole_household": True}, "only a 転居 or a 転出"),
        (DEATH | {"members": [A]}, "chosen members move with a 転居 or 転出"),
        (OUT | {"whole_household": True, "members": [A]}, "chosen members"),
        (MOVE | {"whole_household": True, "new_head": {"resident_id": A, "change_date": TODAY}},
         "keeps its head"),
        (MOVE | {"members": [A]}, "gives each member's relation"),
        (MOVE | {"members": [A, B], "relations": {A: "子"}}, "gives each member's relation"),
        (OUT | {"members": [A], "relations": {A: "子"}}, "relations belong to a 転居"),
        (OUT | {"members": ["not-an-id"]}, "members are given by resident id"),
    ],
    ids=["death-whole", "death-members", "whole-and-members", "whole-new-head",
         "move-no-relation", "move-missing-relation", "out-relations", "bad-member-id"],
)  # fmt: skip
def test_a_household_change_that_breaks_a_rule_is_refused(body: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        ChangeResident.model_validate(body)


@pytest.mark.parametrize(
    ("head", "says"),
    [
        ({"resident_id": A, "change_date": TODAY, "relations": {A: "子"}}, "世帯主"),
        ({"resident_id": A, "change_date": TODAY, "notified_on": "2026-10-01"}, "notified_on"),
        ({"resident_id": A, "change_date": TODAY, "relations": {"x": "子"}}, "member id"),
    ],
    ids=["new-head-given-a-relation", "notified-before-the-change", "relation-not-by-id"],
)
def test_a_new_head_keeps_its_own_rules(head: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        NewHead.model_validate(head)
