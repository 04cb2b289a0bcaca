"""転出証明書情報 between towns (転出届の特例): the old town sends it, sealed to the
destination; the destination keeps it for its clerks until a 転入 is recorded from it or
its period ends (30 days after the planned date; a 転入届 within 14 days of moving in).

A certificate is accepted only from the town the person moved out of, and only by the
town it names as the destination: one sent to another town is refused (dead-lettered
with its reason) and changes nothing there."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import ClassVar

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import Rejected, dead_letter_part, enqueue
from jukinet.contracts.identity import name_key, summarize
from jukinet.contracts.moveout import DAYS_AFTER_MOVE_IN, MOVE_OUT_CERTIFICATE, MoveOutCertificate
from jukinet.contracts.principals import Principal
from jukinet.contracts.residency import residency_of
from jukinet.envelope import SignedMessage
from jukinet.node.problems import Conflict, NotFound
from jukinet.pki import utcnow
from municipal.models import FiledMoveOut, IncomingMoveOut, Resident, ResidentCard, bus
from municipal.moveouts.cards import revoke_cards
from municipal.residents.emit import identity_record
from municipal.residents.schemas import RegisterResident

__all__ = ["NoticeClosed", "NoticeMismatch", "close_certificate", "expire_certificates",
           "from_certificate", "incoming", "receive_certificates", "send_certificate",
           "take_certificate"]  # fmt: skip

log = logging.getLogger("jukinet.municipal.moveouts")
MAX_CERTIFICATES = 1000


class NoticeClosed(Conflict):
    type, title = "notice-closed", "The move-out certificate can no longer serve a move-in"
    reasons: ClassVar[Mapping[str, str]] = {
        "used": "a move-in was recorded from it already",
        "expired": "its period ended: 30 days after the planned date",
        "late": "the move-in is notified more than 14 days after moving in",
    }


class NoticeMismatch(Conflict):
    type, title = "notice-mismatch", "The move-in does not fit the move-out certificate"
    reasons: ClassVar[Mapping[str, str]] = {
        "another_person": "name, birth date, sex, 旧氏, nationality or 通称 differ from the "
        "certificate's",
        "before_planned": "the move-in date is before the planned move-out date",
    }


async def send_certificate(
    session: AsyncSession, node: Principal, resident: Resident, filed: FiledMoveOut, *,
    household_head: str | None, relation: str | None,
) -> None:  # fmt: skip
    """Queue the certificate of the move-out just recorded, for the destination alone."""
    certificate = MoveOutCertificate(
        notice_id=filed.notice_id, record=identity_record(node, resident),
        individual_number=resident.individual_number, next_municipality=filed.destination,
        next_address=resident.next_address, visit_on=filed.visit_on,
        valid_until=filed.planned_on + dt.timedelta(days=30), household_head=household_head,
        relation=relation, registered_domicile=resident.registered_domicile,
        family_register_head=resident.family_register_head, card_key=filed.card_key,
    )  # fmt: skip
    await enqueue(session, bus, recipient=Principal.municipality(filed.destination),
                  message_type=MOVE_OUT_CERTIFICATE,
                  payload=certificate.model_dump(mode="json"))  # fmt: skip


async def receive_certificates(
    session: AsyncSession, node: Principal, message: SignedMessage
) -> None:
    """Keep each certificate addressed here; each stands alone (one refused is dead-lettered
    with its reason, the others still kept). A redelivered one is kept once."""
    items = message.payload.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_CERTIFICATES:
        raise Rejected("invalid_payload", "items must be a list of 1 to 1000 certificates")
    if len(items) == 1:
        await _keep(session, node, message, items[0])
        return
    for item in items:
        try:
            async with session.begin_nested():
                await _keep(session, node, message, item)
        except Rejected as exc:
            await dead_letter_part(
                session, bus, sender=message.issuer.code, message_id=message.message_id,
                reason=exc.reason, detail=exc.detail, now=utcnow(),
            )  # fmt: skip


async def _keep(
    session: AsyncSession, node: Principal, message: SignedMessage, item: object
) -> None:
    try:
        certificate = MoveOutCertificate.model_validate(item)
    except ValidationError as exc:
        raise Rejected("invalid_payload", summarize(exc)) from None
    if certificate.record.municipality != message.issuer.code:
        raise Rejected("foreign_certificate", "a certificate comes from the town moved out of")
    if certificate.next_municipality != node.code:
        raise Rejected("wrong_town", "the certificate names another town as the destination")
    if await session.get(IncomingMoveOut, certificate.notice_id) is not None:
        return  # delivered again: kept once
    session.add(IncomingMoveOut(
        notice_id=certificate.notice_id, sender=message.issuer.code,
        resident_code=certificate.record.resident_code,
        certificate=certificate.model_dump_json(), planned_on=certificate.planned_on,
        visit_on=certificate.visit_on, valid_until=certificate.valid_until, status="pending",
        received_at=utcnow(),
    ))  # fmt: skip
    log.info("move-out certificate received", extra={"origin": message.issuer.code})


async def expire_certificates(session: AsyncSession, today: dt.date) -> int:
    """Close the pending certificates whose period has ended; how many."""
    result = await session.execute(
        update(IncomingMoveOut)
        .where(IncomingMoveOut.status == "pending", IncomingMoveOut.valid_until < today)
        .values(status="expired", closed_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def incoming(session: AsyncSession, today: dt.date, *, all_: bool) -> list[IncomingMoveOut]:
    """The clerk's view: the pending certificates (every one, with ``all_``), soonest
    visit first."""
    await expire_certificates(session, today)
    query = select(IncomingMoveOut).order_by(IncomingMoveOut.visit_on, IncomingMoveOut.notice_id)
    if not all_:
        query = query.where(IncomingMoveOut.status == "pending")
    return list(await session.scalars(query))


async def take_certificate(
    session: AsyncSession, body: RegisterResident, today: dt.date
) -> tuple[IncomingMoveOut, MoveOutCertificate]:
    """The certificate a 転入 is recorded from, if it still serves this person's move-in."""
    row = await session.get(IncomingMoveOut, body.move_out_notice_id or "", with_for_update=True)
    if row is None:
        raise NotFound("no such move-out certificate arrived here")
    if row.status == "pending" and row.valid_until < today:
        row.status, row.closed_at = "expired", utcnow()
    if row.status != "pending":
        raise NoticeClosed(f"the certificate is {row.status}", reason=row.status)
    certificate = MoveOutCertificate.model_validate_json(row.certificate)
    _fits(certificate, body)
    return row, certificate


