"""The issuing municipality's side of the wire: ask the home municipality, read its answer.

A core NATS request/reply on the copy subjects (see :mod:`jukinet.contracts.subjects`). The reply
subject is fresh per request and lies below ``jukinet.copy.rep.<issuer>.<home>``, where
only the home municipality may publish and only the issuer may listen, so what arrives
there comes from the home municipality; the envelope then proves it again (signed by
the home municipality, sealed to the issuer, answering this very message id). When the
home municipality's service is not listening, the broker says so at once (a "no
responders" status on the reply subject), and the counter need not wait for a timeout.
"""

from __future__ import annotations

import contextlib
import uuid

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import Header
from pydantic import ValidationError

from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import copy_reply_subject, copy_request_subject
from jukinet.envelope import EnvelopeError, Opener, Sealed, Sealer
from jukinet.pki import PkiError
from municipal.copies.protocol import (
    COPY_ANSWER,
    COPY_REQUEST,
    REQUEST_TTL,
    CopyAnswer,
    CopyRequest,
    sequence_now,
)

__all__ = ["ExchangeFailed", "read_answer", "request_copy", "seal_request", "send"]

NO_RESPONDERS = "503"  # the status of the broker's own reply when nobody subscribes


class ExchangeFailed(Exception):
    """No usable answer. ``reason``: unknown_municipality (nobody to seal to),
    unreachable (no answer in time), bad_answer (an answer that does not verify)."""

    def __init__(self, reason: str, message_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id


def seal_request(sealer: Sealer, home: Principal, request: CopyRequest) -> Sealed:
    try:
        return sealer.seal(
            audience=home,
            type=COPY_REQUEST,
            payload=request.model_dump(mode="json", exclude_none=True),
            sequence=sequence_now(),
            ttl=REQUEST_TTL,
        )
    except (OSError, PkiError):  # no valid key-agreement certificate for that code
        raise ExchangeFailed("unknown_municipality") from None


async def send(nc: Client, issuer: Principal, home: Principal, token: str, *, wait: float) -> bytes:
    """Publish one sealed request and wait (at most ``wait`` seconds) for its one reply."""
    reply = copy_reply_subject(issuer, home, uuid.uuid4().hex)
    try:
        sub = await nc.subscribe(reply, max_msgs=1)
    except NatsError:
        raise ExchangeFailed("unreachable") from None
    try:
        await nc.publish(copy_request_subject(home, issuer), token.encode(), reply=reply)
        msg = await sub.next_msg(timeout=wait)
    except NatsError:  # timed out, or the connection went away
        raise ExchangeFailed("unreachable") from None
    finally:
        with contextlib.suppress(NatsError):
            await sub.unsubscribe()
    if msg.headers and msg.headers.get(Header.STATUS) == NO_RESPONDERS:
        raise ExchangeFailed("unreachable")  # the broker says nobody listens there
    data: bytes = msg.data
    return data


def read_answer(opener: Opener, data: bytes, *, home: Principal, sent_id: str) -> CopyAnswer:
    """Open and check the answer: from ``home``, to this node, about ``sent_id``."""
    try:
        message = opener.open(data)
        answer = CopyAnswer.model_validate(message.payload)
    except (EnvelopeError, ValidationError):
        raise ExchangeFailed("bad_answer", sent_id) from None
    if message.issuer != home or message.type != COPY_ANSWER:
        raise ExchangeFailed("bad_answer", sent_id)
    about = answer.in_reply_to
    if about != sent_id and not (about is None and answer.outcome == "refused"):
        raise ExchangeFailed("bad_answer", sent_id)
    return answer


async def request_copy(
    nc: Client,
    sealer: Sealer,
    opener: Opener,
    *,
    issuer: Principal,
    home: Principal,
    request: CopyRequest,
    wait: float,
) -> tuple[str, CopyAnswer]:
    """(the request's message id, the verified answer); ExchangeFailed otherwise."""
    sealed = seal_request(sealer, home, request)
    try:
        data = await send(nc, issuer, home, sealed.token, wait=wait)
    except ExchangeFailed as exc:
        raise ExchangeFailed(exc.reason, sealed.message_id) from None
    answer = read_answer(opener, data, home=home, sent_id=sealed.message_id)
    if not answer.conforms_to(request):  # more than was asked for: print none of it
        raise ExchangeFailed("bad_answer", sealed.message_id)
    return sealed.message_id, answer
