"""The municipality's resident-code pool: codes the agency designated, drawn at random.

The agency alone issues codes (see :mod:`jukinet.contracts.codepool`). When fewer undrawn codes
than the low-water mark are left, the municipality asks it for a refill — once: a
request is remembered, and asked again only when no answer came within the timeout. A
new municipality starts with an empty pool, and registering a resident answers
``code-pool-exhausted`` until the agency's first designation arrives.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import Rejected, enqueue
from jukinet.contracts.codepool import (
    CODE_DESIGNATED,
    CODE_REFILL_REQUEST,
    MAX_CODES_PER_REQUEST,
    CodeDesignation,
    RefillRequest,
    parse_designations,
)
from jukinet.contracts.principals import AGENCY
from jukinet.envelope import SignedMessage, forward_item
from jukinet.node.problems import Problem
from jukinet.pki import utcnow
from municipal.codes_repository import CodePoolRepository
from municipal.models import bus
from municipal.residents.repository import ResidentRepository

__all__ = [
    "PoolExhausted",
    "PoolPolicy",
    "draw_code",
    "pool_status",
    "receive_codes",
    "request_refill",
]

log = logging.getLogger("jukinet.municipal.codes")


class PoolExhausted(Problem):
    """No undrawn code is left in this municipality's pool."""

    status, type, title = 503, "code-pool-exhausted", "No resident code is available"


@dataclass(frozen=True)
class PoolPolicy:
    """How full the pool is kept: refilled to ``target`` once below ``low_water``."""

    target: int
    low_water: int
    timeout: dt.timedelta


async def draw_code(session: AsyncSession) -> str:
    """Take one undrawn code at random (the resident can never choose it).

    The pool is kept small (its target size), so ordering it randomly is cheap; on
    PostgreSQL, rows another transaction is drawing are skipped rather than waited for.
    """
    pool = CodePoolRepository(session)
    code = await pool.any_undrawn()
    if code is None:
        raise PoolExhausted("the resident-code pool is empty; more are requested from the agency")
    await pool.mark_drawn(code, now=utcnow())
    return code


async def pool_status(session: AsyncSession) -> dict[str, int]:
    """Counts for the status page: undrawn codes and unanswered requests."""
    pool = CodePoolRepository(session)
    awaiting = await pool.unanswered_count()
    return {"undrawn": await pool.undrawn_count(), "requests_unanswered": awaiting}


async def request_refill(
    session: AsyncSession, policy: PoolPolicy, *, now: dt.datetime
) -> RefillRequest | None:
    """Ask the agency for codes (in the caller's transaction) when the pool is below its
    low-water mark and no request sent within the timeout is still unanswered."""
    pool = CodePoolRepository(session)
    undrawn = await pool.undrawn_count()
    if undrawn >= policy.low_water or await pool.awaiting_answer(now - policy.timeout):
        return None
    request = RefillRequest(
        request_id=uuid.uuid4().hex,
        wanted=min(policy.target - undrawn, MAX_CODES_PER_REQUEST),
        remaining=undrawn,
    )
    pool.add_request(request.request_id, wanted=request.wanted, now=now)
    await enqueue(
        session, bus, recipient=AGENCY, message_type=CODE_REFILL_REQUEST,
        payload=request.model_dump(mode="json"), now=now,
    )  # fmt: skip
    return request


async def receive_codes(session: AsyncSession, message: SignedMessage) -> int:
    """Add the agency's designated codes to the pool, and pass the agency's signed message
    on to the prefecture — on the channel the changes using them will take, so it learns
    them first. Return how many arrived."""
    if message.issuer != AGENCY:
        raise Rejected("sender_not_permitted", "only the agency designates resident codes")
    designations = parse_designations(message.payload)
    now = utcnow()
    await enqueue(
        session, bus, recipient=message.audience.prefecture_of, message_type=CODE_DESIGNATED,
        payload=forward_item(message), now=now,
    )  # fmt: skip
    for designation in designations:
        await _store(session, designation, now)
        log.info(
            "codes received: designation=%s count=%d message=%s",
            designation.designation_id,
            len(designation.codes),
            message.message_id,
        )
    return sum(len(d.codes) for d in designations)


async def _store(session: AsyncSession, designation: CodeDesignation, now: dt.datetime) -> None:
    reused = await _known_here(session, designation.codes)
    if reused:
        raise Rejected("code_reused", f"{reused} designated codes are already known here")
    pool = CodePoolRepository(session)
    await pool.add(designation.codes, designation_id=designation.designation_id)
    if designation.request_id is not None:
        await pool.answered(
            designation.request_id, designation_id=designation.designation_id, now=now
        )


async def _known_here(session: AsyncSession, codes: Sequence[str]) -> int:
    """How many of ``codes`` are already in the pool or held by a resident."""
    pool, residents = CodePoolRepository(session), ResidentRepository(session)
    known: set[str] = set()
    for start in range(0, len(codes), 1000):
        part = codes[start : start + 1000]
        known.update(await pool.in_pool(part))
        known.update(await residents.holding(part))
    return len(known)
