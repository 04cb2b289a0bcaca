"""The national resident-code registry: designating pools of fresh codes to municipalities,
registering a migrated register's codes as its town's, checking that every newly recorded
code was designated to the town recording it, and retiring codes replaced by a
住民票コード変更.

A code is designated only if the agency has never seen it — not in the registry (which
keeps designated and retired codes for ever), not in the national copy of identity
records, not in their history — so codes are unique nationwide and never reissued.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from agency.models import CodeStatus, bus
from agency.repository import CodeRegistry
from jukinet.bus import Rejected, enqueue
from jukinet.contracts.codepool import CODE_POOL, CodeDesignation, parse_refill_requests
from jukinet.contracts.ids import generate_resident_code
from jukinet.contracts.principals import PrincipalKind
from jukinet.envelope import SignedMessage
from jukinet.records.store import Designations

__all__ = [
    "REGISTRY",
    "CodeStatus",
    "RandBelow",
    "answer_refill",
    "designate",
    "register_migrated",
    "retire_codes",
]

log = logging.getLogger("jukinet.agency.codes")

RandBelow = Callable[[int], int]
"""Where randomness comes from (``secrets.randbelow``); replaceable only in tests."""

# Rounds of drawing before giving up on a full designation. With a real random source a
# clash in the 10^10 code space is rare, so this only bounds a broken or faked one.
MAX_DRAW_ROUNDS = 8


async def answer_refill(
    session: AsyncSession,
    message: SignedMessage,
    *,
    now: dt.datetime,
    randbelow: RandBelow = secrets.randbelow,
) -> None:
    """Designate codes to the municipality that asked, and queue them to it, in the
    inbox transaction. Requests sealed into one message are re-asks of one need, so
    only the latest is answered."""
    if message.issuer.kind is not PrincipalKind.MUNICIPALITY:
        raise Rejected("sender_not_permitted", "only municipalities are designated codes")
    request = parse_refill_requests(message.payload)[-1]
    designation = await designate(
        session, message.issuer.code, request.wanted,
        request_id=request.request_id, now=now, randbelow=randbelow,
    )  # fmt: skip
    if designation is None:
        log.error("no fresh resident code could be drawn: message=%s", message.message_id)
        return
    await enqueue(
        session, bus, recipient=message.issuer, message_type=CODE_POOL,
        payload=designation.model_dump(mode="json"), now=now,
    )  # fmt: skip
    log.info(
        "codes designated: municipality=%s designation=%s count=%d wanted=%d message=%s",
        message.issuer.code,
        designation.designation_id,
        len(designation.codes),
        request.wanted,
        message.message_id,
    )


async def designate(
    session: AsyncSession,
    municipality: str,
    count: int,
    *,
    now: dt.datetime,
    request_id: str | None = None,
    randbelow: RandBelow = secrets.randbelow,
) -> CodeDesignation | None:
    """Record up to ``count`` fresh codes as designated to ``municipality``; None when
    not one could be drawn (a broken random source)."""
    codes = await fresh_codes(session, count, randbelow)
    if not codes:
        return None
    designation = CodeDesignation(
        designation_id=uuid.uuid4().hex, request_id=request_id, codes=codes
    )
    await CodeRegistry(session).designate(
        codes, municipality, designation_id=designation.designation_id, now=now
    )
    return designation


async def fresh_codes(session: AsyncSession, count: int, randbelow: RandBelow) -> list[str]:
    """Up to ``count`` distinct valid codes the agency has never seen, in drawn order."""
    chosen: dict[str, None] = {}  # ordered, so the pool keeps the random draw order
    for _ in range(MAX_DRAW_ROUNDS):
        missing = count - len(chosen)
        if missing <= 0:
            break
        drawn = {generate_resident_code(randbelow): None for _ in range(missing)}
        candidates = [code for code in drawn if code not in chosen]
        known = await known_codes(session, candidates)
        chosen.update((code, None) for code in candidates if code not in known)
    return list(chosen)


async def known_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    """Which of ``codes`` the agency has designated, retired, or holds records of."""
    return await CodeRegistry(session).known(codes)


async def _designated_to(session: AsyncSession, codes: Sequence[str]) -> dict[str, str]:
    """The municipality each of ``codes`` is designated to (retired codes are not)."""
    return await CodeRegistry(session).designated_to(codes)


REGISTRY = Designations(owners=_designated_to, covers=lambda town: True)
"""The agency's designation check: the registry knows every town's codes."""


async def register_migrated(
    session: AsyncSession, municipality: str, codes: Sequence[str], *, now: dt.datetime
) -> tuple[int, int]:
    """Register a migrated register's codes as ``municipality``'s: the ones the agency
    never saw are designated to it, the ones already its own stay; any other (another
    town's, retired, or on a record) is refused. Return (registered, refused)."""
    wanted = sorted(set(codes))
    registry = CodeRegistry(session)
    owners = await registry.designated_to(wanted)
    mine = {c for c, town in owners.items() if town == municipality}
    known = await registry.known([c for c in wanted if c not in mine])
    fresh = [c for c in wanted if c not in mine and c not in known]
    await registry.designate(fresh, municipality, now=now)
    return len(fresh), len(known)


async def retire_codes(
    session: AsyncSession, retired: Mapping[str, str], *, now: dt.datetime
) -> int:
    """Mark each code (→ the municipality that retired it) retired nationally; a code the
    agency never designated (say, from a migrated register) is recorded as retired.
    Return how many codes were newly retired."""
    if not retired:
        return 0
    registry = CodeRegistry(session)
    status = await registry.statuses(retired)
    designated = [c for c, s in status.items() if s != CodeStatus.RETIRED.value]
    unknown = {c: town for c, town in retired.items() if c not in status}
    await registry.retire(designated, now=now)
    await registry.add_retired(unknown, now=now)
    return len(designated) + len(unknown)
