"""The old town's side of 転出届の特例: an online move-out, signed with the resident's card,
is checked (the card handed over here and not revoked, its signature, this town, fresh,
never seen before, the planned date near), recorded as the 転出 — the move-out evidence
the tiers require before another town may take the record over — and its 転出証明書情報 is
queued for the destination, sealed to that town alone, in the same transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.identity import ChangeReason
from jukinet.contracts.moveout import MAX_DAYS_AHEAD, OnlineMoveOut
from jukinet.contracts.principals import Principal
from jukinet.contracts.residentcard import BadCardSignature, claimed_card, verify_move_out
from jukinet.node.problems import Conflict, Problem
from jukinet.pki import PkiError, utcnow
from municipal.models import FiledMoveOut, Household, Resident, ResidentCard
from municipal.moveouts.cards import revoke_cards
from municipal.moveouts.certificate import send_certificate
from municipal.residents.schemas import ChangeResident
from municipal.residents.service import apply_change, get_resident

__all__ = ["CardRefused", "FilingRefused", "FilingReplayed", "accept_filing"]

FRESH = dt.timedelta(minutes=10)  # how old (or how far ahead) a signature may be
ACTOR = "online:resident-card"  # who made the change, in the register's detail


class CardRefused(Problem):
    status, type, title = 401, "card-refused", "The filing is not signed by a card issued here"
    reasons: ClassVar[Mapping[str, str]] = {
        "not_a_filing": "the body is not a compact JWS of an online move-out",
        "unknown_card": "no card with that key is in force here (never issued, or revoked)",
        "bad_signature": "the card named did not sign this filing",
    }


class FilingRefused(Problem):
    status, type, title = 422, "filing-refused", "The online move-out cannot be accepted"
    reasons: ClassVar[Mapping[str, str]] = {
        "not_this_town": "the filing is addressed to another town",
        "not_the_holder": "the card belongs to another resident than the filing names",
        "stale": "the signature is more than 10 minutes old (or ahead of the clock)",
        "planned_out_of_range": "the planned date is more than 14 days away",
        "unknown_destination": "the destination is not a town of the network (no certificate)",
    }


class FilingReplayed(Conflict):
    type, title = "filing-replayed", "This filing was accepted already"


Reachable = Callable[[Principal], object]
"""Raises unless something can be sealed to the town now (``Sealer.check_recipient``)."""


async def accept_filing(
    session: AsyncSession, node: Principal, token: str, reachable: Reachable
) -> FiledMoveOut:
    card, filing = await _verified(session, token)
    await _not_seen(session, card, filing)
    if card.revoked_at is not None:  # a new card, a move-out, a death: the old one is void
        raise CardRefused("the card is not in force here", reason="unknown_card")
    resident = await get_resident(session, card.resident_id)
    _check(filing, resident, node, utcnow())
    try:  # before the record is closed: a certificate nobody can receive moves no one
        reachable(Principal.municipality(filing.destination_municipality))
    except (FileNotFoundError, PkiError):
        raise FilingRefused("the destination is not a town of the network",
                            reason="unknown_destination") from None  # fmt: skip
    head, relation = await _household_facts(session, resident)
    now = utcnow()
    change = ChangeResident(
        reason=ChangeReason.MOVE_OUT, change_date=filing.planned_on, notified_on=now.date(),
        next_address=filing.destination_address,
        next_municipality=filing.destination_municipality,
    )  # fmt: skip
    await apply_change(session, node, resident.id, change, ACTOR)
    filed = FiledMoveOut(
        notice_id=uuid.uuid4().hex, resident_id=resident.id, card_key=card.public_key,
        nonce=filing.nonce, planned_on=filing.planned_on, visit_on=filing.visit_on,
        destination=filing.destination_municipality, signed_at=filing.signed_at,
        received_at=now,
    )  # fmt: skip
    session.add(filed)
    await send_certificate(session, node, resident, filed, household_head=head,
                           relation=relation)  # fmt: skip
    await revoke_cards(session, resident.id, now)  # it lives on at the new town
    return filed


async def _verified(session: AsyncSession, token: str) -> tuple[ResidentCard, OnlineMoveOut]:
    try:
        key = claimed_card(token)
    except BadCardSignature:
        raise CardRefused("not an online move-out", reason="not_a_filing") from None
    card = await session.get(ResidentCard, key)
    if card is None:
        raise CardRefused("the card is not in force here", reason="unknown_card")
    try:
        return card, verify_move_out(token, card.public_key)
    except BadCardSignature:
        raise CardRefused("the signature does not verify", reason="bad_signature") from None


def _check(filing: OnlineMoveOut, resident: Resident, node: Principal, now: dt.datetime) -> None:
    if filing.town != node.code:
        raise FilingRefused("the filing names another town", reason="not_this_town")
    if filing.resident_code != resident.resident_code:
        raise FilingRefused("the card is another resident's", reason="not_the_holder")
    if abs(now - filing.signed_at) > FRESH:
        raise FilingRefused("the signature is not fresh", reason="stale")
    if abs((filing.planned_on - now.date()).days) > MAX_DAYS_AHEAD:
        raise FilingRefused("file within 14 days of the move", reason="planned_out_of_range")


async def _not_seen(session: AsyncSession, card: ResidentCard, filing: OnlineMoveOut) -> None:
    seen = await session.scalar(
        select(FiledMoveOut.notice_id).where(
            FiledMoveOut.card_key == card.public_key, FiledMoveOut.nonce == filing.nonce
        )
    )
    if seen is not None:
        raise FilingReplayed("this signed filing was accepted before")


async def _household_facts(
    session: AsyncSession, resident: Resident
) -> tuple[str | None, str | None]:
    """The head's name and the resident's relation, as the certificate states them."""
    household = await session.get(Household, resident.household_id or "")
    if household is None or household.head_id is None:
        return None, resident.relation
    head = await session.get(Resident, household.head_id)
    return (head.name if head is not None else None), resident.relation
