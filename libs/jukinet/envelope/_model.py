"""The signed message and the claims it carries."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509

from jukinet.contracts.principals import Principal
from jukinet.envelope._errors import ReplayedMessage, SequenceRegression

__all__ = [
    "MemoryReplayGuard",
    "ReplayGuard",
    "SignedMessage",
    "check_fresh",
    "forward_item",
    "new_message_id",
]

FORWARD_TYPE = "jukinet.forward"


def new_message_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """What ``open`` returns: verified claims, the payload, and the signed token itself
    (kept so a prefecture can forward the origin's signature untouched)."""

    issuer: Principal
    audience: Principal
    message_id: str
    issued_at: int
    expires_at: int
    sequence: int
    type: str
    payload: dict[str, Any]
    token: str
    signer: x509.Certificate
    stored_at: dt.datetime | None = None  # when the broker stored it, if it came that way

    @property
    def is_forward(self) -> bool:
        return self.type == FORWARD_TYPE


def forward_item(message: SignedMessage) -> dict[str, Any]:
    """What a forwarder passes on for ``message``: the origin's own signed token, and
    when its broker stored it (milliseconds, rounded up), by which the final recipient
    judges the origin's signer and expiry (see ``Opener.verify_origin``)."""
    item: dict[str, Any] = {"origin": message.token}
    if message.stored_at is not None:
        item["stored_at_ms"] = math.ceil(message.stored_at.timestamp() * 1000)
    return item


class ReplayGuard(Protocol):
    """Receiver state for replay and ordering checks (memory here; a database in services)."""

    def seen(self, message_id: str) -> bool: ...

    def last_sequence(self, issuer: Principal) -> int | None: ...

    def record(self, message: SignedMessage) -> None: ...


def check_fresh(message: SignedMessage, *, seen: bool, last_sequence: int | None) -> None:
    """The replay and sequence rules, shared by every guard implementation."""
    if seen:
        raise ReplayedMessage(f"message {message.message_id} was already received")
    if last_sequence is not None and message.sequence <= last_sequence:
        raise SequenceRegression(
            f"sequence {message.sequence} from {message.issuer} is not after {last_sequence}"
        )


class MemoryReplayGuard:
    """An in-process guard, for request/reply exchanges and tests."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._last: dict[Principal, int] = {}

    def seen(self, message_id: str) -> bool:
        return message_id in self._seen

    def last_sequence(self, issuer: Principal) -> int | None:
        return self._last.get(issuer)

    def record(self, message: SignedMessage) -> None:
        self._seen.add(message.message_id)
        self._last[message.issuer] = message.sequence
