"""Households (世帯): who heads each and how members relate to the head. Register-only
facts: they never travel on the network (only a nationwide copy may carry a relation)."""

from __future__ import annotations

import json
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import ChangeReason
from jukinet.node.problems import Conflict, NotFound
from jukinet.pki import utcnow
from municipal.models import Household, Resident
from municipal.residents.repository import HouseholdRepository, ResidentRepository
from municipal.residents.schemas import HEAD, HistoryOut, MoveHousehold

__all__ = ["change_head", "history", "household_of", "move_household"]


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


async def change_head(session: AsyncSession, household_id: str, resident_id: str) -> Household:
    """世帯主変更: a live member becomes the head."""
    household, members = await household_of(session, household_id)
    head = next((m for m in members if m.id == resident_id), None)
    if head is None:
        raise Conflict("the new head must be a live member of the household")
    household.head_id, head.relation = head.id, HEAD
    return household


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
