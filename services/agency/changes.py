"""Receiving forwarded changes: verify the prefecture hop *and* each municipality's own
signature, then store the national copy with full history, and retire nationally every
code a 住民票コード変更 replaced."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agency.codes import REGISTRY, register_migrated, retire_codes
from agency.models import bus, records, watches
from agency.numbers import follow_code_changes
from agency.repository import OriginMessages
from jukinet.bus import BATCH_TYPE_SUFFIX, Rejected, dead_letter_part
from jukinet.contracts.codepool import CODES_MIGRATED_BATCH, parse_migrated
from jukinet.contracts.identity import CHANGE_MESSAGE_TYPE, InvalidChanges, parse_changes
from jukinet.contracts.principals import PrincipalKind
from jukinet.envelope import FORWARD_TYPE, EnvelopeError, Opener, SignedMessage
from jukinet.lookups import fan_out
from jukinet.pki import utcnow
from jukinet.reconcile.digests import REPAIR_MESSAGE_TYPE, apply_repair
from jukinet.records.errors import RecordRefused
from jukinet.records.refusals import RefusalNotice, dead_letter_refused, notify_refusal, rejected
from jukinet.records.store import apply_changes, log_stored

__all__ = ["FORWARD_BATCH", "apply_forward"]

log = logging.getLogger("jukinet.agency")
FORWARD_BATCH = FORWARD_TYPE + BATCH_TYPE_SUFFIX
CHANGE_BATCH = CHANGE_MESSAGE_TYPE + BATCH_TYPE_SUFFIX
REPAIR_BATCH = REPAIR_MESSAGE_TYPE + BATCH_TYPE_SUFFIX


async def apply_forward(session: AsyncSession, message: SignedMessage, opener: Opener) -> None:
    """Apply each origin message of a forward on its own: one the agency refuses (forged,
    foreign, malformed) is dead-lettered with its reason and origin, and the others —
    other towns' changes included — still apply."""
    if message.issuer.kind is not PrincipalKind.PREFECTURE:
        raise Rejected("sender_not_permitted", "only prefectures forward changes")
    now = utcnow()
    origins = []
    for item in _items(message.payload):
        try:
            origins.append(_verified_origin(item, message, opener))
        except Rejected as exc:
            await _refuse(session, message.issuer.code, message.message_id, exc, now)
    seen = await OriginMessages(session).applied([o.message_id for o in origins])
    for origin in origins:
        if origin.message_id in seen:
            log.warning("origin already applied: message=%s", origin.message_id)
            continue
        seen.add(origin.message_id)
        await _apply_alone(session, origin, message, now)


async def _apply_alone(
    session: AsyncSession, origin: SignedMessage, forward: SignedMessage, now: dt.datetime
) -> None:
    """One origin message in its own savepoint: refused whole, or applied."""
    try:
        async with session.begin_nested():
            await _apply_origin(session, origin, forward, now)
    except Rejected as exc:
        await _refuse_origin(session, origin, exc, now)
    except RecordRefused as exc:  # a repair of another town's resident
        await _refuse_origin(session, origin, rejected(exc), now)
    except (IntegrityError, DataError) as exc:
        await _refuse_origin(session, origin, Rejected("apply_failed", type(exc).__name__), now)


async def _refuse_origin(
    session: AsyncSession, origin: SignedMessage, exc: Rejected, now: dt.datetime
) -> None:
    """Dead-letter a whole origin message here, and tell its town."""
    await _refuse(session, origin.issuer.code, origin.message_id, exc, now)
    notice = RefusalNotice(message_id=origin.message_id, reason=exc.reason)
    await notify_refusal(session, bus, origin.issuer.code, notice, now=now)


async def _refuse(
    session: AsyncSession, sender: str, message_id: str, exc: Rejected, now: dt.datetime
) -> None:
    await dead_letter_part(
        session, bus, sender=sender, message_id=message_id, reason=exc.reason,
        detail=exc.detail, now=now,
    )  # fmt: skip


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
    if origin.type not in (CHANGE_BATCH, REPAIR_BATCH, CODES_MIGRATED_BATCH):
        raise Rejected("unsupported_type", f"forwarded {origin.type} is not a change")
    return origin


async def _apply_origin(
    session: AsyncSession, origin: SignedMessage, forward: SignedMessage, now: dt.datetime
) -> None:
    _remember(session, origin, forward, now)
    if origin.type == CODES_MIGRATED_BATCH:
        await _register_migrated(session, origin, now)
        return
    if origin.type == REPAIR_BATCH:
        repaired = await apply_repair(
            session, records, origin.payload, municipality=origin.issuer.code,
            origin_message_id=origin.message_id, now=now,
        )  # fmt: skip
        log.info(
            "repair applied: origin=%s message=%s %s",
            origin.issuer.code,
            origin.message_id,
            repaired,
        )
        return
    try:
        changes = parse_changes(origin.payload)
    except InvalidChanges as exc:
        raise Rejected("invalid_payload", exc.summary) from None
    town = origin.issuer.code
    done = await apply_changes(
        session, records, changes, origin_message_id=origin.message_id, now=now, sender=town,
        designations=REGISTRY,
    )  # fmt: skip
    await dead_letter_refused(
        session, bus, done.refused, origin=town, message_id=origin.message_id, now=now
    )
    notified = await fan_out(session, watches, records.history, done.transitions, now)
    replaced = {c.previous_code: town for c in done.accepted if c.previous_code}
    retired = await retire_codes(session, replaced, now=now)
    await follow_code_changes(session, {
        c.previous_code: c.record.resident_code for c in done.accepted if c.previous_code
    })  # fmt: skip
    log_stored(log, done.accepted, town)
    log.info(
        "changes stored: origin=%s via=%s message=%s changes=%d current=%d refused=%d "
        "codes_retired=%d notified=%d",
        town,
        forward.issuer.code,
        origin.message_id,
        len(changes),
        done.current,
        len(done.refused),
        retired,
        notified,
    )


async def _register_migrated(
    session: AsyncSession, origin: SignedMessage, now: dt.datetime
) -> None:
    """A migrated register's codes, claimed by its town: registered as the town's, except
    codes the agency already knows otherwise (refused, and their records with them)."""
    town = origin.issuer.code
    codes = [c for claim in parse_migrated(origin.payload) for c in claim.codes]
    registered, refused = await register_migrated(session, town, codes, now=now)
    if refused:
        detail = f"{refused} claimed codes are known nationally as another's"
        await dead_letter_part(
            session, bus, sender=town, message_id=origin.message_id, reason="code_taken",
            detail=detail, now=now,
        )  # fmt: skip
    log.info(
        "migrated codes registered: origin=%s message=%s registered=%d refused=%d",
        town, origin.message_id, registered, refused,
    )  # fmt: skip


def _remember(
    session: AsyncSession, origin: SignedMessage, forward: SignedMessage, now: dt.datetime
) -> None:
    """Keep each applied municipal message: proof of origin, and de-duplication."""
    OriginMessages(session).remember(
        origin.message_id, municipality=origin.issuer.code, forwarded_by=forward.issuer.code,
        token=origin.token, now=now,
    )  # fmt: skip
