"""The broker: nats-server configuration from the PKI, its process, and its streams."""

from jukinet.broker._config import (
    BrokerConfig,
    node_permissions,
    ops_permissions,
    pinned_certs,
    render,
)
from jukinet.broker._process import BrokerProcess, nats_server_binary
from jukinet.broker._streams import ensure_streams

__all__ = [
    "BrokerConfig",
    "BrokerProcess",
    "ensure_streams",
    "nats_server_binary",
    "node_permissions",
    "ops_permissions",
    "pinned_certs",
    "render",
]
