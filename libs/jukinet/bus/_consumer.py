"""The consumer loop: bind to the node's durable pull consumer, fetch, process, repeat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext

from jukinet.bus._inbox import InboxProcessor
from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import CONSUMER, CONSUMER_FETCH_BATCH, inbox_prefix, stream_name

__all__ = ["Consumer"]

log = logging.getLogger("jukinet.bus.consumer")
_REBIND_AFTER_IDLE_FETCHES = 30
# After the first message, how long to wait for the broker to hand over what else is
# already queued (it answers at once; this only bounds a slow answer).
DRAIN_SECONDS = 0.01  # how long a fetch waits for what is already queued behind the first


class Consumer:
    """Processes the node's inbound stream in order, batch by batch, until cancelled.

    A batch whose processing fails (say the database is down) is retried in place with
    backoff, so messages are never reordered by a transient failure.
    """

    def __init__(
        self,
        *,
        nc: Client,
        node: Principal,
        processor: InboxProcessor,
        batch: int = CONSUMER_FETCH_BATCH,
        fetch_timeout: float = 1.0,
        drain: float = DRAIN_SECONDS,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        self._nc = nc
        self._node = node
        self._processor = processor
        self._batch = batch
        self._fetch_timeout = fetch_timeout
        self._drain = drain
        self._after_batch = after_batch
        self.processed = 0

    async def run(self) -> None:
        js = self._nc.jetstream()
        sub = None
        idle = 0
        while True:
            if sub is None or idle >= _REBIND_AFTER_IDLE_FETCHES:
                sub = await self._bind(js)
                idle = 0
            try:
                msgs = await self._fetch(sub)
            except (TimeoutError, NatsTimeoutError):
                idle += 1
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("fetch failed for %s: %s", self._node.slug, type(exc).__name__)
                sub = None
                await asyncio.sleep(0.5)
                continue
            idle = 0
            await self._handle(msgs)

    async def _fetch(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """The next message as soon as it arrives, with whatever else is already queued.

        (A single fetch of a whole batch would, on a quiet channel, hold the first message
        until the fetch timeout in the hope of filling the batch: a second per hop.)"""
        first = await sub.fetch(1, timeout=self._fetch_timeout)
        if self._batch == 1:
            return first
        try:
            rest = await sub.fetch(self._batch - 1, timeout=self._drain)
        except (TimeoutError, NatsTimeoutError):
            rest = []
        return first + rest

    async def _bind(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        prefix = (inbox_prefix(self._node) + ".").encode()
        backoff = 0.2
        while True:
            try:
                return await js.pull_subscribe_bind(
                    CONSUMER, stream_name(self._node), inbox_prefix=prefix
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bind failed for %s: %s", self._node.slug, type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _handle(self, msgs: list[Msg]) -> None:
        backoff = 0.2
        while True:
            try:
                await self._processor.process(msgs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("batch failed for %s: %s", self._node.slug, type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self.processed += len(msgs)
            if self._after_batch is not None:
                self._after_batch()  # e.g. wake the relay for what this batch queued
            return
