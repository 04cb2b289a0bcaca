"""What a node takes over the bus, and who may send it: one handler per message type.

Each service builds one :class:`MessageRouter` and registers, per message type, its
handler and its :class:`Senders`. The router is what the inbox is given: ``accepts`` is
its channel test (may this sender write here at all: some type admits it), ``apply``
its handler (a type nobody registered is refused as ``unsupported_type``, a sender the
type does not admit with the registration's reason, then the handler runs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.contracts.messages import Rejected
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.envelope import Opener, SignedMessage

__all__ = ["Handler", "MessageRouter", "Senders"]

Handler = Callable[[AsyncSession, SignedMessage, Opener], Awaitable[object]]
"""Applies one verified message inside the inbox transaction (what it returns is
ignored); raises :class:`Rejected` to refuse it."""


@dataclass(frozen=True)
class Senders:
    """Who may send a message type; anyone else's message of that type is refused with
    ``reason`` and ``detail`` (a stable code and words, never values)."""

    admits: Callable[[Principal], bool]
    detail: str
    reason: str = "sender_not_permitted"

    @classmethod
    def kinds(
        cls, *kinds: PrincipalKind, detail: str, reason: str = "sender_not_permitted"
    ) -> Senders:
        """Any principal of these kinds."""
        wanted = frozenset(kinds)
        return cls(lambda sender: sender.kind in wanted, detail, reason)

    @classmethod
    def only(
        cls, *principals: Principal, detail: str, reason: str = "sender_not_permitted"
    ) -> Senders:
        """Exactly these principals."""
        wanted = frozenset(principals)
        return cls(lambda sender: sender in wanted, detail, reason)


@dataclass(frozen=True)
class _Route:
    handler: Handler
    senders: Senders


class MessageRouter:
    """The message types of one node. ``refuses`` begins the detail of the refusal of a
    type nobody registered, e.g. ``"the agency does not accept"``."""

    def __init__(self, refuses: str) -> None:
        self._refuses = refuses
        self._routes: dict[str, _Route] = {}

    def register(self, message_type: str, handler: Handler, *, senders: Senders) -> None:
        if message_type in self._routes:
            raise ValueError(f"{message_type} is registered already")
        self._routes[message_type] = _Route(handler, senders)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._routes)

    def accepts(self, sender: Principal) -> bool:
        """Whether ``sender`` may write to this node at all (some type admits it): the
        inbox refuses anyone else before their message takes a place in a channel."""
        return any(route.senders.admits(sender) for route in self._routes.values())

    async def apply(self, session: AsyncSession, message: SignedMessage, opener: Opener) -> None:
        """The inbox's handler (:data:`jukinet.bus.Apply`)."""
        route = self._routes.get(message.type)
        if route is None:
            raise Rejected("unsupported_type", f"{self._refuses} {message.type}")
        if not route.senders.admits(message.issuer):
            raise Rejected(route.senders.reason, route.senders.detail)
        await route.handler(session, message, opener)
