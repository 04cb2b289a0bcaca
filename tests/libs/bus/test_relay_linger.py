"""After a step that relayed something, the relay lingers before the next, so what is
committed meanwhile shares a message; after a quiet step it waits for a commit to wake
it, and the first change after the quiet is relayed at once. The relay's steps and
sleeps are stand-ins here: this is its schedule, not its sealing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jukinet.bus import OutboxRelay
from jukinet.bus import _relay as relay_module

pytestmark = pytest.mark.asyncio


class Scripted(OutboxRelay):
    """A relay whose steps move the given numbers of messages, then stop the run."""

    def __init__(self, moved: list[int]) -> None:
        self._wake = asyncio.Event()
        self._retrying = None
        self.moved = moved
        self.trace: list[str] = []

    async def step(self) -> int:
        if not self.moved:
            raise asyncio.CancelledError
        self.trace.append("step")
        if self.moved[0] == 0:  # a commit arrives while the relay waits
            asyncio.get_running_loop().call_soon(self.notify)
        return self.moved.pop(0)


async def test_it_lingers_only_after_relaying_something(monkeypatch: Any) -> None:
    relay = Scripted([3, 1, 0, 2])

    async def sleep(seconds: float) -> None:
        relay.trace.append(f"linger {seconds}")

    monkeypatch.setattr(relay_module.asyncio, "sleep", sleep)
    with pytest.raises(asyncio.CancelledError):
        await relay.run(poll_interval=60, linger=0.02)
    assert relay.trace == [
        "step", "linger 0.02", "step", "linger 0.02", "step", "step", "linger 0.02",
    ]  # fmt: skip


async def test_without_linger_it_steps_again_at_once(monkeypatch: Any) -> None:
    relay = Scripted([3, 1, 0])

    async def sleep(seconds: float) -> None:
        relay.trace.append(f"linger {seconds}")

    monkeypatch.setattr(relay_module.asyncio, "sleep", sleep)
    with pytest.raises(asyncio.CancelledError):
        await relay.run(poll_interval=60)
    assert relay.trace == ["step", "step", "step"]
