"""Every change to a resident leaves the same traces, in the change's transaction: a
history row (with the register's own detail of the change) and the identity change in
the outbox, addressed to the prefecture."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import enqueue
from jukinet.contracts.identity import (
    CHANGE_MESSAGE_TYPE,
    ChangeReason,
    IdentityChange,
    IdentityRecord,
    Sex,
)
from jukinet.contracts.principals import Principal
from jukinet.contracts.residency import residency_of
from jukinet.pki import utcnow
from municipal.models import Resident, ResidentVersion, bus
from municipal.residents.repository import ResidentRepository

__all__ = ["emit", "identity_record"]

log = logging.getLogger("jukinet.municipal")


def identity_record(node: Principal, resident: Resident) -> IdentityRecord:
    return IdentityRecord(
        resident_code=resident.resident_code,
        municipality=node.code,
        name=resident.name,
        name_kana=resident.name_kana,
        **residency_of(resident),
        birth_date=resident.birth_date,
        sex=Sex(resident.sex),
        address=resident.address,
        change_reason=ChangeReason(resident.change_reason),
        change_date=resident.change_date,
    )


async def emit(
    session: AsyncSession,
    node: Principal,
    resident: Resident,
    *,
    previous_code: str | None = None,
    previous_municipality: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """The history row and the outbox item, in the same transaction as the change."""
    record = identity_record(node, resident)
    change = IdentityChange(
        record=record,
        version=resident.version,
        previous_code=previous_code,
        previous_municipality=previous_municipality,
        correlation_id=uuid.uuid4().hex,
    )
    await ResidentRepository(session).add_version(
        ResidentVersion(
            resident_id=resident.id,
            version=resident.version,
            resident_code=resident.resident_code,
            change_reason=resident.change_reason,
            change_date=resident.change_date,
            record=record.model_dump_json(),
            correlation_id=change.correlation_id,
            recorded_at=utcnow(),
            detail=json.dumps(detail, ensure_ascii=False) if detail else None,
        )
    )
    log.info(
        "change recorded",
        extra={"correlation_id": change.correlation_id, "version": change.version},
    )
    await enqueue(
        session,
        bus,
        recipient=node.prefecture_of,
        message_type=CHANGE_MESSAGE_TYPE,
        payload=change.model_dump(mode="json", exclude_none=True),
    )
