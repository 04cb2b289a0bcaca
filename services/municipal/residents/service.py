"""Recording, modifying and deleting residents: each change, its history row and its
outbox item commit together (the caller's transaction)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import enqueue
from jukinet.identity import (
    CHANGE_MESSAGE_TYPE,
    ChangeCategory,
    ChangeReason,
    IdentityChange,
    IdentityRecord,
    Sex,
)
from jukinet.pki import utcnow
from jukinet.principals import Principal
from jukinet.problems import Conflict, NotFound
from municipal.codes import draw_code
from municipal.models import Resident, ResidentVersion, bus
from municipal.residents.schemas import ChangeResident, RegisterResident

__all__ = ["ResidentDeleted", "apply_change", "get_resident", "register"]

log = logging.getLogger("jukinet.municipal")


class ResidentDeleted(Conflict):
    type = "resident-deleted"
    title = "The resident's record is deleted (消除)"


async def register(session: AsyncSession, node: Principal, body: RegisterResident) -> Resident:
    now = utcnow()
    resident = Resident(
        id=uuid.uuid4().hex,
        resident_code=await draw_code(session),
        name=body.name,
        name_kana=body.name_kana,
        birth_date=body.birth_date,
        sex=body.sex.value,
        address=body.address,
        change_reason=body.reason.value,
        change_date=body.change_date,
        status="live",
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(resident)
    await _emit(session, node, resident, previous_code=None)
    return resident


async def get_resident(session: AsyncSession, resident_id: str) -> Resident:
    resident = await session.get(Resident, resident_id)
    if resident is None:
        raise NotFound("no such resident in this municipality")
    return resident


async def apply_change(
    session: AsyncSession, node: Principal, resident_id: str, body: ChangeResident
) -> Resident:
    resident = await session.get(Resident, resident_id, with_for_update=True)
    if resident is None:
        raise NotFound("no such resident in this municipality")
    if resident.status != "live":
        raise ResidentDeleted("a deleted record can no longer be changed")
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
    resident.change_reason = body.reason.value
    resident.change_date = body.change_date
    if body.reason.category is ChangeCategory.DELETE:
        resident.status = "deleted"
    resident.version += 1
    resident.updated_at = utcnow()
    await _emit(session, node, resident, previous_code=previous_code)
    return resident


def identity_record(node: Principal, resident: Resident) -> IdentityRecord:
    return IdentityRecord(
        resident_code=resident.resident_code,
        municipality=node.code,
        name=resident.name,
        name_kana=resident.name_kana,
        birth_date=resident.birth_date,
        sex=Sex(resident.sex),
        address=resident.address,
        change_reason=ChangeReason(resident.change_reason),
        change_date=resident.change_date,
    )


async def _emit(
    session: AsyncSession, node: Principal, resident: Resident, previous_code: str | None
) -> None:
    """The history row and the outbox item, in the same transaction as the change."""
    record = identity_record(node, resident)
    change = IdentityChange(
        record=record,
        version=resident.version,
        previous_code=previous_code,
        correlation_id=uuid.uuid4().hex,
    )
    session.add(
        ResidentVersion(
            resident_id=resident.id,
            version=resident.version,
            resident_code=resident.resident_code,
            change_reason=resident.change_reason,
            change_date=resident.change_date,
            record=record.model_dump_json(),
            correlation_id=change.correlation_id,
            recorded_at=utcnow(),
        )
    )
    await session.flush()
    log.info(
        "change recorded",
        extra={"correlation_id": change.correlation_id, "version": change.version},
    )
    await enqueue(
        session,
        bus,
        recipient=node.prefecture_of,
        message_type=CHANGE_MESSAGE_TYPE,
        payload=change.model_dump(mode="json"),
    )
