"""Receiving municipal changes: verify, store with history, forward to the agency.

The forward carries the municipality's own signed message untouched, so the agency can
prove which municipality made every change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import BATCH_TYPE_SUFFIX, Rejected, enqueue
from jukinet.contracts.identity import CHANGE_MESSAGE_TYPE, InvalidChanges, parse_changes
from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind
from jukinet.envelope import FORWARD_TYPE, Opener, SignedMessage, forward_item
from jukinet.pki import utcnow
from jukinet.reconcile.digests import REPAIR_MESSAGE_TYPE, apply_repair
from jukinet.records.errors import RecordRefused
from jukinet.records.refusals import dead_letter_refused, rejected
from jukinet.records.store import apply_changes, log_stored
from prefecture.codes import designations_of
from prefecture.models import bus, records

__all__ = [
    "CHANGE_BATCH",
    "REPAIR_BATCH",
    "accepts_from",
    "apply_changes_message",
    "apply_repair_message",
]

log = logging.getLogger("jukinet.prefecture")
CHANGE_BATCH = CHANGE_MESSAGE_TYPE + BATCH_TYPE_SUFFIX
REPAIR_BATCH = REPAIR_MESSAGE_TYPE + BATCH_TYPE_SUFFIX


def accepts_from(prefecture: Principal) -> Callable[[Principal], bool]:
    def accepts(sender: Principal) -> bool:
        return sender.kind is PrincipalKind.MUNICIPALITY and sender.prefecture_of == prefecture

    return accepts


async def apply_changes_message(
    session: AsyncSession, message: SignedMessage, opener: Opener
) -> None:
    try:
        changes = parse_changes(message.payload)
    except InvalidChanges as exc:
        raise Rejected("invalid_payload", exc.summary) from None
    now = utcnow()
    done = await apply_changes(
        session, records, changes, origin_message_id=message.message_id, now=now,
        sender=message.issuer.code, designations=designations_of(message.audience),
    )  # fmt: skip
    await dead_letter_refused(
        session, bus, done.refused, origin=message.issuer.code,
        message_id=message.message_id, now=now,
    )  # fmt: skip
    forward = forward_item(message)
    await enqueue(session, bus, recipient=AGENCY, message_type=FORWARD_TYPE, payload=forward)
    log_stored(log, done.accepted, message.issuer.code)
    log.info(
        "changes stored: from=%s message=%s changes=%d current=%d refused=%d",
        message.issuer.code,
        message.message_id,
        len(changes),
        done.current,
        len(done.refused),
    )


async def apply_repair_message(session: AsyncSession, message: SignedMessage) -> None:
    """The municipality's own state of some records (reconciliation): set it here, and
    forward the municipality's signed message to the agency like any change."""
    try:
        done = await apply_repair(
            session, records, message.payload, municipality=message.issuer.code,
            origin_message_id=message.message_id, now=utcnow(),
        )  # fmt: skip
    except RecordRefused as exc:  # another town's resident: dead-lettered like any refusal
        raise rejected(exc) from None
    forward = forward_item(message)
    await enqueue(session, bus, recipient=AGENCY, message_type=FORWARD_TYPE, payload=forward)
    log.info("repair applied: from=%s message=%s %s", message.issuer.code, message.message_id, done)
