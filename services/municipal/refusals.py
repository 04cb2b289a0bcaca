"""Refusals from upstream: a prefecture or the agency tells this town which of its
changes (or whole messages) it refused, by the town's own message id, the change's
correlation id and a reason code. Each is recorded with this node's dead letters, so the
counter sees at once what the tiers do not hold (reconciliation shows the same codes).
"""

from __future__ import annotations

import logging

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import Rejected, dead_letter_part
from jukinet.contracts.identity import summarize
from jukinet.contracts.principals import AGENCY
from jukinet.envelope import SignedMessage
from jukinet.pki import utcnow
from jukinet.records.refusals import RefusalNotice
from municipal.models import bus

__all__ = ["record_refusals"]

log = logging.getLogger("jukinet.municipal.refusals")
_NOTICES = TypeAdapter(list[RefusalNotice])
MAX_NOTICES = 1000


async def record_refusals(session: AsyncSession, message: SignedMessage) -> int:
    """Record each refusal the town's prefecture or the agency sent; return how many."""
    if message.issuer not in (AGENCY, message.audience.prefecture_of):
        raise Rejected("sender_not_permitted", "only this town's tiers report refusals")
    items = message.payload.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_NOTICES:
        raise Rejected("invalid_payload", f"items must be a list of 1 to {MAX_NOTICES}")
    try:
        notices = _NOTICES.validate_python(items)
    except ValidationError as exc:
        raise Rejected("invalid_payload", summarize(exc)) from None
    now = utcnow()
    for n in notices:
        detail = f"refused upstream: change {n.correlation_id or '-'}"
        await dead_letter_part(
            session, bus, sender=message.issuer.code, message_id=n.message_id,
            reason=n.reason, detail=detail, now=now,
        )  # fmt: skip
    return len(notices)
