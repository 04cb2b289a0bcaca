"""Moves between municipalities (転入通知): the person files a move-out (転出届) at the
old municipality first; the new one records the move-in and notifies the old one, which
confirms the move-out it has on file (転出確定) with the new town's code.

The notice travels sealed and signed like every message; the old municipality accepts
it only from a municipality, only about a resident it has, and only if that resident's
move-out is on file: a notice about a live resident is refused and changes nothing, so
no town can take over another town's resident by recording a move-in.
"""

from __future__ import annotations

import datetime as dt
import logging

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import BATCH_TYPE_SUFFIX, Rejected, dead_letter_part, enqueue
from jukinet.contracts.identity import Address, ChangeReason, LgCode, ResidentCode, Sex, summarize
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.envelope import SignedMessage
from jukinet.pki import utcnow
from municipal.models import Resident, bus
from municipal.residents.repository import ResidentRepository

__all__ = [
    "MOVE_IN_NOTICE",
    "MOVE_IN_NOTICE_BATCH",
    "MoveInNotice",
    "apply_move_in_notices",
    "send_move_in_notice",
]

log = logging.getLogger("jukinet.municipal.moves")
MOVE_IN_NOTICE = "move_in.notice"
MOVE_IN_NOTICE_BATCH = MOVE_IN_NOTICE + BATCH_TYPE_SUFFIX
MAX_NOTICES = 1000


class MoveInNotice(BaseModel):
    """What the new municipality tells the old one: who moved in, when, and where to."""

    model_config = ConfigDict(extra="forbid")

    resident_code: ResidentCode
    birth_date: dt.date  # with sex: the old town checks it closes the same person
    sex: Sex
    moved_on: dt.date
    new_municipality: LgCode
    new_address: Address


async def send_move_in_notice(
    session: AsyncSession, node: Principal, resident: Resident, to: Principal
) -> None:
    notice = MoveInNotice(
        resident_code=resident.resident_code,
        birth_date=resident.birth_date,
        sex=Sex(resident.sex),
        moved_on=resident.change_date,
        new_municipality=node.code,
        new_address=resident.address,
    )
    await enqueue(
        session,
        bus,
        recipient=to,
        message_type=MOVE_IN_NOTICE,
        payload=notice.model_dump(mode="json"),
    )


async def apply_move_in_notices(
    session: AsyncSession, node: Principal, message: SignedMessage
) -> None:
    """Confirm each named resident's move-out. Each notice stands alone: one refused is
    dead-lettered with its reason and the others still apply."""
    if message.issuer.kind is not PrincipalKind.MUNICIPALITY:
        raise Rejected("not_a_municipality", "only a municipality sends a move-in notice")
    items = message.payload.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_NOTICES:
        raise Rejected("invalid_payload", "items must be a list of 1 to 1000 notices")
    if len(items) == 1:  # the usual case: the message is the notice, refused or applied
        await _apply_notice(session, message, _parse(items[0], message))
        return
    for item in items:
        try:
            async with session.begin_nested():
                await _apply_notice(session, message, _parse(item, message))
        except Rejected as exc:
            await dead_letter_part(
                session, bus, sender=message.issuer.code, message_id=message.message_id,
                reason=exc.reason, detail=exc.detail, now=utcnow(),
            )  # fmt: skip


def _parse(item: object, message: SignedMessage) -> MoveInNotice:
    try:
        notice = MoveInNotice.model_validate(item)
    except ValidationError as exc:
        raise Rejected("invalid_payload", summarize(exc)) from None
    if notice.new_municipality != message.issuer.code:
        raise Rejected("foreign_notice", "a notice names the municipality that sends it")
    return notice


async def _apply_notice(
    session: AsyncSession, message: SignedMessage, notice: MoveInNotice
) -> None:
    resident = await ResidentRepository(session).with_code_for_update(notice.resident_code)
    if resident is None:
        raise Rejected("unknown_resident", "the notice names no resident of this municipality")
    if (resident.birth_date, resident.sex) != (notice.birth_date, notice.sex.value):
        raise Rejected("identity_mismatch", "the notice describes another person than the code's")
    if resident.status == "live":
        raise Rejected("no_move_out", "the resident has no move-out on file here")
    _confirm_closed(resident, message)


def _confirm_closed(resident: Resident, message: SignedMessage) -> None:
    """A notice about a record closed at this counter: a move-out (転出届) is confirmed
    with the new town's code; any other deletion (death…) makes the notice wrong."""
    if resident.change_reason != ChangeReason.MOVE_OUT.value:
        raise Rejected("resident_deleted", "the resident's record was deleted for another reason")
    resident.next_municipality = resident.next_municipality or message.issuer.code
    log.info("move-out confirmed", extra={"origin": message.issuer.code})
