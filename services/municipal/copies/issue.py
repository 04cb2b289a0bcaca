"""The issuing municipality: ask the home municipality, record the outcome, print.

Every request the counter sends leaves an :class:`IssuedCopy` row — issued, refused or
failed — written in a transaction of its own, so a refusal (which rolls back the
request's transaction and is answered as problem+json) is recorded all the same. The
operation-log entry is the route guard's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.contracts.identity import Sex
from jukinet.contracts.principals import Principal
from jukinet.contracts.residency import residency_of
from jukinet.envelope import Opener, Sealer
from jukinet.node.problems import Problem
from jukinet.operators import Actor
from jukinet.pki import utcnow
from municipal.copies.document import CertifiedCopy, CopyEntry, render_pdf
from municipal.copies.exchange import ExchangeFailed, request_copy
from municipal.copies.models import IssuedCopy
from municipal.copies.protocol import CopyAnswer, CopyRecord, CopyRequest, IssueCopy, Refusal
from municipal.copies.repository import IssuedCopies
from municipal.copies.settings import Issuer

__all__ = [
    "BadAnswer",
    "CopyNotIssued",
    "CopyRefused",
    "Counter",
    "HomeUnavailable",
    "PersonNotFound",
    "issue_copy",
]

log = logging.getLogger("jukinet.municipal.copies")
_JST = dt.timezone(dt.timedelta(hours=9), "JST")


class CopyRefused(Problem):
    status, type, title = 409, "copy-refused", "The home municipality gives no copy"
    reasons: ClassVar[Mapping[str, str]] = {
        Refusal.AMBIGUOUS: "more than one live resident matches: give the address or the code",
        Refusal.MOVED_OUT: "the person has moved out (転出)",
        Refusal.DECEASED: "the person has died (死亡)",
        Refusal.DELETED: "the record was deleted (消除) for another reason",
    }


class PersonNotFound(Problem):
    status, type, title = 404, "copy-person-not-found", "Nobody registered there matches the ID"
    reasons: ClassVar[Mapping[str, str]] = {
        Refusal.NOT_FOUND: "nobody registered there matches what the ID says"
    }


class CopyNotIssued(Problem):
    status, type, title = 422, "copy-not-issued", "The copy cannot be issued as asked"
    reasons: ClassVar[Mapping[str, str]] = {
        Refusal.INVALID_REQUEST: "the home municipality found the request not valid",
        "own_municipality": "the person is this municipality's: POST /copies/own",
        "unknown_municipality": "no municipality with that code can be asked",
        "unprintable": "the record holds what the certificate cannot print truthfully",
    }


class BadAnswer(Problem):
    status, type, title = 502, "copy-bad-answer", "The home municipality's answer is not valid"
    reasons: ClassVar[Mapping[str, str]] = {
        "bad_answer": "the answer does not verify or does not fit the request"
    }


class HomeUnavailable(Problem):
    status, type, title = 503, "copy-home-unavailable", "The home municipality cannot be reached"
    reasons: ClassVar[Mapping[str, str]] = {
        Refusal.UNAVAILABLE: "the home municipality could not answer now",
        "unreachable": "no answer in time, or its service is not listening",
        "broker_unavailable": "this municipality is not connected to the broker",
    }


# Each reason the home municipality or the exchange gives, to the problem it is answered with.
_BY_REASON: dict[str, type[Problem]] = {
    code: kind
    for kind in (CopyRefused, PersonNotFound, CopyNotIssued, BadAnswer, HomeUnavailable)
    for code in kind.reasons
}


@dataclass(frozen=True)
class Counter:
    """What issuing needs from the running node (read per request: the broker
    connection and the keys change over the node's life)."""

    node: Principal
    sessions: async_sessionmaker[AsyncSession]
    issuer: Issuer
    timeout: float
    nc: Client | None
    sealer: Sealer
    opener: Opener


async def issue_copy(counter: Counter, body: IssueCopy, actor: Actor, copy_id: str) -> bytes:
    """The certified copy as PDF bytes; a :class:`Problem` with the reason code otherwise."""
    home = Principal.municipality(body.home_municipality)
    if home == counter.node:
        detail = "this municipality's residents: POST /copies/own (the own register)"
        raise CopyNotIssued(detail, reason="own_municipality")
    clerk = {"clerk": actor.name, "clerk_role": actor.role.value}
    request = CopyRequest.model_validate(body.model_dump(exclude={"home_municipality"}) | clerk)
    row = _row(copy_id, home, request)
    try:
        row.request_message_id, answer = await _exchange(counter, home, request)
    except ExchangeFailed as exc:
        row.request_message_id = exc.message_id
        await _save(counter, _outcome(row, "failed", exc.reason))
        raise _BY_REASON[exc.reason](f"no copy: {exc.reason}", reason=exc.reason) from None
    if answer.reason is not None:
        reason = answer.reason.value
        await _save(counter, _outcome(row, "refused", reason))
        why = f"the home municipality refused: {answer.detail or reason}"  # codes only
        raise _BY_REASON[reason](why, reason=reason)
    row.provision_id, row.people = answer.provision_id, len(answer.entries)
    serial = await _save(counter, _outcome(row, "issued", None))
    return await _render(counter, row, serial, answer)


async def _exchange(
    counter: Counter, home: Principal, request: CopyRequest
) -> tuple[str, CopyAnswer]:
    nc = counter.nc
    if nc is None or not nc.is_connected:
        raise ExchangeFailed("broker_unavailable")
    return await request_copy(
        nc,
        counter.sealer,
        counter.opener,
        issuer=counter.node,
        home=home,
        request=request,
        wait=counter.timeout,
    )


async def _render(counter: Counter, row: IssuedCopy, serial: int, answer: CopyAnswer) -> bytes:
    """Render off the event loop. Data the certificate cannot show truthfully (a glyph the
    font lacks, an impossible date) fails the copy, recorded as unprintable."""
    try:
        copy = _certified_copy(counter, row, serial, answer)
        return await asyncio.to_thread(render_pdf, copy)
    except ValueError:
        await _mark(counter, serial, "failed", "unprintable")
        raise CopyNotIssued("the record cannot be printed", reason="unprintable") from None
    except Exception:
        await _mark(counter, serial, "failed", "render_failed")
        raise


def _certified_copy(
    counter: Counter, row: IssuedCopy, serial: int, answer: CopyAnswer
) -> CertifiedCopy:
    if answer.home_name is None:  # pragma: no cover - CopyAnswer requires it when provided
        raise ValueError("a provided copy names the home municipality")
    return CertifiedCopy(
        issuer_name=counter.issuer.name,
        issuer_code=counter.node.code,
        mayor=counter.issuer.mayor,
        issue_date=dt.datetime.now(_JST).date(),
        home_name=answer.home_name,
        home_code=row.home_municipality,
        serial=f"第{serial:06d}号",
        entries=[_entry(record) for record in answer.entries],
    )


def _entry(record: CopyRecord) -> CopyEntry:
    return CopyEntry(
        name=record.name,
        name_kana=record.name_kana,
        birth_date=record.birth_date,
        sex="male" if record.sex is Sex.MALE else "female",
        address=record.address,
        became_resident_date=record.became_resident_on,
        change_reason_label=record.change_reason.label,
        change_date=record.change_date,
        previous_address=record.previous_address,
        household_head=record.household_head,
        resident_code=record.resident_code,
        relation=record.relation,
        **residency_of(record),
    )


def _row(copy_id: str, home: Principal, request: CopyRequest) -> IssuedCopy:
    return IssuedCopy(
        copy_id=copy_id,
        home_municipality=home.code,
        clerk=request.clerk,
        purpose=request.purpose,
        whole_household=request.whole_household,
        include_resident_code=request.include_resident_code,
        include_relation=request.include_relation,
        people=0,
        requested_at=utcnow(),
    )


def _outcome(row: IssuedCopy, outcome: str, reason: str | None) -> IssuedCopy:
    row.outcome, row.reason = outcome, reason
    return row


async def _save(counter: Counter, row: IssuedCopy) -> int:
    """Commit the row on its own; return its number (the copy's serial)."""
    async with counter.sessions() as session, session.begin():
        serial = await IssuedCopies(session).add(row)
    context = {"origin": row.home_municipality, "message_id": row.request_message_id}
    log.info("copy %s: %s", row.outcome, row.reason or "ok", extra=context | {"count": row.people})
    return serial


async def _mark(counter: Counter, serial: int, outcome: str, reason: str) -> None:
    async with counter.sessions() as session, session.begin():
        await IssuedCopies(session).mark(serial, outcome=outcome, reason=reason)
