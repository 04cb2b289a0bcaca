"""The outbox's undeliverable items, for operations: list them, put them back in line, or
close them for good. Items are named by their opaque outbox id, recipient and kind; their
content (which may hold personal data) is never shown."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jukinet.node.deps import OperatorAuth, RuntimeDep, SessionDep, guard
from jukinet.node.problems import problem_responses
from jukinet.node.repository import BusRepository
from jukinet.pki import utcnow

__all__ = ["OutboxSelection", "UndeliverableItem", "outbox_router"]

log = logging.getLogger("jukinet.outbox")
OutboxOperator = guard("outbox")


class UndeliverableItem(BaseModel):
    """An outbox item set aside: what and to whom, why and since when; never its content."""

    id: int
    recipient: str
    message_type: str
    reason: str
    created_at: dt.datetime
    set_aside_at: dt.datetime | None


OutboxId = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]  # what the id column can compare


class OutboxSelection(BaseModel):
    """Which set-aside items: the listed ids, or every one for ``recipient``."""

    model_config = ConfigDict(extra="forbid")
    ids: list[OutboxId] = Field(default_factory=list, max_length=10_000)
    recipient: str | None = Field(default=None, max_length=80)

    @model_validator(mode="after")
    def _names_something(self) -> OutboxSelection:
        if not self.ids and self.recipient is None:
            raise ValueError("name the items (ids) or their recipient")
        return self


class Changed(BaseModel):
    count: int


def outbox_router() -> APIRouter:
    router = APIRouter(prefix="/outbox", tags=["operations"])

    @router.get(
        "/undeliverable",
        dependencies=[OperatorAuth],
        responses=problem_responses(401, 403),
        summary="Outbox items set aside as undeliverable",
    )
    async def undeliverable(
        runtime: RuntimeDep,
        session: SessionDep,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> list[UndeliverableItem]:
        bus = runtime.spec.bus
        rows = await BusRepository(session, bus).undeliverable(limit)
        return [
            UndeliverableItem(
                id=r.id,
                recipient=r.recipient,
                message_type=r.message_type,
                reason=r.undeliverable,
                created_at=r.created_at,
                set_aside_at=r.set_aside_at,
            )
            for r in rows
        ]

    @router.post(
        "/retry",
        dependencies=[OutboxOperator],
        responses=problem_responses(401, 403, 422),
        summary="Put set-aside items back in line (they are sealed again in order)",
    )
    async def retry(body: OutboxSelection, runtime: RuntimeDep, session: SessionDep) -> Changed:
        bus = runtime.spec.bus
        count = await BusRepository(session, bus).retry(body.ids, body.recipient)
        log.warning("operator put %d undeliverable outbox item(s) back in line", count)
        return Changed(count=count)

    @router.post(
        "/resolve",
        dependencies=[OutboxOperator],
        responses=problem_responses(401, 403, 422),
        summary="Close set-aside items for good: they never travel",
    )
    async def resolve(body: OutboxSelection, runtime: RuntimeDep, session: SessionDep) -> Changed:
        bus = runtime.spec.bus
        count = await BusRepository(session, bus).resolve(body.ids, body.recipient, now=utcnow())
        log.warning("operator resolved %d undeliverable outbox item(s)", count)
        return Changed(count=count)

    return router
