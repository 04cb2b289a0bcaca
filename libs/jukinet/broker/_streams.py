"""Streams and consumers, created by the operations identity (nodes only bind)."""

from __future__ import annotations

from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from jukinet.federation import Federation
from jukinet.subjects import CONSUMER, stream_name, stream_subjects

__all__ = ["ensure_streams"]

DUPLICATE_WINDOW_S = 30 * 60
MAX_AGE_S = 14 * 24 * 3600
ACK_WAIT_S = 30.0


async def ensure_streams(nc: Client, federation: Federation, *, replicas: int = 1) -> list[str]:
    """Create (or update) every node's inbound stream and its durable pull consumer."""
    js = nc.jetstream()
    names = []
    for node in federation.nodes:
        name = stream_name(node)
        config = StreamConfig(
            name=name,
            subjects=stream_subjects(node),
            storage=StorageType.FILE,
            num_replicas=replicas,
            duplicate_window=DUPLICATE_WINDOW_S,
            max_age=MAX_AGE_S,
        )
        try:
            await js.stream_info(name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)
        await js.add_consumer(
            name,
            ConsumerConfig(
                durable_name=CONSUMER,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=ACK_WAIT_S,
                max_deliver=-1,
                max_ack_pending=20_000,
                num_replicas=replicas,
            ),
        )
        names.append(name)
    return names
