"""The municipality as the source of truth for reconciliation: its entries, and repairs
sent through the normal signed channel."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import enqueue
from jukinet.contracts.identity import ResidentCode
from jukinet.contracts.principals import Principal
from jukinet.node.deps import SessionDep, StateDep, guard
from jukinet.node.problems import Forbidden, problem_responses
from jukinet.reconcile.digests import REPAIR_MESSAGE_TYPE, Entry, RepairPayload, RepairRecord, entry
from municipal.models import bus
from municipal.residents.emit import identity_record
from municipal.residents.repository import ResidentRepository

Reconciler = guard("reconcile")

__all__ = ["municipal_entries", "repair_router"]

log = logging.getLogger("jukinet.municipal.reconcile")


async def municipal_entries(
    session: AsyncSession, node: Principal, municipality: str, bucket: str | None
) -> list[Entry]:
    if municipality != node.code:
        raise Forbidden("a municipality reconciles only its own register")
    # the moved out are left out, as in tier_entries: they belong to the new town
    residents = await ResidentRepository(session).reconcilable(bucket)
    out = []
    for resident in residents:
        record = identity_record(node, resident).model_dump()
        out.append(entry(record, version=resident.version, status=resident.status))
    return out


class RepairRequest(BaseModel):
    """The resident codes whose records the tiers should have as this register has them."""

    model_config = ConfigDict(extra="forbid")
    codes: list[ResidentCode] = Field(
        min_length=1,
        max_length=10_000,
        description="1 to 10,000 resident codes (住民票コード), e.g. those reconciliation "
        "found to differ.",
        examples=[["12345678903", "23456789013"]],
    )


repair_router = APIRouter(
    prefix="/reconcile", tags=["reconciliation"], dependencies=[guard("reconcile")]
)


@repair_router.post(
    "/repair",
    status_code=202,
    responses=problem_responses(401, 403, 422),
    summary="Send the register's own state of these codes to the prefecture (and on to the agency)",
    description="Sends the prefecture, through the signed outbox, each code's current "
    "record and version as this register holds it, and the codes it does not hold "
    "(absent); answers how many of each were sent. Administrators and the node's token "
    "only.",
)
async def repair(body: RepairRequest, session: SessionDep, state: StateDep) -> dict[str, int]:
    node = state.node
    codes = sorted(set(body.codes))
    found = {r.resident_code: r for r in await ResidentRepository(session).with_codes(codes)}
    payload = RepairPayload(
        records=[
            RepairRecord(record=identity_record(node, r), version=r.version) for r in found.values()
        ],
        absent=[c for c in codes if c not in found],
    )
    await enqueue(
        session, bus, recipient=node.prefecture_of, message_type=REPAIR_MESSAGE_TYPE,
        payload=payload.model_dump(mode="json"),
    )  # fmt: skip
    metrics = state.metrics
    metrics.reconciliations.labels("repaired").inc(len(found))
    metrics.reconciliations.labels("absent").inc(len(payload.absent))
    log.info("repair sent", extra={"count": len(codes)})
    return {"records": len(found), "absent": len(payload.absent)}
