"""Baselines: what the machine and the libraries do on their own, in this same run."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from jukinet.bus import connect
from jukinet.envelope import Opener, RecipientDirectory, Sealer
from jukinet.localfed import LocalFederation
from jukinet.pki import Credentials, TrustStore, read_certificate
from jukinet.principals import Principal

PAYLOAD = {"items": [{"record": {"name": "山田 太郎", "address": "東京都千代田区" * 4}}]}


def envelope_round_trips(fed: LocalFederation, seconds: float = 3.0) -> float:
    """Seal + open of one small message per second, one core."""
    layout = fed.layout
    town, pref = Principal.municipality("142034"), Principal.prefecture("140007")
    trust = TrustStore(read_certificate(layout.ca_cert))
    sealer = Sealer(
        Credentials.load(layout.node_dir(town), layout.ca_cert, town),
        RecipientDirectory.from_layout(layout, trust),
    )
    opener = Opener(Credentials.load(layout.node_dir(pref), layout.ca_cert, pref), trust)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        token = sealer.seal(
            audience=pref, type="bench", payload=PAYLOAD, sequence=1, ttl=dt.timedelta(minutes=5)
        ).token
        opener.open(token)
        count += 1
    return count / (time.perf_counter() - start)


async def jetstream_publish(fed: LocalFederation, messages: int = 20_000) -> float:
    """Pipelined JetStream publishes per second over mutual TLS (1 KiB each)."""
    town = Principal.municipality("142034")
    nc = await connect(town, [fed.nats_url], fed.tls(town), reconnect=False)
    try:
        js = nc.jetstream()
        subject = f"jukinet.msg.{town.prefecture_of.code}.{town.code}"
        body = b"x" * 1024
        start = time.perf_counter()
        for offset in range(0, messages, 1000):
            await asyncio.gather(
                *(js.publish(subject, body) for _ in range(min(1000, messages - offset)))
            )
        return messages / (time.perf_counter() - start)
    finally:
        await nc.close()
