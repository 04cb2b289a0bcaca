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


_RECIPIENT = "spiffe://jukinet/prefecture/140007"


class UndeliverableItem(BaseModel):
    """An outbox item set aside: what and to whom, why and since when; never its content."""

    id: int = Field(description="The outbox item's opaque id.", examples=[1042])
    recipient: str = Field(
        description="The principal the item is addressed to.", examples=[_RECIPIENT]
    )
    message_type: str = Field(
        description="The kind of message the item would travel in.",
        examples=["identity.change"],
    )
    reason: str = Field(
        description="Why it was set aside: `no_recipient_certificate` or "
        "`recipient_certificate_invalid` (back in line by themselves once the recipient's "
        "certificate is there), `bad_recipient` or `seal_failed` (waiting for an operator).",
        examples=["seal_failed"],
    )
    created_at: dt.datetime = Field(
        description="When the item was queued (UTC).", examples=["2026-04-01T01:30:00Z"]
    )
    set_aside_at: dt.datetime | None = Field(
        description="When it was set aside (UTC), where recorded.",
        examples=["2026-04-01T01:30:05Z"],
    )


OutboxId = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]  # what the id column can compare


class OutboxSelection(BaseModel):
    """Which set-aside items: the listed ids, or every one for ``recipient`` (both given:
    the listed ids that are addressed to ``recipient``). At least one of the two."""

    model_config = ConfigDict(extra="forbid")
    ids: list[OutboxId] = Field(
        default_factory=list,
        max_length=10_000,
        description="Up to 10,000 outbox item ids, as /outbox/undeliverable lists them.",
        examples=[[1042, 1043]],
    )
    recipient: str | None = Field(
        default=None,
        max_length=80,
        pattern=r"^spiffe://jukinet/[a-z0-9/._-]+$",  # a principal URI: no NUL for the database
        description="Every set-aside item addressed to this principal.",
        examples=[_RECIPIENT],
    )

    @model_validator(mode="after")
    def _names_something(self) -> OutboxSelection:
        if not self.ids and self.recipient is None:
            raise ValueError("name the items (ids) or their recipient")
        return self


class Changed(BaseModel):
    """How many set-aside items the request changed."""

    count: int = Field(
        description="Items changed: only those set aside and not yet resolved count.",
        examples=[2],
    )


_LIMIT = Query(ge=1, le=10_000, description="At most this many items.", examples=[1000])
_SELECTION = (
    " Only items set aside and not resolved are touched; others named are left alone. "
    "Administrators and the node's token only; refused (422) when the body names neither "
    "ids nor a recipient."
)


def outbox_router() -> APIRouter:
    router = APIRouter(prefix="/outbox", tags=["operations"])

    @router.get(
        "/undeliverable",
        dependencies=[OperatorAuth],
        responses=problem_responses(401, 403, 422),
        summary="Outbox items set aside as undeliverable",
        description="The outbox items the relay set aside and no operator has resolved, "
        "oldest first: id, recipient, message type, reason and times; never the content. "
        "Administrators, auditors and the node's token only.",
    )
    async def undeliverable(
        runtime: RuntimeDep, session: SessionDep, limit: Annotated[int, _LIMIT] = 1000
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
        description="Clears the selected items' undeliverable mark: the relay seals and "
        "sends them again, in their original order; answers how many were put back." + _SELECTION,
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
        description="Marks the selected items resolved: they are never sent, and no "
        "longer listed or counted as undeliverable; answers how many were closed." + _SELECTION,
    )
    async def resolve(body: OutboxSelection, runtime: RuntimeDep, session: SessionDep) -> Changed:
        bus = runtime.spec.bus
        count = await BusRepository(session, bus).resolve(body.ids, body.recipient, now=utcnow())
        log.warning("operator resolved %d undeliverable outbox item(s)", count)
        return Changed(count=count)

    return router
