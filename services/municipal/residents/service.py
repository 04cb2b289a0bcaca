"""Recording, modifying and deleting residents: each change, its history row and its
outbox items commit together (the caller's transaction).

A move-in from another municipality keeps the person's code and sends that municipality
a 転入通知 (see municipal.moves); a move-in by someone who once lived here reopens their
old record, so one person has one record and one history per municipality.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import ChangeCategory, ChangeReason
from jukinet.contracts.principals import Principal
from jukinet.node.problems import Conflict, NotFound, Problem
from jukinet.pki import utcnow
from municipal.codes import draw_code
from municipal.models import Household, Resident
from municipal.moveouts.cards import revoke_cards
from municipal.moveouts.certificate import close_certificate, from_certificate, take_certificate
from municipal.moves import send_move_in_notice
from municipal.numbers import request_number
from municipal.residents import households
from municipal.residents.emit import emit
from municipal.residents.repository import HouseholdRepository, ResidentRepository
from municipal.residents.residency import change_residency, record_residency
from municipal.residents.schemas import HEAD, ChangeResident, RegisterResident

__all__ = [
    "AlreadyRegistered",
    "CodeMismatch",
    "OwnMunicipality",
    "ResidentDeleted",
    "apply_change",
    "get_resident",
    "register",
]

log = logging.getLogger("jukinet.municipal")


class ResidentDeleted(Conflict):
    type = "resident-deleted"
    title = "The resident's record is deleted (消除)"


class CodeMismatch(Conflict):
    type = "code-mismatch"
    title = "The resident code does not fit this person"


class OwnMunicipality(Problem):
    status, type, title = 422, "own-municipality", "A move-in comes from another municipality"


class AlreadyRegistered(Conflict):
    type = "already-registered"
    title = "The person is already registered here"


async def register(
    session: AsyncSession, node: Principal, body: RegisterResident, actor: str
) -> Resident:
    if body.previous_municipality == node.code:
        raise OwnMunicipality("a move within the town is a 転居, not a move-in")
    notice = None
    if body.move_out_notice_id is not None:  # 転出届の特例: the certificate states the rest
        notice = await take_certificate(session, body, utcnow().date())
        body = from_certificate(body, notice[1])
    resident = await _reopened(session, body) or Resident(id=uuid.uuid4().hex, version=0)
    resident.resident_code = body.resident_code or await draw_code(session)
    if body.resident_code is None:  # a code drawn here: the agency generates the number
        await request_number(session, resident.resident_code, "new", utcnow())
        resident.number_requested_at = utcnow()
    elif body.individual_number is not None:  # brought on the 転出証明書
        await _check_number_free(session, body.individual_number, resident.id)
        resident.individual_number = body.individual_number
    for field in ("name", "name_kana", "birth_date", "address", "notified_on"):
        setattr(resident, field, getattr(body, field))
    for field in ("previous_address", "previous_municipality"):
        setattr(resident, field, getattr(body, field))
    await record_residency(session, resident, body, node.code)
    resident.registered_domicile = body.registered_domicile
    resident.family_register_head = body.family_register_head
    resident.sex = body.sex.value
    resident.change_reason = body.reason.value
    resident.change_date = body.change_date
    resident.became_resident_on = body.change_date
    resident.next_address = resident.next_municipality = None
    resident.status = "live"
    resident.version += 1
    resident.created_at = resident.created_at or utcnow()
    resident.updated_at = utcnow()
    await _join_household(session, resident, body.household_id, body.relation or HEAD)
    ResidentRepository(session).add(resident)
    detail = _detail(body, actor, ("notified_on", "previous_address", "previous_municipality"))
    await emit(session, node, resident, previous_municipality=body.previous_municipality,
               detail=detail)  # fmt: skip
    if body.previous_municipality is not None:
        previous = Principal.municipality(body.previous_municipality)
        await send_move_in_notice(session, node, resident, previous)
    if notice is not None:
        await close_certificate(session, *notice, resident)
    return resident


class NumberTaken(Conflict):
    type = "individual-number-taken"
    title = "Another resident of this register has that individual number"


async def _check_number_free(session: AsyncSession, number: str, resident_id: str) -> None:
    """A 転出証明書's number mistyped into another resident's is caught here, not by the
    database (the value is never named)."""
    holder = await session.scalar(
        select(Resident.id).where(Resident.individual_number == number, Resident.id != resident_id)
    )
    if holder is not None:
        raise NumberTaken("the individual number given is another resident's")


async def _reopened(session: AsyncSession, body: RegisterResident) -> Resident | None:
    """The earlier record of someone moving back in with their code, if any: only a
    record closed by a move-out, and only of the same person (birth date and sex)."""
    if body.resident_code is None:
        return None
    earlier = await ResidentRepository(session).with_code_for_update(body.resident_code)
    if earlier is None:
        return None
    if earlier.status == "live":
        raise AlreadyRegistered("a live record with this resident code exists here")
    same = (earlier.birth_date, earlier.sex) == (body.birth_date, body.sex.value)
    if earlier.change_reason != ChangeReason.MOVE_OUT.value or not same:
        raise CodeMismatch("the resident code belongs to a closed record of another kind")
    return earlier


async def _join_household(
    session: AsyncSession, resident: Resident, household_id: str | None, relation: str
) -> None:
    households = HouseholdRepository(session)
    if household_id is None:
        household = Household(
            id=uuid.uuid4().hex, head_id=resident.id, address=resident.address, created_at=utcnow()
        )
        households.add(household)
        resident.household_id, resident.relation = household.id, HEAD
        return
    if await households.get(household_id) is None:
        raise NotFound("no such household in this municipality")
    resident.household_id, resident.relation = household_id, relation


async def get_resident(session: AsyncSession, resident_id: str) -> Resident:
    resident = await ResidentRepository(session).get(resident_id)
    if resident is None:
        raise NotFound("no such resident in this municipality")
    return resident


async def apply_change(
    session: AsyncSession, node: Principal, resident_id: str, body: ChangeResident, actor: str
) -> Resident:
    """The change for the resident, and for every member a 転居 or 転出 takes along (each
    with their own version, history and identity change upstream); then the household
    follows (see :mod:`municipal.residents.households`)."""
    resident = await ResidentRepository(session).get(resident_id, for_update=True)
    if resident is None:
        raise NotFound("no such resident in this municipality")
    if resident.status != "live":
        raise ResidentDeleted("a deleted record can no longer be changed")
    household, along = await households.plan(session, resident, body)
    for person in (resident, *along):
        await _apply_one(session, node, person, body, actor)
    await households.settle(session, resident, household, body, actor)
    return resident


async def _apply_one(
    session: AsyncSession, node: Principal, resident: Resident, body: ChangeResident, actor: str
) -> None:
    previous_code = None
    if body.reason is ChangeReason.CODE_CHANGE:
        previous_code = resident.resident_code
        resident.resident_code = await draw_code(session)
    for field in ("name", "name_kana", "address", "birth_date"):
        value = getattr(body, field)
        if value is not None:
            setattr(resident, field, value)
    if body.sex is not None:
        resident.sex = body.sex.value
    await change_residency(session, resident, body, node.code)
    if body.reason is ChangeReason.MOVE_OUT:
        resident.next_address, resident.next_municipality = (
            body.next_address,
            body.next_municipality,
        )
    resident.change_reason = body.reason.value
    resident.change_date = body.change_date
    resident.notified_on = body.notified_on
    if body.reason.category is ChangeCategory.DELETE:
        resident.status = "deleted"
        await revoke_cards(session, resident.id, utcnow())  # a card signs for a resident here
    resident.version += 1
    resident.updated_at = utcnow()
    detail = _detail(body, actor, ("notified_on", "next_address", "next_municipality"))
    await emit(session, node, resident, previous_code=previous_code, detail=detail)


def _detail(body: Any, actor: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """What the register keeps about a change besides the identity record."""
    doc = {f: getattr(body, f) for f in fields if getattr(body, f) is not None}
    return {**{k: str(v) for k, v in doc.items()}, "operator": actor}
