"""Streams and consumers, created by the operations identity (nodes only bind).

A stream's definition is fixed at creation: the operations identity may create a
stream and its consumer, never update them (the broker gives it no update request, and
refuses to create either again with another definition). Running this again is
harmless: what exists as defined is confirmed, what is missing is created, and what
exists with another definition is left alone and named.
"""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from jukinet.contracts.federation import Federation
from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import CONSUMER, stream_name, stream_subjects

__all__ = ["DefinitionsDiffer", "ensure_streams"]

DUPLICATE_WINDOW_S = 30 * 60
MAX_AGE_S = 14 * 24 * 3600
ACK_WAIT_S = 30.0
API_TIMEOUT_S = 5.0
# nats-server: "stream name already in use with a different configuration" and
# "consumer already exists" (a create that would have changed it)
STREAM_EXISTS_OTHERWISE = 10058
CONSUMER_EXISTS_OTHERWISE = 10148


class DefinitionsDiffer(RuntimeError):
    """Some streams (or their consumers) exist with another definition than jukinet's;
    they were left unchanged. ``ready`` holds the streams that are as defined."""

    def __init__(self, ready: list[str], differ: list[str]) -> None:
        super().__init__("streams with another definition: " + ", ".join(differ))
        self.ready, self.differ = ready, differ


def stream_config(node: Principal, replicas: int) -> StreamConfig:
    """A node's inbound stream: its own subjects only, nothing copied anywhere."""
    return StreamConfig(
        name=stream_name(node),
        subjects=stream_subjects(node),
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_age=MAX_AGE_S,
    )


def consumer_config(replicas: int) -> ConsumerConfig:
    """The node's one durable pull consumer."""
    return ConsumerConfig(
        name=CONSUMER,
        durable_name=CONSUMER,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ACK_WAIT_S,
        max_deliver=-1,
        max_ack_pending=20_000,
        num_replicas=replicas,
    )


async def ensure_streams(nc: Client, federation: Federation, *, replicas: int = 1) -> list[str]:
    """Create every node's missing inbound stream and durable pull consumer; confirm the
    existing ones. Raises DefinitionsDiffer (after handling every node) if any exists
    with another definition; returns the names of the streams otherwise."""
    ready, differ = [], []
    for node in federation.nodes:
        name = stream_name(node)
        if await _create_stream(nc, node, replicas) and await _create_consumer(nc, name, replicas):
            ready.append(name)
        else:
            differ.append(name)
    if differ:
        raise DefinitionsDiffer(ready, differ)
    return ready


async def _create_stream(nc: Client, node: Principal, replicas: int) -> bool:
    """True if the stream now exists as defined (created now or before)."""
    try:
        await nc.jetstream(timeout=API_TIMEOUT_S).add_stream(stream_config(node, replicas))
    except BadRequestError as exc:
        if exc.err_code == STREAM_EXISTS_OTHERWISE:
            return False
        raise
    return True


async def _create_consumer(nc: Client, stream: str, replicas: int) -> bool:
    """True if the consumer now exists as defined. The request says "create", so the
    broker never turns it into an update of an existing consumer."""
    request = {
        "stream_name": stream,
        "config": consumer_config(replicas).as_dict(),
        "action": "create",
    }
    subject = f"$JS.API.CONSUMER.CREATE.{stream}.{CONSUMER}"
    msg = await nc.request(subject, json.dumps(request).encode(), timeout=API_TIMEOUT_S)
    answer: dict[str, Any] = json.loads(msg.data)
    error = answer.get("error")
    if error is None:
        return True
    if error.get("err_code") == CONSUMER_EXISTS_OTHERWISE:
        return False
    raise RuntimeError(f"consumer of {stream}: {error.get('description', 'refused')}")