def from_certificate(body: RegisterResident, certificate: MoveOutCertificate) -> RegisterResident:
    """The move-in with what the certificate states: code, 個人番号, previous address and
    town, and 本籍 and 筆頭者 unless the clerk gave them."""
    record = certificate.record
    return body.model_copy(update={
        **residency_of(record),
        "resident_code": record.resident_code, "individual_number": certificate.individual_number,
        "previous_address": record.address, "previous_municipality": record.municipality,
        "registered_domicile": body.registered_domicile or certificate.registered_domicile,
        "family_register_head": body.family_register_head or certificate.family_register_head,
    })  # fmt: skip


def _fits(certificate: MoveOutCertificate, body: RegisterResident) -> None:
    record = certificate.record
    same = (record.birth_date, record.sex, name_key(record.name)) == (
        body.birth_date, body.sex, name_key(body.name))  # fmt: skip
    stated = residency_of(record)
    same = same and all(value in (None, stated[field])
                        for field, value in residency_of(body).items())  # fmt: skip
    if not same:
        raise NoticeMismatch("the person differs from the certificate's", reason="another_person")
    if body.change_date < certificate.planned_on:
        raise NoticeMismatch("moved in before the planned move-out date",
                             reason="before_planned")  # fmt: skip
    notified = body.notified_on or body.change_date
    if (notified - body.change_date).days > DAYS_AFTER_MOVE_IN:
        raise NoticeClosed("notified more than 14 days after moving in", reason="late")


async def close_certificate(
    session: AsyncSession, row: IncomingMoveOut, certificate: MoveOutCertificate, resident: Resident
) -> None:
    """The move-in is recorded: the certificate is used, and the card lives on here."""
    now = utcnow()
    row.status, row.resident_id, row.closed_at = "used", resident.id, now
    await revoke_cards(session, resident.id, now)  # someone moving back: old cards stay dead
    if certificate.card_key is None:
        return
    card = await session.get(ResidentCard, certificate.card_key)
    if card is None:
        session.add(ResidentCard(public_key=certificate.card_key, resident_id=resident.id,
                                 issued_at=now))  # fmt: skip
    elif card.resident_id == resident.id:  # the same card, registered here before
        card.revoked_at = None
    else:  # another resident's key: never taken over; the card is handed at the counter
        log.warning("a carried card's key is registered to another resident here")
