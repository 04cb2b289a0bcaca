"""The home municipality answers a copy request: verify, decide, record — one request at
a time, each in one transaction.

Verification, in order: the subjects (the broker guarantees the sender token, and the
reply must go back to that sender, from here); the envelope (audience here, signature,
time window); the signer is a municipality and is the subject's sender; the payload is a
valid request whose clerk is an operator of that municipality; the message id was never
answered before (replays are refused, also across restarts: the id is a unique key of
the ledger). There is deliberately no per-sender sequence check: many clerks of one town
ask at once, and their requests may overtake each other.

Every decision is written twice: a :class:`CopyProvision` row (who asked, for what,
whose record went out) and an entry in this office's operation log, whose actor is the
remote clerk. Requests refused before they can be trusted are logged to the operation
log only, as the anonymous sender municipality.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.contracts.identity import summarize
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.contracts.subjects import parse_copy_reply_subject, parse_copy_request_subject
from jukinet.envelope import EnvelopeError, Opener, SignedMessage
from jukinet.operators import Actor, Operation, Role, append_operation
from jukinet.pki import utcnow
from municipal.copies.models import CopyProvision
from municipal.copies.protocol import COPY_REQUEST, CopyAnswer, CopyRequest, Refusal
from municipal.copies.provide import find_person, records_for
from municipal.copies.repository import CopyProvisions
from municipal.models import Resident, operators

__all__ = ["PROVIDE", "HomeContext", "Unanswerable", "answer_request"]

log = logging.getLogger("jukinet.municipal.copies")
PROVIDE = "copies.provide"
_CODES = re.compile(r"[a-z0-9_.:;, -]{1,200}")


@dataclass(frozen=True)
class HomeContext:
    node: Principal
    sessions: async_sessionmaker[AsyncSession]
    home_name: str  # as printed on the copy (住所地の市区町村)
    key: ed25519.Ed25519PrivateKey  # signs the operation log


class Unanswerable(Exception):
    """No reply can be sent: the subjects are not a copy request to this node with a
    reply subject of its sender. The message is dropped (and logged by codes)."""


class _Refused(Exception):
    """The request is refused before it can be trusted (``code`` says which check)."""

    def __init__(self, code: str, message_id: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message_id = message_id


async def answer_request(
    ctx: HomeContext, opener: Opener, subject: str, reply: str, data: bytes
) -> tuple[Principal, CopyAnswer]:
    """Whom to answer (the sender the broker vouches for) and what to answer."""
    sender = _sender(ctx.node, subject, reply)
    try:
        message, request = _verified(opener, data, sender)
        return sender, await _decide(ctx, sender, message, request)
    except _Refused as exc:
        refused = exc
    except Exception as exc:  # the register is unreachable…: tell the counter at once
        log.error("copy request failed: %s", type(exc).__name__, extra={"origin": sender.code})
        return sender, CopyAnswer.refused(Refusal.UNAVAILABLE, in_reply_to=None)
    await _log_refusal(ctx, sender, refused)
    answer = CopyAnswer.refused(
        Refusal.INVALID_REQUEST, in_reply_to=refused.message_id, detail=refused.code
    )
    return sender, answer


def _sender(node: Principal, subject: str, reply: str | None) -> Principal:
    try:
        home, sender = parse_copy_request_subject(subject)
        issuer, responder, _ = parse_copy_reply_subject(reply or "")
    except ValueError:
        raise Unanswerable("not a copy request with a copy reply subject") from None
    if home != node or issuer != sender or responder != node:
        raise Unanswerable("the reply subject does not lead back to the sender")
    return sender


def _verified(opener: Opener, data: bytes, sender: Principal) -> tuple[SignedMessage, CopyRequest]:
    try:
        message = opener.open(data)
    except EnvelopeError as exc:
        raise _Refused(exc.code) from None
    if message.type != COPY_REQUEST:
        raise _Refused("unexpected_type", message.message_id)
    if message.issuer.kind is not PrincipalKind.MUNICIPALITY:
        raise _Refused("not_a_municipality", message.message_id)
    if message.issuer != sender:
        raise _Refused("sender_mismatch", message.message_id)
    try:
        request = CopyRequest.model_validate(message.payload)
    except ValidationError as exc:
        raise _Refused(_invalid_payload(exc), message.message_id) from None
    if request.clerk_office() != sender.code:
        raise _Refused("foreign_clerk", message.message_id)
    return message, request


def _invalid_payload(exc: ValidationError) -> str:
    """Where and what kind, when that is all field names and error codes; the sender
    chooses the names of unexpected fields, and they are not echoed or logged."""
    detail = f"invalid_payload: {summarize(exc)}"
    return detail if _CODES.fullmatch(detail) else "invalid_payload"


async def _decide(
    ctx: HomeContext, sender: Principal, message: SignedMessage, request: CopyRequest
) -> CopyAnswer:
    try:
        async with ctx.sessions() as session, session.begin():
            return await _provide(ctx, session, sender, message, request)
    except IntegrityError:  # the same message answered concurrently
        raise _Refused("replayed", message.message_id) from None


async def _provide(
    ctx: HomeContext,
    session: AsyncSession,
    sender: Principal,
    message: SignedMessage,
    request: CopyRequest,
) -> CopyAnswer:
    provisions = CopyProvisions(session)
    if await provisions.answered(message.message_id):
        raise _Refused("replayed", message.message_id)
    found = await find_person(session, request.person)
    people: list[Resident] = []
    answer = CopyAnswer.refused(found.refusal or Refusal.NOT_FOUND, in_reply_to=message.message_id)
    provision_id = uuid.uuid4().hex
    if found.resident is not None:
        people, records = await records_for(session, found.resident, request)
        answer = CopyAnswer(
            in_reply_to=message.message_id,
            outcome="provided",
            home_name=ctx.home_name,
            provision_id=provision_id,
            entries=records,
        )
    provisions.add(_provision(provision_id, sender, message, request, answer, people))
    outcome = "ok" if answer.reason is None else f"refused:{answer.reason.value}"
    actor = Actor(request.clerk, Role(request.clerk_role))
    await append_operation(
        session, operators, Operation.of(actor, PROVIDE, provision_id, outcome), ctx.key
    )
    await session.flush()
    context = {"origin": sender.code, "message_id": message.message_id, "count": len(people)}
    log.info("copy %s: %s", answer.outcome, outcome, extra=context)
    return answer


def _provision(
    provision_id: str,
    sender: Principal,
    message: SignedMessage,
    request: CopyRequest,
    answer: CopyAnswer,
    people: list[Resident],
) -> CopyProvision:
    return CopyProvision(
        id=provision_id,
        request_message_id=message.message_id,
        requester=sender.code,
        clerk=request.clerk,
        purpose=request.purpose,
        whole_household=request.whole_household,
        include_resident_code=request.include_resident_code,
        include_relation=request.include_relation,
        outcome=answer.outcome,
        reason=answer.reason.value if answer.reason else None,
        resident_ids=json.dumps([p.id for p in people]),
        requested_at=utcnow(),
    )


async def _log_refusal(ctx: HomeContext, sender: Principal, refused: _Refused) -> None:
    """An untrusted request: the operation log names the sending municipality (the
    broker vouches for it), never the clerk it claims."""
    code = refused.code.partition(":")[0]
    log.warning("copy request refused: %s", code, extra={"origin": sender.code})
    actor = Actor(sender.uri, Role.ANONYMOUS)
    entry = Operation.of(actor, PROVIDE, refused.message_id, f"refused:{code}")
    try:
        async with ctx.sessions() as session, session.begin():
            await append_operation(session, operators, entry, ctx.key)
    except Exception as exc:  # the refusal is still answered
        log.error("copy refusal not logged: %s", type(exc).__name__, extra={"origin": sender.code})
