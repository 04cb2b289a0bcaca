"""Connecting a principal to the broker over mutual TLS 1.3."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import nats
from nats.aio.client import Client

from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import inbox_prefix

__all__ = ["BrokerUnavailable", "connect", "tls_context"]

log = logging.getLogger("jukinet.bus")


class _StartTlsEof(logging.Filter):
    """Drops asyncio's "returning true from eof_received() has no effect when using
    ssl". nats-py opens a plain stream and upgrades it to TLS after the server's INFO, so
    asyncio's stream protocol, which decided at connection time that it was not over
    SSL, answers True at the broker's close_notify. Harmless (the connection closes as
    it should), but it was printed on every console and in every log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("returning true from eof_received()")


_quiet_eof = _StartTlsEof()


class BrokerUnavailable(ConnectionError):
    """The broker refused the connection or closed it right after the handshake."""


def tls_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


async def connect(
    principal: Principal,
    servers: list[str],
    tls: ssl.SSLContext,
    *,
    name: str | None = None,
    reconnect: bool = True,
    connect_timeout: int = 3,
) -> Client:
    """Connect as ``principal``; reconnect forever; verify the connection is really up."""
    logging.getLogger("asyncio").addFilter(_quiet_eof)  # once: filters are a set

    async def on_error(exc: Exception) -> None:
        log.warning("broker error for %s: %s", principal.slug, type(exc).__name__)

    async def on_disconnect() -> None:
        log.info("disconnected from broker: %s", principal.slug)

    async def on_reconnect() -> None:
        log.info("reconnected to broker: %s", principal.slug)

    nc = await nats.connect(
        servers=servers,
        tls=tls,
        name=name or principal.slug,
        inbox_prefix=inbox_prefix(principal),
        allow_reconnect=reconnect,
        max_reconnect_attempts=-1 if reconnect else 0,
        reconnect_time_wait=1,
        connect_timeout=connect_timeout,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
    )
    if not nc.is_connected:
        await nc.close()
        raise BrokerUnavailable("the broker closed the connection after the handshake")
    return nc
