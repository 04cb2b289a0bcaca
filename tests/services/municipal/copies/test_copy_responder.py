"""The copy listener's life: it waits for the broker connection, subscribes once per
connection, follows the runtime to a new connection (after a credential rollover), and
never lets one bad message escape into nats-py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from municipal.copies.home import HomeContext
from municipal.copies.responder import QUEUE, CopyResponder
from tests.principals import CHIYODA

pytestmark = pytest.mark.asyncio(loop_scope="session")

EVERY = 0.01


@dataclass
class FakeClient:
    is_connected: bool = True
    subscriptions: list[tuple[str, str]] = field(default_factory=list)

    async def subscribe(self, subject: str, queue: str, cb: Any) -> None:
        self.subscriptions.append((subject, queue))


@dataclass
class FakeMsg:
    subject: str
    reply: str
    data: bytes = b""
    responses: list[bytes] = field(default_factory=list)

    async def respond(self, data: bytes) -> None:
        self.responses.append(data)


def home() -> HomeContext:
    return HomeContext(CHIYODA, None, "千代田区", ed25519.Ed25519PrivateKey.generate())  # type: ignore[arg-type]


async def _until(check: Any) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(EVERY)
    raise AssertionError("not reached")


async def test_the_listener_waits_for_a_connection_and_follows_a_new_one() -> None:
    runtime = SimpleNamespace(nc=None)
    task = asyncio.create_task(CopyResponder(runtime, home(), every=EVERY).run())  # type: ignore[arg-type]
    try:
        await asyncio.sleep(5 * EVERY)  # no connection yet: nothing to do, no error
        first = FakeClient()
        runtime.nc = first
        await _until(lambda: first.subscriptions)
        await asyncio.sleep(5 * EVERY)
        assert first.subscriptions == [("jukinet.copy.req.131016.*", QUEUE)]  # once

        second = FakeClient(is_connected=False)  # rolled over, not connected yet
        runtime.nc = second
        await asyncio.sleep(5 * EVERY)
        assert second.subscriptions == []
        second.is_connected = True
        await _until(lambda: second.subscriptions)
        assert second.subscriptions == [("jukinet.copy.req.131016.*", QUEUE)]
    finally:
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize(
    "reply",
    ["", "_INBOX_142034.abc", "jukinet.copy.rep.141003.131016.abc"],
    ids=["no-reply", "an-inbox", "another-towns-answers"],
)
async def test_a_request_whose_answer_would_go_astray_is_dropped(reply: str) -> None:
    runtime = SimpleNamespace(nc=None, opener=None, sealer=None)
    responder = CopyResponder(runtime, home())  # type: ignore[arg-type]
    msg = FakeMsg("jukinet.copy.req.131016.142034", reply, b"sealed")
    await responder._on_request(msg)  # type: ignore[arg-type]
    assert msg.responses == []


async def test_a_failure_while_answering_does_not_escape() -> None:
    """Here the runtime has no opener at all: the request is answered "unavailable" and the
    sealing that follows fails; the callback still returns normally."""
    runtime = SimpleNamespace(nc=None, opener=None, sealer=None)
    responder = CopyResponder(runtime, home())  # type: ignore[arg-type]
    msg = FakeMsg("jukinet.copy.req.131016.142034", "jukinet.copy.rep.142034.131016.t", b"x")
    await responder._on_request(msg)  # type: ignore[arg-type]
    assert msg.responses == []
