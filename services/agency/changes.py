"""Receiving forwarded changes: verify the prefecture hop *and* each municipality's own
signature, then store the national copy with full history, and retire nationally every
code a 住民票コード変更 replaced."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agency.codes import retire_codes
from agency.models import OriginMessage, records
from jukinet.bus import BATCH_TYPE_SUFFIX, Rejected
from jukinet.envelope import FORWARD_TYPE, EnvelopeError, Opener, SignedMessage
from jukinet.identity import CHANGE_MESSAGE_TYPE, InvalidChanges, parse_changes
from jukinet.pki import utcnow
from jukinet.principals import PrincipalKind
from jukinet.reconcile import REPAIR_MESSAGE_TYPE, apply_repair
from jukinet.records import apply_changes, log_stored

__all__ = ["FORWARD_BATCH", "apply_forward"]

log = logging.getLogger("jukinet.agency")
FORWARD_BATCH = FORWARD_TYPE + BATCH_TYPE_SUFFIX
CHANGE_BATCH = CHANGE_MESSAGE_TYPE + BATCH_TYPE_SUFFIX
REPAIR_BATCH = REPAIR_MESSAGE_TYPE + BATCH_TYPE_SUFFIX


async def apply_forward(session: AsyncSession, message: SignedMessage, opener: Opener) -> None:
    if message.issuer.kind is not PrincipalKind.PREFECTURE:
        raise Rejected("sender_not_permitted", "only prefectures forward changes")
    origins = [_verified_origin(item, message, opener) for item in _items(message.payload)]
    ids = [o.message_id for o in origins]
    seen = set(
        await session.scalars(
            select(OriginMessage.message_id).where(OriginMessage.message_id.in_(ids))
        )
    )
    for origin in origins:
        if origin.message_id in seen:
            log.warning("origin already applied: message=%s", origin.message_id)
            continue
        seen.add(origin.message_id)
        await _apply_origin(session, origin, message)


def _items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    items = payload.get("items")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise Rejected("invalid_payload", "items must be a non-empty list of objects")
    return items


def _verified_origin(item: dict[str, Any], forward: SignedMessage, opener: Opener) -> SignedMessage:
    token = item.get("origin")
    if not isinstance(token, str):
        raise Rejected("invalid_payload", "each item carries an origin token")
    try:
        origin = opener.verify_origin(
            token,
            forwarder=forward.issuer,
            stored_at=item.get("stored_at_ms"),
            forwarded_at=forward.stored_at,
        )
    except EnvelopeError as exc:
        raise Rejected("origin_invalid", str(exc)) from None
    issuer = origin.issuer
    if issuer.kind is not PrincipalKind.MUNICIPALITY or issuer.prefecture_of != forward.issuer:
        raise Rejected(
            "origin_not_in_prefecture", f"{issuer} is not a municipality of {forward.issuer}"
        )
    if origin.type not in (CHANGE_BATCH, REPAIR_BATCH):
        raise Rejected("unsupported_type", f"forwarded {origin.type} is not a change")
    return origin


async def _apply_origin(
    session: AsyncSession, origin: SignedMessage, forward: SignedMessage
) -> None:
    now = utcnow()
    _remember(session, origin, forward, now)
    if origin.type == REPAIR_BATCH:
        done = await apply_repair(
            session, records, origin.payload, municipality=origin.issuer.code,
            origin_message_id=origin.message_id, now=now,
        )  # fmt: skip
        log.info(
            "repair applied: origin=%s message=%s %s", origin.issuer.code, origin.message_id, done
        )
        return
    try:
        changes = parse_changes(origin.payload)
    except InvalidChanges as exc:
        raise Rejected("invalid_payload", exc.summary) from None
    if any(c.record.municipality != origin.issuer.code for c in changes):
        raise Rejected("foreign_record", "a municipality may only change its own records")
    applied = await apply_changes(
        session, records, changes, origin_message_id=origin.message_id, now=now
    )
    replaced = {c.previous_code: c.record.municipality for c in changes if c.previous_code}
    retired = await retire_codes(session, replaced, now=now)
    log_stored(log, changes, origin.issuer.code)
    log.info(
        "changes stored: origin=%s via=%s message=%s changes=%d current=%d codes_retired=%d",
        origin.issuer.code,
        forward.issuer.code,
        origin.message_id,
        len(changes),
        applied,
        retired,
    )


def _remember(
    session: AsyncSession, origin: SignedMessage, forward: SignedMessage, now: dt.datetime
) -> None:
    """Keep each applied municipal message: proof of origin, and de-duplication."""
    session.add(
        OriginMessage(
            message_id=origin.message_id,
            municipality=origin.issuer.code,
            forwarded_by=forward.issuer.code,
            token=origin.token,
            received_at=now,
        )
    )
