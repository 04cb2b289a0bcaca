"""A message that sat unsent for half its lifetime (the broker was down for days) is
sealed again with the same sequence before it is published, so it arrives fresh."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import MetaData, text

from jukinet.bus import OutboxRelay, bus_tables, connect, enqueue
from jukinet.db import create_engine, session_factory
from jukinet.envelope import Opener, RecipientDirectory, Sealer
from jukinet.localfed import LocalFederation
from jukinet.pki import Credentials, TrustStore, read_certificate, utcnow
from jukinet.principals import Principal
from jukinet.subjects import CONSUMER, inbox_prefix, stream_name

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

HIRATSUKA = Principal.municipality("142034")
KANAGAWA = Principal.prefecture("140007")
TTL = dt.timedelta(days=3)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalFederation]:
    fed = LocalFederation(Path(tmp_path_factory.mktemp("reseal")))
    fed.prepare()
    try:
        await fed.start_broker()
        yield fed
    finally:
        for b in fed.brokers:
            b.stop()


async def test_a_stale_unsent_message_is_resealed_with_its_sequence(
    broker: LocalFederation, tmp_path: Path
) -> None:
    fed = broker
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
            sessions=sessions, tables=tables, sealer=sealer, js=nc.jetstream(), ttl=TTL
        )
        async with sessions() as session, session.begin():
            for i in range(3):
                await enqueue(
                    session,
                    tables,
                    recipient=KANAGAWA,
                    message_type="identity.change",
                    payload={"n": i},
                )
        await relay.seal_pending()  # sealed, then the broker "was down" for two days
        async with engine.begin() as conn:
            old = (
                await conn.execute(text("SELECT message_id, sequence FROM outbox_messages"))
            ).one()
            await conn.execute(
                text("UPDATE outbox_messages SET created_at = :t"),
                {"t": utcnow() - dt.timedelta(days=2)},
            )
        assert await relay.step() == 1
    finally:
        await nc.close()

    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT message_id, sequence, sent_at FROM outbox_messages"))
        ).all()
    await engine.dispose()
    assert len(rows) == 1
    assert rows[0][0] != old[0]
    assert rows[0][1] == old[1]
    assert rows[0][2] is not None

    pref = await connect(KANAGAWA, fed.nats_urls, fed.tls(KANAGAWA))
    try:
        sub = await pref.jetstream().pull_subscribe_bind(
            CONSUMER, stream_name(KANAGAWA), inbox_prefix=(inbox_prefix(KANAGAWA) + ".").encode()
        )
        msgs = await sub.fetch(1, timeout=5)
        opener = Opener(
            Credentials.load(fed.layout.node_dir(KANAGAWA), fed.layout.ca_cert, KANAGAWA), trust
        )
        message = opener.open(msgs[0].data)
        await msgs[0].ack()
    finally:
        await pref.close()
    assert message.sequence == old[1]
    assert message.payload == {"items": [{"n": 0}, {"n": 1}, {"n": 2}]}
    assert abs(message.issued_at - utcnow().timestamp()) < 60
