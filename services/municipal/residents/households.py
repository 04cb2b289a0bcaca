"""Households (世帯): who heads each and how members relate to the head. Register-only
facts: they never travel on the network (only a nationwide copy may carry a relation)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import ChangeCategory, ChangeReason
from jukinet.node.problems import Conflict, NotFound, Problem
from jukinet.pki import utcnow
from municipal.models import Household, HouseholdChange, Resident
from municipal.residents.repository import HouseholdRepository, ResidentRepository
from municipal.residents.schemas import HEAD, ChangeResident, HistoryOut, MoveHousehold, NewHead

__all__ = [
    "HeadLeaves",
    "Unprocessable",
    "change_head",
    "history",
    "household_of",
    "move_household",
    "new_household",
    "plan",
    "settle",
]


async def household_of(
    session: AsyncSession, household_id: str
) -> tuple[Household, list[Resident]]:
    household = await HouseholdRepository(session).get(household_id)
    if household is None:
        raise NotFound("no such household in this municipality")
    return household, await ResidentRepository(session).live_members(household_id)


async def move_household(session: AsyncSession, resident: Resident, body: MoveHousehold) -> None:
    """世帯変更: join another household, or head a new one at the resident's address."""
    if resident.status != "live":
        raise Conflict("a deleted record can no longer be changed")
    if body.household_id is None:
        household = Household(
            id=uuid.uuid4().hex, head_id=resident.id, address=resident.address, created_at=utcnow()
        )
        HouseholdRepository(session).add(household)
        resident.household_id, resident.relation = household.id, HEAD
        return
    await household_of(session, body.household_id)
    resident.household_id, resident.relation = body.household_id, body.relation


async def change_head(
    session: AsyncSession, household_id: str, body: NewHead, actor: str
) -> Household:
    """世帯主変更: a live member becomes the head; the relations given (続柄 to the new
    head) are set, and a previous head who stays must be given one; the change, its
    dates and who recorded it are kept."""
    household, members = await household_of(session, household_id)
    by_id = {m.id: m for m in members}
    head = by_id.get(body.resident_id)
    if head is None:
        raise Conflict("the new head must be a live member of the household")
    if not set(body.relations) <= set(by_id):
        raise Conflict("relations name live members of the household only")
    previous = household.head_id
    if previous in by_id and previous != head.id and previous not in body.relations:
        raise Conflict("the previous head stays: give their relation to the new head")
    for member_id, relation in body.relations.items():
        by_id[member_id].relation = relation
    household.head_id, head.relation = head.id, HEAD
    session.add(
        HouseholdChange(
            household_id=household.id, previous_head_id=previous, head_id=head.id,
            change_date=body.change_date, notified_on=body.notified_on, actor=actor,
            recorded_at=utcnow(),
        )
    )  # fmt: skip
    return household


def new_household(session: AsyncSession, resident: Resident) -> Household:
    """The resident heads a household of their own at their address (世帯分離)."""
    household = Household(
        id=uuid.uuid4().hex, head_id=resident.id, address=resident.address, created_at=utcnow()
    )
    HouseholdRepository(session).add(household)
    resident.household_id, resident.relation = household.id, HEAD
    return household


class Unprocessable(Problem):
    status, type, title = 422, "household-change-invalid", "The household change is not valid"
    reasons: ClassVar[Mapping[str, str]] = {
        "not_member": "members are other live members of the household, each once",
        "everyone_moves": "every member moves: give whole_household instead of members",
    }


class HeadLeaves(Conflict):
    type = "head-leaves"
    title = "The head leaves members behind"
    reasons: ClassVar[Mapping[str, str]] = {
        "head_leaves": "the head leaves members behind: name the new head in new_head"
    }


async def plan(
    session: AsyncSession, resident: Resident, body: ChangeResident
) -> tuple[Household | None, list[Resident]]:
    """Before a change: the resident's household and the members who change with them
    (the whole household, for a 転居 or 転出 that takes it along). A head who leaves
    members behind — moving out, dying, deleted, or moving house alone — must name the
    new head in the same request."""
    household = await HouseholdRepository(session).get(resident.household_id or "")
    if household is None:
        return None, []
    live = await ResidentRepository(session).live_members(household.id)
    others = [m for m in live if m.id != resident.id]
    if body.whole_household:
        return household, others
    along = _chosen(others, body.members or [])
    leaving = {resident.id, *(m.id for m in along)}
    stays = [m for m in others if m.id not in leaving]
    if along and not stays and body.reason is ChangeReason.IN_TOWN_MOVE:
        raise Unprocessable(
            "every member moves: give whole_household instead of members",
            reason="everyone_moves",
        )
    head_leaves = household.head_id in leaving and stays and _leaves(body)
    if head_leaves and body.new_head is None:
        raise HeadLeaves(
            "the head leaves members behind: name the new head (世帯主変更) in new_head",
            reason="head_leaves",
        )
    if body.new_head is not None and not head_leaves:
        raise Unprocessable("new_head is given only when the head leaves members behind")
    return household, along


def _chosen(others: list[Resident], members: list[str]) -> list[Resident]:
    """The members named to move along: live members of the same household, each once."""
    wanted = set(members)
    chosen = [m for m in others if m.id in wanted]
    if len(chosen) != len(wanted) or len(wanted) != len(members):
        raise Unprocessable(
            "members are other live members of the household, each once", reason="not_member"
        )
    return chosen


async def settle(
    session: AsyncSession,
    resident: Resident,
    household: Household | None,
    body: ChangeResident,
    actor: str,
) -> None:
    """After the change: a household moving together takes its new address; a head who
    left hands over to the new head; someone who moved house alone heads a household of
    their own at the new address."""
    if household is None:
        return
    moved_house = body.reason is ChangeReason.IN_TOWN_MOVE
    if body.whole_household:
        if moved_house and body.address is not None:
            household.address = body.address
        return
    if moved_house and resident.household_id == household.id:
        await _moved_house(session, resident, household, body)
    if body.new_head is not None:
        await change_head(session, household.id, body.new_head, actor)


async def _moved_house(
    session: AsyncSession, resident: Resident, household: Household, body: ChangeResident
) -> None:
    """A 転居 without the whole household: the head of a one-person household takes it
    along; otherwise the resident heads a household at the new address, joined by the
    members who moved with them, each with the relation given."""
    if household.head_id == resident.id and body.new_head is None and not body.members:
        household.address = resident.address
        return
    moved = new_household(session, resident)
    movers = {m.id: m for m in await ResidentRepository(session).live_members(household.id)}
    for member_id, relation in (body.relations or {}).items():
        member = movers[member_id]
        member.household_id, member.relation = moved.id, relation


def _leaves(body: ChangeResident) -> bool:
    return body.reason.category is ChangeCategory.DELETE or body.reason is ChangeReason.IN_TOWN_MOVE


async def history(session: AsyncSession, resident_id: str) -> list[HistoryOut]:
    """Every version, oldest first: a correction adds a version, the old one stays."""
    return [
        HistoryOut(
            version=v.version,
            change_reason=ChangeReason(v.change_reason),
            change_date=v.change_date,
            resident_code=v.resident_code,
            record=json.loads(v.record),
            detail=json.loads(v.detail) if v.detail else None,
            recorded_at=v.recorded_at,
        )
        for v in await ResidentRepository(session).versions(resident_id)
    ]
