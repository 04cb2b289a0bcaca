"""A service's message router without a broker: its node spec (router and migrations, as
its app builds them) on a freshly migrated database, fed real sealed messages from the
session's federation PKI, opened by the node as its inbox would."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jukinet.bus import Rejected
from jukinet.contracts.principals import Principal
from jukinet.db.engine import create_engine, session_factory
from jukinet.db.migrations import upgrade
from jukinet.envelope import Opener, RecipientDirectory, Sealer, SignedMessage
from jukinet.node.runtime import NodeSpec
from jukinet.pki import Credentials, PkiLayout, TrustStore
from tests.conftest import BACKENDS, fresh_database

__all__ = ["BACKENDS", "TOKEN", "Inbound", "fresh_database", "inbound"]

TOKEN = "t" * 32
TTL = dt.timedelta(hours=1)


@dataclass
class Inbound:
    node: Principal
    spec: NodeSpec
    layout: PkiLayout
    trust: TrustStore
    opener: Opener
    sessions: async_sessionmaker[AsyncSession]

    def message(self, sender: Principal, kind: str, payload: dict[str, Any]) -> SignedMessage:
        """``sender``'s message, as this node's inbox opens it."""
        creds = Credentials.load(self.layout.node_dir(sender), self.layout.ca_cert, sender)
        sealer = Sealer(creds, RecipientDirectory.from_layout(self.layout, self.trust))
        token = sealer.seal(audience=self.node, type=kind, payload=payload, sequence=1, ttl=TTL)
        return self.opener.open(token.token)

    async def apply(self, message: SignedMessage) -> None:
        """In one transaction, as the inbox applies a message."""
        async with self.sessions() as session, session.begin():
            await self.spec.messages.apply(session, message, self.opener)

    async def refusal(self, message: SignedMessage) -> tuple[str, str]:
        """Why the message is refused; its transaction leaves nothing in the outbox."""
        before = await self.outbox()
        with pytest.raises(Rejected) as refused:
            await self.apply(message)
        assert await self.outbox() == before
        return refused.value.reason, refused.value.detail

    async def outbox(self) -> list[tuple[str, str]]:
        """(recipient, type) of every item queued, in order."""
        t = self.spec.bus.outbox_items
        async with self.sessions() as session:
            rows = await session.execute(select(t.c.recipient, t.c.message_type).order_by(t.c.id))
            return [(r.recipient, r.message_type) for r in rows]


@asynccontextmanager
async def inbound(
    spec: NodeSpec, node: Principal, layout: PkiLayout, trust: TrustStore, database_url: str
) -> AsyncIterator[Inbound]:
    engine = create_engine(database_url)
    try:
        await upgrade(engine, spec.migrations)
        opener = Opener(Credentials.load(layout.node_dir(node), layout.ca_cert, node), trust)
        yield Inbound(node, spec, layout, trust, opener, session_factory(engine))
    finally:
        await engine.dispose()
