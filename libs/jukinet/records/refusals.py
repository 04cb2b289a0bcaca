"""Refusals a tier reports: each change (or whole origin message) a prefecture or the
agency refused is dead-lettered there — reason, origin municipality, the town's message
id, the change's correlation id; never content — and told to the town in a signed
``identity.refused`` notice, so the counter sees what the tiers do not hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import BusTables, Rejected, dead_letter_part, enqueue
from jukinet.contracts.principals import Principal
from jukinet.records.errors import RecordRefused
from jukinet.records.store import RefusedChange

__all__ = ["CHANGE_REFUSED", "RefusalNotice", "dead_letter_refused", "notify_refusal", "rejected"]

CHANGE_REFUSED = "identity.refused"  # a tier → the town whose change it refused


class RefusalNotice(BaseModel):
    """What a tier tells the town whose change (or whole message) it refused: the town's
    own message id, the change's correlation id if one change, and the reason code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    correlation_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8,64}$")
    reason: str = Field(pattern=r"^[a-z_]{1,64}$")


def rejected(refused: RecordRefused) -> Rejected:
    """The record store's refusal as the message handler's: the inbox dead-letters it
    with the same reason and detail."""
    return Rejected(refused.reason, refused.detail)


async def dead_letter_refused(
    session: AsyncSession,
    bus: BusTables,
    refused: Sequence[RefusedChange],
    *,
    origin: str,
    message_id: str,
    now: dt.datetime,
) -> None:
    """Dead-letter each refused change by its correlation id, with its reason and the
    origin municipality's message id, and tell that municipality (a signed
    ``identity.refused`` notice), so the refusal is seen at the counter."""
    for r in refused:
        detail = f"change {r.correlation_id}: {r.detail}"
        await dead_letter_part(
            session, bus, sender=origin, message_id=message_id, reason=r.reason,
            detail=detail, now=now,
        )  # fmt: skip
        notice = RefusalNotice(
            message_id=message_id, correlation_id=r.correlation_id, reason=r.reason
        )
        await notify_refusal(session, bus, origin, notice, now=now)


async def notify_refusal(
    session: AsyncSession, bus: BusTables, town: str, notice: RefusalNotice, *, now: dt.datetime
) -> None:
    """Queue a refusal notice to ``town`` in the caller's transaction."""
    await enqueue(
        session, bus, recipient=Principal.municipality(town), message_type=CHANGE_REFUSED,
        payload=notice.model_dump(mode="json"), now=now,
    )  # fmt: skip
