"""The outbox relay against a real broker: a message unsent for half its lifetime (the
broker was down for days) is sealed again with the same sequence, so it arrives fresh;
a backlog over the byte cap is sealed as several messages, in order and complete, with
an item larger than the cap alone."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jukinet.bus import BusTables, OutboxRelay, bus_tables, connect, enqueue
from jukinet.contracts.subjects import CONSUMER, inbox_prefix, stream_name
from jukinet.db.engine import create_engine, session_factory
from jukinet.devtools.localfed import LocalFederation
from jukinet.envelope import Opener, RecipientDirectory, Sealer, SignedMessage
from jukinet.pki import Credentials, TrustStore, read_certificate, utcnow
from tests.principals import HIRATSUKA, KANAGAWA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

TTL = dt.timedelta(days=3)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalFederation]:
    fed = LocalFederation(Path(tmp_path_factory.mktemp("relay")))
    fed.prepare()
    try:
        await fed.start_broker()
        yield fed
    finally:
        for b in fed.brokers:
            b.stop()


@dataclass
class Town:
    """Hiratsuka's outbox in its own SQLite database, and a relay publishing it."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tables: BusTables
    relay: OutboxRelay

    async def enqueue(self, payloads: list[dict[str, Any]]) -> None:
        async with self.sessions() as session, session.begin():
            for payload in payloads:
                await enqueue(
                    session, self.tables, recipient=KANAGAWA, message_type="identity.change",
                    payload=payload,
                )  # fmt: skip

    async def rows(self, sql: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())


@contextlib.asynccontextmanager
async def town(fed: LocalFederation, tmp_path: Path, **relay: Any) -> AsyncIterator[Town]:
    tables = bus_tables(metadata := MetaData())
    engine = create_engine(f"sqlite:///{tmp_path / 'town.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    creds = Credentials.load(fed.layout.node_dir(HIRATSUKA), fed.layout.ca_cert, HIRATSUKA)
    trust = TrustStore(read_certificate(fed.layout.ca_cert))
    sealer = Sealer(creds, RecipientDirectory.from_layout(fed.layout, trust))
    nc = await connect(HIRATSUKA, fed.nats_urls, fed.tls(HIRATSUKA))
    try:
        yield Town(
            engine,
            sessions,
            tables,
            OutboxRelay(
                sessions=sessions,
                tables=tables,
                sealer=sealer,
                js=nc.jetstream(),
                ttl=TTL,
                **relay,
            ),
        )
    finally:
        await nc.close()
        await engine.dispose()


async def received(fed: LocalFederation, count: int) -> list[SignedMessage]:
    """Kanagawa's next ``count`` messages, opened and acknowledged."""
    pref = await connect(KANAGAWA, fed.nats_urls, fed.tls(KANAGAWA))
    trust = TrustStore(read_certificate(fed.layout.ca_cert))
    opener = Opener(
        Credentials.load(fed.layout.node_dir(KANAGAWA), fed.layout.ca_cert, KANAGAWA), trust
    )
    messages: list[SignedMessage] = []
    try:
        sub = await pref.jetstream().pull_subscribe_bind(
            CONSUMER, stream_name(KANAGAWA), inbox_prefix=(inbox_prefix(KANAGAWA) + ".").encode()
        )
        for _ in range(count):  # bounded: every message was acknowledged by JetStream
            for msg in await sub.fetch(count - len(messages), timeout=5):
                messages.append(opener.open(msg.data))
                await msg.ack()
            if len(messages) == count:
                break
    finally:
        await pref.close()
    return messages


async def test_a_stale_unsent_message_is_resealed_with_its_sequence(
    broker: LocalFederation, tmp_path: Path
) -> None:
    async with town(broker, tmp_path) as t:
        await t.enqueue([{"n": i} for i in range(3)])
        await t.relay.seal_pending()  # sealed, then the broker "was down" for two days
        (old,) = await t.rows("SELECT message_id, sequence FROM outbox_messages")
        async with t.engine.begin() as conn:
            await conn.execute(
                text("UPDATE outbox_messages SET created_at = :t"),
                {"t": utcnow() - dt.timedelta(days=2)},
            )
        assert await t.relay.step() == 1
        rows = await t.rows("SELECT message_id, sequence, sent_at FROM outbox_messages")
    assert len(rows) == 1
    assert rows[0][0] != old[0]
    assert rows[0][1] == old[1]
    assert rows[0][2] is not None

    (message,) = await received(broker, 1)
    assert message.sequence == old[1]
    assert message.payload == {"items": [{"n": 0}, {"n": 1}, {"n": 2}]}
    assert abs(message.issued_at - utcnow().timestamp()) < 60


def item(n: int, chars: int) -> dict[str, Any]:
    return {"n": n, "pad": "住" * chars}  # three UTF-8 bytes a character


def encoded(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


async def test_a_backlog_over_the_byte_cap_is_sealed_as_several_messages(
    broker: LocalFederation, tmp_path: Path
) -> None:
    payloads = [item(i, 100) for i in range(3)] + [item(3, 400)] + [item(i, 100) for i in (4, 5, 6)]
    one = encoded(payloads[0])
    cap = 2 * one + one // 2  # two ordinary items fit, a third does not
    assert all(encoded(p) == one for p in payloads if p["n"] != 3)
    assert encoded(payloads[3]) > cap
    assert len(json.dumps(payloads[0], ensure_ascii=False)) * 2 < cap  # only bytes overflow

    async with town(broker, tmp_path, max_message_bytes=cap) as t:
        await t.enqueue(payloads)
        assert await t.relay.step() == 5
        sealed = await t.rows(
            "SELECT sequence, item_count, sent_at FROM outbox_messages ORDER BY sequence"
        )
    assert [(s, c) for s, c, _ in sealed] == [(1, 2), (2, 1), (3, 1), (4, 2), (5, 1)]
    assert all(sent is not None for _, _, sent in sealed)

    messages = await received(broker, 5)
    assert [m.sequence for m in messages] == [1, 2, 3, 4, 5]
    assert [[i["n"] for i in m.payload["items"]] for m in messages] == [
        [0, 1], [2], [3], [4, 5], [6],
    ]  # fmt: skip
    assert [i for m in messages for i in m.payload["items"]] == payloads
