"""The runtime every node service shares, owned by its FastAPI lifespan.

Database engine and migrations, credentials, the envelope sealer/opener, the broker
connection (retried in the background so a node starts even while the broker is
down), the outbox relay and the inbox consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jukinet.audit import CheckpointWriter, default_witness, with_checkpoints
from jukinet.bus import (
    UNDELIVERABLE_REASONS,
    BusTables,
    Consumer,
    InboxProcessor,
    OutboxRelay,
    connect,
    tls_context,
)
from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.contracts.subjects import CONSUMER, stream_name
from jukinet.db.engine import create_engine, session_factory
from jukinet.db.migrations import upgrade
from jukinet.envelope import Opener, RecipientDirectory, Sealer
from jukinet.node.metrics import Metrics
from jukinet.node.repository import BusRepository
from jukinet.node.router import MessageRouter
from jukinet.node.settings import NodeSettings
from jukinet.pki import TrustStore

__all__ = ["NodeRuntime", "NodeSpec"]

log = logging.getLogger("jukinet.node")


@dataclass(frozen=True)
class NodeSpec:
    """What a service tells the runtime about itself."""

    metadata: MetaData
    migrations: Path
    bus: BusTables
    messages: MessageRouter  # what it takes over the bus, and from whom
    counts: Callable[[AsyncSession], Awaitable[dict[str, Any]]]
    checkpoints: Table | None = None  # where the checkpoints of the nodes it witnesses go


@dataclass
class NodeRuntime:
    settings: NodeSettings
    spec: NodeSpec
    metrics: Metrics = field(default_factory=Metrics)
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    sealer: Sealer = field(init=False)
    opener: Opener = field(init=False)
    nc: Client | None = field(default=None, init=False)
    relay: OutboxRelay | None = field(default=None, init=False)
    consumer: Consumer | None = field(default=None, init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)
    _messaging_task: asyncio.Task[None] = field(init=False)
    _trust: TrustStore = field(init=False)
    _directory: RecipientDirectory = field(init=False)

    @property
    def node(self) -> Principal:
        return self.settings.node

    async def start(self) -> None:
        url = self.settings.database_url
        pool = {} if url.startswith("sqlite") else {"pool_size": self.settings.db_pool_size}
        self.engine = create_engine(url, **pool)
        await upgrade(self.engine, self.spec.migrations)
        self.sessions = session_factory(self.engine)
        credentials = self.settings.credentials()
        self._trust = self.settings.trust()
        self._directory = RecipientDirectory.from_layout(self.settings.layout, self._trust)
        self.sealer = Sealer(credentials, self._directory)
        self.opener = Opener(credentials, self._trust, skew=self.settings.clock_skew)
        self._messaging_task = asyncio.create_task(self._messaging(), name="messaging")
        self._tasks.append(asyncio.create_task(self._watch_credentials(), name="credentials"))
        if self.settings.checkpoint_seconds > 0:
            writer = self._checkpoint_writer()
            self._tasks.append(asyncio.create_task(writer.run(), name="checkpoints"))

    def _checkpoint_writer(self) -> CheckpointWriter:
        """The chain heads leave the node for its witness every few seconds."""
        return CheckpointWriter(
            sessions=self.sessions,
            metadata=self.spec.metadata,
            bus=self.spec.bus,
            node=self.node,
            witness=self._witness(),
            signing_key=lambda: self.settings.credentials().require_signing()[0],
            notify=self.notify_outbox,
            every=self.settings.checkpoint_seconds,
        )

    def _witness(self) -> Principal:
        """The configured witness, else by tier (the agency: the first municipality in
        the federation's directory)."""
        if self.settings.checkpoint_witness is not None:
            return Principal.parse(self.settings.checkpoint_witness)
        directory = self.settings.layout.directory
        towns = [
            Principal.municipality(path.name.split(".")[1])
            for path in directory.glob(f"{PrincipalKind.MUNICIPALITY.value}.*.kex.crt")
        ]
        return default_witness(self.node, towns)

    def _credential_stamp(self) -> tuple[float, ...]:
        node = self.settings.layout.node_dir(self.node)
        return tuple(p.stat().st_mtime for p in sorted(node.glob("*.crt")))

    async def _watch_credentials(self, every: float = 2.0) -> None:
        """Roll over to reissued credentials without a restart: new keys for sealing,
        the old key-agreement key kept for what was sealed to it, and a new broker
        connection under the new certificate."""
        stamp = self._credential_stamp()
        while True:
            await asyncio.sleep(every)
            current = self._credential_stamp()
            if current == stamp:
                continue
            stamp = current
            log.info("credentials changed: rolling over", extra={"node": self.node.code})
            credentials = self.settings.credentials()
            previous = self.opener
            self.sealer = Sealer(credentials, self._directory)
            self.opener = Opener(credentials, self._trust, skew=self.settings.clock_skew)
            self.opener.keep_previous_key(previous)
            await self._restart_messaging()

    async def _restart_messaging(self) -> None:
        self._messaging_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._messaging_task
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
            self.nc = None
        self._messaging_task = asyncio.create_task(self._messaging(), name="messaging")

    async def stop(self) -> None:
        tasks = [*self._tasks, self._messaging_task]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
        await self.engine.dispose()

    def notify_outbox(self) -> None:
        if self.relay is not None:
            self.relay.notify()

    async def _messaging(self) -> None:
        self.nc = await self._connect_forever()
        js = self.nc.jetstream()
        self.relay = OutboxRelay(
            sessions=self.sessions,
            tables=self.spec.bus,
            sealer=self.sealer,
            js=js,
            ttl=self.settings.message_ttl,
            on_published=self.metrics.published.inc,
            on_set_aside=lambda reason, n: self.metrics.outbox_set_aside.labels(reason).inc(n),
            retry_waiting_every=self.settings.undeliverable_retry_seconds,
        )
        processor = InboxProcessor(
            node=self.node,
            sessions=self.sessions,
            tables=self.spec.bus,
            opener=self.opener,
            apply=(
                self.spec.messages.apply
                if self.spec.checkpoints is None
                else with_checkpoints(self.spec.messages.apply, self.spec.checkpoints)
            ),
            accepts=self.spec.messages.accepts,
            on_outcome=lambda outcome, _sender: self.metrics.consumed.labels(outcome.value).inc(),
            on_dead_letter=lambda reason: self.metrics.dead_letters.labels(reason).inc(),
        )
        self.consumer = Consumer(
            nc=self.nc, node=self.node, processor=processor, after_batch=self.notify_outbox,
            drain=self.settings.inbox_drain_seconds,
        )  # fmt: skip
        poll, linger = self.settings.outbox_poll_seconds, self.settings.outbox_linger_seconds
        relay = self.relay.run(poll_interval=poll, linger=linger)
        await asyncio.gather(relay, self.consumer.run())

    async def _connect_forever(self) -> Client:
        credentials = self.settings.credentials()
        tls = tls_context(
            credentials.tls_cert_path, credentials.tls_key_path, credentials.ca_cert_path
        )
        delay = 0.2
        while True:
            try:
                return await connect(self.node, self.settings.nats_servers, tls)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("broker not reachable for %s: %s", self.node.slug, type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def readiness(self) -> dict[str, Any]:
        database = "ok"
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            database = type(exc).__name__
        broker = "ok" if self.nc is not None and self.nc.is_connected else "disconnected"
        return {"database": database, "broker": broker}

    async def refresh_gauges(self) -> None:
        """Outbox backlog and consumer lag, read when metrics are scraped."""
        bus = await self.bus_status()
        self.metrics.outbox_backlog.set(bus["outbox_unsealed"] + bus["outbox_unsent"])
        waiting = await self.undeliverable_by_reason()
        for reason in UNDELIVERABLE_REASONS:
            self.metrics.outbox_undeliverable.labels(reason).set(waiting.get(reason, 0))
        if self.nc is not None and self.nc.is_connected:
            with contextlib.suppress(Exception):
                info = await self.nc.jetstream().consumer_info(stream_name(self.node), CONSUMER)
                self.metrics.consumer_lag.set(info.num_pending or 0)

    async def status(self) -> dict[str, Any]:
        """Counts only — what `jukinet status` shows; never personal data."""
        async with self.sessions() as session:
            counts = await self.spec.counts(session)
        bus = await self.bus_status()
        waiting = await self.undeliverable_by_reason()
        return {"node": self.node.uri, **counts, **bus, "outbox_undeliverable_reasons": waiting}

    async def undeliverable_by_reason(self) -> dict[str, int]:
        """Outbox items set aside and not resolved, per reason code."""
        async with self.sessions() as session:
            return await BusRepository(session, self.spec.bus).undeliverable_by_reason()

    async def bus_status(self) -> dict[str, int]:
        async with self.sessions() as session:
            return await BusRepository(session, self.spec.bus).counts()
