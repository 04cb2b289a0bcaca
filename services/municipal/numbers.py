"""個人番号 at the municipality (番号法第7条): the town that records a resident under a
new resident code asks the agency for the number to assign, and records the answer; it
asks again with reason ``leaked`` when the number has leaked and may be misused (on the
resident's request or ex officio), and the agency's new number replaces the old one.

The number is 特定個人情報: only counts reach the log, never a number or a code.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import enqueue
from jukinet.contracts.mynumber import NUMBER_REQUEST, NumberWanted, parse_assigned
from jukinet.contracts.principals import AGENCY
from jukinet.envelope import SignedMessage
from jukinet.pki import utcnow
from municipal.models import Resident, bus

__all__ = ["receive_numbers", "request_missing_numbers", "request_number"]

log = logging.getLogger("jukinet.municipal.numbers")


async def request_number(
    session: AsyncSession, resident_code: str, reason: Literal["new", "leaked"],
    now: dt.datetime,
) -> None:  # fmt: skip
    """Ask the agency for the resident's number, in the caller's transaction (so a
    resident is never recorded without the request, nor asked for without a record)."""
    wanted = NumberWanted(resident_code=resident_code, reason=reason)
    await enqueue(
        session, bus, recipient=AGENCY, message_type=NUMBER_REQUEST,
        payload=wanted.model_dump(mode="json"), now=now,
    )  # fmt: skip


ASK_AGAIN = dt.timedelta(minutes=15)  # an unanswered request is repeated after this long
# a refused one sooner: the agency refuses a code it does not know as this town's yet — a
# migrated register's codes are claimed through the prefecture, a move-in's record comes
# the same way, and either may arrive after the request
ASK_AGAIN_REFUSED = dt.timedelta(seconds=30)
BACKFILL_BATCH = 1000  # residents asked for in one round


async def request_missing_numbers(session: AsyncSession, now: dt.datetime) -> int:
    """Ask the agency for the numbers live residents lack — a register migrated with
    `jukinet import`, residents recorded before numbers existed here, a move-in whose
    certificate stated none — a batch per round, each asked again 15 minutes later at
    the soonest (30 seconds after a refusal: see ASK_AGAIN_REFUSED).
    The agency answers the number it generates from the code (the same one every time)
    for a code designated to this town or whose record it holds. How many were asked."""
    lacking = await session.scalars(
        select(Resident)
        .where(
            Resident.status == "live",
            Resident.individual_number.is_(None),
            or_(Resident.number_requested_at.is_(None),
                Resident.number_requested_at < now - ASK_AGAIN),
        )
        .order_by(Resident.id)
        .limit(BACKFILL_BATCH)
        .with_for_update(skip_locked=True)
    )  # fmt: skip
    asked = 0
    for resident in lacking:
        await request_number(session, resident.resident_code, "new", now)
        resident.number_requested_at = now
        asked += 1
    return asked


async def receive_numbers(session: AsyncSession, message: SignedMessage) -> None:
    """Record each number the agency assigned, on the resident who holds that code."""
    recorded = unmatched = refused = 0
    again_from = utcnow() - ASK_AGAIN + ASK_AGAIN_REFUSED
    for answer in parse_assigned(message.payload):
        if answer.individual_number is None:
            refused += 1
            await session.execute(
                update(Resident)
                .where(Resident.resident_code == answer.resident_code,
                       Resident.individual_number.is_(None))
                .values(number_requested_at=again_from)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
            continue
        result = await session.execute(
            update(Resident)
            .where(Resident.resident_code == answer.resident_code)
            .values(individual_number=answer.individual_number)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            recorded += 1
        else:
            unmatched += 1
    log.info(
        "individual numbers received: message=%s recorded=%d refused=%d unmatched=%d",
        message.message_id, recorded, refused, unmatched,
    )  # fmt: skip
