"""The message router, in process: real sealed messages (the session's federation PKI)
opened by the receiving node, applied on a real SQLite database — directly, and through
the inbox the router is given (its ``apply`` and ``accepts``), without a broker.

A registered type from a sender it admits reaches its handler; a type nobody registered
is refused as ``unsupported_type``; a sender the type does not admit is refused with the
registration's reason, before the handler runs; a sender no type admits never takes a
place in its channel."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.bus import BusTables, InboxProcessor, Outcome, Rejected, bus_tables, enqueue
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.contracts.subjects import message_subject
from jukinet.db.engine import create_engine, session_factory
from jukinet.envelope import Opener, RecipientDirectory, Sealer, SignedMessage
from jukinet.node.router import MessageRouter, Senders
from jukinet.pki import Credentials, PkiLayout, TrustStore, utcnow
from tests.principals import AGENCY, HIRATSUKA, KANAGAWA, TOKYO

pytestmark = pytest.mark.asyncio(loop_scope="session")

TTL = dt.timedelta(hours=1)
PING = "test.ping.batch"  # from municipalities
ORDER = "test.order.batch"  # from the agency alone


@dataclass
class Node:
    """Kanagawa, with a router of two types whose handlers leave an outbox item each."""

    router: MessageRouter
    opener: Opener
    sessions: async_sessionmaker[AsyncSession]
    bus: BusTables
    handled: list[str] = field(default_factory=list)

    async def apply(self, message: SignedMessage) -> None:
        async with self.sessions() as session, session.begin():
            await self.router.apply(session, message, self.opener)

    async def outbox(self) -> list[str]:
        t = self.bus.outbox_items
        async with self.sessions() as session:
            return list(await session.scalars(select(t.c.message_type).order_by(t.c.id)))


def credentials(layout: PkiLayout, who: Principal) -> Credentials:
    return Credentials.load(layout.node_dir(who), layout.ca_cert, who)


def sealed(
    layout: PkiLayout, trust: TrustStore, sender: Principal, kind: str, sequence: int = 1
) -> str:
    sealer = Sealer(credentials(layout, sender), RecipientDirectory.from_layout(layout, trust))
    return sealer.seal(
        audience=KANAGAWA, type=kind, payload={"items": [{}]}, sequence=sequence, ttl=TTL
    ).token


@pytest.fixture
async def node(layout: PkiLayout, trust: TrustStore, tmp_path: Path) -> AsyncIterator[Node]:
    bus = bus_tables(metadata := MetaData())
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    router = MessageRouter("this node does not accept")
    node = Node(router, Opener(credentials(layout, KANAGAWA), trust), session_factory(engine), bus)

    def handler(reply: str) -> Any:
        async def handle(session: AsyncSession, message: SignedMessage, opener: Opener) -> None:
            assert opener is node.opener
            node.handled.append(message.type)
            await enqueue(session, bus, recipient=message.issuer, message_type=reply, payload={})

        return handle

    router.register(
        PING,
        handler("test.pong"),
        senders=Senders.kinds(PrincipalKind.MUNICIPALITY, detail="pings come from towns"),
    )
    router.register(
        ORDER,
        handler("test.done"),
        senders=Senders.only(AGENCY, reason="not_the_agency", detail="orders come from above"),
    )
    try:
        yield node
    finally:
        await engine.dispose()


async def test_a_registered_type_reaches_its_handler(
    node: Node, layout: PkiLayout, trust: TrustStore
) -> None:
    await node.apply(node.opener.open(sealed(layout, trust, HIRATSUKA, PING)))
    await node.apply(node.opener.open(sealed(layout, trust, AGENCY, ORDER)))
    assert node.handled == [PING, ORDER]
    assert await node.outbox() == ["test.pong", "test.done"]


async def test_a_type_nobody_registered_is_unsupported(
    node: Node, layout: PkiLayout, trust: TrustStore
) -> None:
    message = node.opener.open(sealed(layout, trust, HIRATSUKA, "test.other.batch"))
    with pytest.raises(Rejected) as refused:
        await node.apply(message)
    assert (refused.value.reason, refused.value.detail) == (
        "unsupported_type",
        "this node does not accept test.other.batch",
    )
    assert node.handled == []
    assert await node.outbox() == []


@pytest.mark.parametrize(
    ("sender", "kind", "reason", "detail"),
    [
        pytest.param(AGENCY, PING, "sender_not_permitted", "pings come from towns", id="kind"),
        pytest.param(HIRATSUKA, ORDER, "not_the_agency", "orders come from above", id="only"),
    ],
)
async def test_a_sender_the_type_does_not_admit_is_refused_before_the_handler(
    node: Node,
    layout: PkiLayout,
    trust: TrustStore,
    sender: Principal,
    kind: str,
    reason: str,
    detail: str,
) -> None:
    message = node.opener.open(sealed(layout, trust, sender, kind))
    with pytest.raises(Rejected) as refused:
        await node.apply(message)
    assert (refused.value.reason, refused.value.detail) == (reason, detail)
    assert node.handled == []
    assert await node.outbox() == []


async def test_the_node_accepts_whom_some_type_admits(node: Node) -> None:
    assert node.router.accepts(HIRATSUKA)
    assert node.router.accepts(AGENCY)
    assert not node.router.accepts(TOKYO)
    assert node.router.types == {PING, ORDER}


async def test_a_type_is_registered_once(node: Node) -> None:
    with pytest.raises(ValueError, match="registered already"):
        node.router.register(PING, node.router.apply, senders=Senders.only(AGENCY, detail="-"))


@dataclass
class FakeMsg:
    """What the inbox reads of a message the broker delivered."""

    subject: str
    data: bytes
    stream: int
    settled: list[str] = field(default_factory=list)

    @property
    def metadata(self) -> Any:
        return SimpleNamespace(sequence=SimpleNamespace(stream=self.stream), timestamp=utcnow())

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float = 0) -> None:
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")


async def test_the_inbox_applies_what_the_router_admits_and_dead_letters_the_rest(
    node: Node, layout: PkiLayout, trust: TrustStore
) -> None:
    inbox = InboxProcessor(
        node=KANAGAWA,
        sessions=node.sessions,
        tables=node.bus,
        opener=node.opener,
        apply=node.router.apply,
        accepts=node.router.accepts,
    )

    def delivered(sender: Principal, kind: str, sequence: int, stream: int) -> FakeMsg:
        token = sealed(layout, trust, sender, kind, sequence)
        return FakeMsg(message_subject(KANAGAWA, sender), token.encode(), stream)

    msgs = [
        delivered(TOKYO, PING, 1, 1),  # no type admits a prefecture: not even in its channel
        delivered(HIRATSUKA, "test.other.batch", 1, 2),  # authentic, its place taken
        delivered(AGENCY, PING, 1, 3),
        delivered(HIRATSUKA, PING, 2, 4),
    ]
    outcomes = await inbox.process(msgs)  # type: ignore[arg-type]

    assert outcomes == [Outcome.REFUSED, Outcome.REJECTED, Outcome.REJECTED, Outcome.APPLIED]
    assert [m.settled for m in msgs] == [["term"], ["term"], ["term"], ["ack"]]
    assert node.handled == [PING]
    t = node.bus
    async with node.sessions() as session:
        reasons = list(await session.scalars(select(t.dead_letters.c.reason).order_by("id")))
        channels = dict(
            (
                await session.execute(
                    select(t.inbox_channels.c.sender, t.inbox_channels.c.last_sequence)
                )
            ).all()
        )
    assert reasons == ["sender_not_permitted", "unsupported_type", "sender_not_permitted"]
    assert channels == {HIRATSUKA.uri: 2, AGENCY.uri: 1}  # Tokyo's channel was never opened
