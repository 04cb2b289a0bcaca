"""The resident codes designated to this prefecture's municipalities.

A prefecture learns them on the same channel as the changes that use them: a town passes
on each signed designation it receives from the agency (``codes.designated``) and claims
a migrated register's codes (``codes.migrated``, forwarded to the agency) before sending
the changes that record them. A change recording a code new to this prefecture is then
accepted only if the code is designated to the recording town — or, for a move-in from
another prefecture, whose designations only the agency knows, left to the agency.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import Rejected, dead_letter_part, enqueue
from jukinet.contracts.codepool import CODE_POOL_BATCH, parse_designations, parse_migrated
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.envelope import FORWARD_TYPE, EnvelopeError, Opener, SignedMessage, forward_item
from jukinet.records.store import Designations
from prefecture.models import bus
from prefecture.repository import DesignationRepository

__all__ = ["designations_of", "learn_designations", "learn_migrated"]

log = logging.getLogger("jukinet.prefecture.codes")


def designations_of(prefecture: Principal) -> Designations:
    """The designation check for this prefecture's tier: it knows its own towns' codes."""

    def covers(town: str) -> bool:
        return Principal.municipality(town).prefecture_of == prefecture

    return Designations(owners=_owners, covers=covers)


async def _owners(session: AsyncSession, codes: Sequence[str]) -> dict[str, str]:
    return await DesignationRepository(session).owners(codes)


async def learn_designations(
    session: AsyncSession, message: SignedMessage, opener: Opener, *, now: dt.datetime
) -> int:
    """Record the codes of each agency designation the town passed on: verified as signed
    by the agency and addressed to that town. A designation that does not verify is
    dead-lettered alone; the others are learned."""
    town = message.issuer
    items = message.payload.get("items")
    if not isinstance(items, list) or not items:
        raise Rejected("invalid_payload", "items must be a non-empty list")
    learned = 0
    for item in items:
        try:
            codes = _designated_codes(item, message, opener)
        except Rejected as exc:
            await dead_letter_part(
                session, bus, sender=town.code, message_id=message.message_id,
                reason=exc.reason, detail=exc.detail, now=now,
            )  # fmt: skip
            continue
        learned += await _record(session, codes, town.code, "pool", now)
    log.info("designations learned: town=%s codes=%d", town.code, learned)
    return learned


def _designated_codes(item: object, message: SignedMessage, opener: Opener) -> list[str]:
    """The codes of one passed-on designation, once it verifies as the agency's."""
    if not isinstance(item, dict) or not isinstance(token := item.get("origin"), str):
        raise Rejected("invalid_payload", "each item carries the agency's signed designation")
    try:
        origin = opener.verify_origin(
            token, forwarder=message.issuer, stored_at=item.get("stored_at_ms"),
            forwarded_at=message.stored_at,
        )  # fmt: skip
    except EnvelopeError as exc:
        raise Rejected("origin_invalid", str(exc)) from None
    if origin.issuer != AGENCY or origin.type != CODE_POOL_BATCH:
        raise Rejected("origin_not_a_designation", "only the agency's code pools count")
    return [c for d in parse_designations(origin.payload) for c in d.codes]


async def learn_migrated(session: AsyncSession, message: SignedMessage, *, now: dt.datetime) -> int:
    """Record a migrated register's codes as the town's, and forward the town's signed
    claim to the agency (which registers them nationally) ahead of the changes."""
    codes = [c for claim in parse_migrated(message.payload) for c in claim.codes]
    learned = await _record(session, codes, message.issuer.code, "migrated", now)
    await enqueue(
        session, bus, recipient=AGENCY, message_type=FORWARD_TYPE,
        payload=forward_item(message), now=now,
    )  # fmt: skip
    log.info("migrated codes claimed: town=%s codes=%d", message.issuer.code, learned)
    return learned


async def _record(
    session: AsyncSession, codes: Iterable[str], town: str, source: str, now: dt.datetime
) -> int:
    """Add the codes not known here; a code known as another town's stays theirs."""
    wanted = sorted(set(codes))
    designations = DesignationRepository(session)
    known = set((await designations.owners(wanted)).keys())
    fresh = [c for c in wanted if c not in known]
    await designations.add(fresh, town=town, source=source, now=now)
    return len(fresh)
