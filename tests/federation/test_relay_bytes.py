"""A backlog whose items exceed the relay's byte cap is sealed into several messages, in
order and complete; an item larger than the cap travels alone."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import MetaData, text

from jukinet.bus import OutboxRelay, bus_tables, connect, enqueue
from jukinet.db import create_engine, session_factory
from jukinet.envelope import Opener, RecipientDirectory, Sealer, SignedMessage
from jukinet.localfed import LocalFederation
from jukinet.pki import Credentials, TrustStore, read_certificate
from jukinet.principals import Principal
from jukinet.subjects import CONSUMER, inbox_prefix, stream_name

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

HIRATSUKA = Principal.municipality("142034")
KANAGAWA = Principal.prefecture("140007")


def item(n: int, chars: int) -> dict[str, Any]:
    return {"n": n, "pad": "住" * chars}  # three UTF-8 bytes a character


def encoded(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalFederation]:
    fed = LocalFederation(Path(tmp_path_factory.mktemp("relay-bytes")))
    fed.prepare()
    try:
        await fed.start_broker()
        yield fed
    finally:
        for b in fed.brokers:
            b.stop()


async def test_a_backlog_over_the_byte_cap_is_sealed_as_several_messages(
    broker: LocalFederation, tmp_path: Path
) -> None:
    fed = broker
    payloads = [item(i, 100) for i in range(3)] + [item(3, 400)] + [item(i, 100) for i in (4, 5, 6)]
    one = encoded(payloads[0])
    cap = 2 * one + one // 2  # two ordinary items fit, a third does not
    assert all(encoded(p) == one for p in payloads if p["n"] != 3)
    assert encoded(payloads[3]) > cap
    assert len(json.dumps(payloads[0], ensure_ascii=False)) * 2 < cap  # only bytes overflow

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
        relay = OutboxRelay(
            sessions=sessions,
            tables=tables,
            sealer=sealer,
            js=nc.jetstream(),
            ttl=dt.timedelta(days=3),
            max_message_bytes=cap,
        )
        async with sessions() as session, session.begin():
            for payload in payloads:
                await enqueue(
                    session, tables, recipient=KANAGAWA, message_type="identity.change",
                    payload=payload,
                )  # fmt: skip
        assert await relay.step() == 5
    finally:
        await nc.close()
    async with engine.connect() as conn:
        sealed = (
            await conn.execute(
                text("SELECT sequence, item_count, sent_at FROM outbox_messages ORDER BY sequence")
            )
        ).all()
    await engine.dispose()
    assert [(s, c) for s, c, _ in sealed] == [(1, 2), (2, 1), (3, 1), (4, 2), (5, 1)]
    assert all(sent is not None for _, _, sent in sealed)

    pref = await connect(KANAGAWA, fed.nats_urls, fed.tls(KANAGAWA))
    opener = Opener(
        Credentials.load(fed.layout.node_dir(KANAGAWA), fed.layout.ca_cert, KANAGAWA), trust
    )
    received: list[SignedMessage] = []
    try:
        sub = await pref.jetstream().pull_subscribe_bind(
            CONSUMER, stream_name(KANAGAWA), inbox_prefix=(inbox_prefix(KANAGAWA) + ".").encode()
        )
        for _ in range(5):  # bounded: five messages were acknowledged by JetStream
            for msg in await sub.fetch(5 - len(received), timeout=5):
                received.append(opener.open(msg.data))
                await msg.ack()
            if len(received) == 5:
                break
    finally:
        await pref.close()
    assert [m.sequence for m in received] == [1, 2, 3, 4, 5]
    assert [[i["n"] for i in m.payload["items"]] for m in received] == [
        [0, 1], [2], [3], [4, 5], [6],
    ]  # fmt: skip
    assert [i for m in received for i in m.payload["items"]] == payloads
