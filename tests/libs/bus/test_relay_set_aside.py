"""Sealing never stops at one item: items for a recipient with no certificate here, and
an item that cannot be sealed on its own, are set aside with their reason while every
other item is sealed in order, and no channel sequence is spent on what was set aside.
Those waiting for a certificate go back in line by themselves once it is there."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import MetaData, text

from jukinet.bus import BusTables, OutboxRelay, bus_tables, enqueue
from jukinet.contracts.principals import Principal
from jukinet.db.engine import create_engine, session_factory
from jukinet.envelope import RecipientDirectory, Sealer
from jukinet.pki import CertificateAuthority, Credentials, PkiLayout, TrustStore
from tests.principals import HIRATSUKA, KANAGAWA, OSAKA_KITA

pytestmark = pytest.mark.asyncio

# OSAKA_KITA exists nationally, but the session PKI holds no certificate for it


@pytest_asyncio.fixture
async def relay(
    tmp_path: Path, layout: PkiLayout, trust: TrustStore
) -> AsyncIterator[tuple[OutboxRelay, BusTables, Any]]:
    tables = bus_tables(metadata := MetaData())
    engine = create_engine(f"sqlite:///{tmp_path / 'town.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    # a directory of its own: the test adds a certificate to it
    shutil.copytree(layout.root, tmp_path / "pki")
    own = PkiLayout(tmp_path / "pki")
    sealer = Sealer(
        Credentials.load(layout.node_dir(HIRATSUKA), layout.ca_cert, HIRATSUKA),
        RecipientDirectory.from_layout(own, trust),
    )
    r = OutboxRelay(
        sessions=sessions, tables=tables, sealer=sealer, js=None,  # type: ignore[arg-type]
        ttl=dt.timedelta(days=3), retry_waiting_every=0.0,
    )  # fmt: skip
    try:
        yield r, tables, (engine, sessions, own)
    finally:
        await engine.dispose()


async def add(sessions: Any, tables: BusTables, to: Principal, payload: dict[str, Any]) -> None:
    async with sessions() as session, session.begin():
        await enqueue(session, tables, recipient=to, message_type="t", payload=payload)


async def rows(engine: Any, sql: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())


async def test_what_cannot_be_sealed_is_set_aside_alone(relay: Any) -> None:
    r, tables, (engine, sessions, _) = relay
    await add(sessions, tables, KANAGAWA, {"n": 1})
    await add(sessions, tables, OSAKA_KITA, {"n": 2})
    await add(sessions, tables, KANAGAWA, {"n": 3})
    async with engine.begin() as conn:  # an item whose payload cannot be sealed
        await conn.execute(text("UPDATE outbox_items SET payload = '{broken' WHERE id = 3"))
    await add(sessions, tables, KANAGAWA, {"n": 4})
    await r.seal_pending()

    items = await rows(engine, "SELECT id, message_id IS NOT NULL, undeliverable "
                               "FROM outbox_items ORDER BY id")  # fmt: skip
    assert [tuple(i) for i in items] == [
        (1, True, None),
        (2, False, "no_recipient_certificate"),
        (3, False, "seal_failed"),
        (4, True, None),
    ]
    sealed = await rows(engine, "SELECT recipient, sequence FROM outbox_messages ORDER BY sequence")
    assert {m.recipient for m in sealed} == {KANAGAWA.uri}
    assert [m.sequence for m in sealed] == list(range(1, len(sealed) + 1))
    channels = await rows(engine, "SELECT recipient, last_sequence FROM channel_sequences")
    assert [tuple(c) for c in channels] == [(KANAGAWA.uri, len(sealed))]  # none spent on the rest

    await add(sessions, tables, KANAGAWA, {"n": 5})
    await r.seal_pending()  # the set-aside items are not tried again on every pass
    last = await rows(engine, "SELECT max(sequence), count(*) FROM outbox_messages")
    assert tuple(last[0]) == (len(sealed) + 1, len(sealed) + 1)
    assert (await rows(engine, "SELECT message_id IS NULL FROM outbox_items WHERE id = 5")) == [
        (False,)
    ]


async def test_items_waiting_for_a_certificate_go_back_in_line_when_it_comes(
    relay: Any, ca: CertificateAuthority
) -> None:
    r, tables, (engine, sessions, own) = relay
    await add(sessions, tables, OSAKA_KITA, {"n": 1})
    await add(sessions, tables, OSAKA_KITA, {"n": 2})
    await r.seal_pending()
    await r._retry_waiting()
    waiting = await rows(
        engine, "SELECT count(*) FROM outbox_items WHERE undeliverable IS NOT NULL"
    )
    assert waiting[0][0] == 2

    own.issue(ca, OSAKA_KITA, validity=dt.timedelta(days=1))
    await r._retry_waiting()
    await r.seal_pending()
    sealed = await rows(engine, "SELECT recipient, sequence, item_count FROM outbox_messages")
    assert [tuple(m) for m in sealed] == [(OSAKA_KITA.uri, 1, 2)]


async def test_items_waiting_for_a_certificate_keep_their_place_before_newer_ones(
    relay: Any, ca: CertificateAuthority
) -> None:
    """The certificate arrives between two automatic retries and a newer item for that
    recipient is committed first: the waiting items are still sealed ahead of it (a
    designation must reach the prefecture before the changes that use its codes)."""
    r, tables, (engine, sessions, own) = relay
    r._retry_every = 3600.0  # the automatic retry does not come round in this test
    await add(sessions, tables, OSAKA_KITA, {"n": 1})
    await add(sessions, tables, OSAKA_KITA, {"n": 2})
    await r._retry_waiting()
    await r.seal_pending()
    own.issue(ca, OSAKA_KITA, validity=dt.timedelta(days=1))
    await add(sessions, tables, OSAKA_KITA, {"n": 3})
    await r.seal_pending()

    sealed = await rows(engine, "SELECT sequence, item_count FROM outbox_messages")
    assert [tuple(m) for m in sealed] == [(1, 3)]  # one message, in commit order
    items = await rows(engine, "SELECT id, message_id IS NOT NULL, undeliverable "
                               "FROM outbox_items ORDER BY id")  # fmt: skip
    assert [tuple(i) for i in items] == [(1, True, None), (2, True, None), (3, True, None)]


async def test_a_held_channels_backlog_does_not_fill_the_scan(relay: Any) -> None:
    """A held channel with more unsent messages than one scan reads: the other channels'
    messages are still read, and the held one's come apart once its wait is over."""
    r, tables, (_, sessions, _) = relay
    r._scan_limit = 2
    for n in range(3):
        await add(sessions, tables, HIRATSUKA, {"n": n})
        await r.seal_pending()  # one message each
    await add(sessions, tables, KANAGAWA, {"n": 9})
    await r.seal_pending()
    r._held[HIRATSUKA.uri] = (float("inf"), 10.0)  # its last publish failed
    fresh, retrying = await r._unsent()
    assert [m.recipient for m in fresh] == [KANAGAWA.uri]
    assert retrying == []
    r._held[HIRATSUKA.uri] = (0.0, 10.0)  # its wait is over
    fresh, retrying = await r._unsent()
    assert [m.recipient for m in fresh] == [KANAGAWA.uri]
    assert [m.recipient for m in retrying] == [HIRATSUKA.uri] * 2


async def test_a_message_that_cannot_be_resealed_backs_off(
    relay: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A sealed message that must be sealed again (signed by another certificate) but
    cannot be is tried again only after a back-off, not on every pass of the relay."""
    r, tables, (engine, sessions, _) = relay
    await add(sessions, tables, KANAGAWA, {"n": 1})
    await r.seal_pending()
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE outbox_messages SET signed_by = 'a rotated key'"))
        await conn.execute(text("UPDATE outbox_items SET payload = '{broken'"))
    with caplog.at_level("WARNING", logger="jukinet.bus"):
        for _ in range(5):
            assert await r.reseal_stale() == 0
    assert len([m for m in caplog.messages if m.startswith("re-sealing for")]) == 1
