"""The broker: nats-server configuration from the PKI, its process, and its streams."""

from jukinet.broker._config import (
    NODES_ACCOUNT,
    BrokerConfig,
    account_hash,
    ack_subjects,
    node_permissions,
    ops_permissions,
    pinned_certs,
    render,
)
from jukinet.broker._process import BrokerProcess, nats_server_binary
from jukinet.broker._streams import DefinitionsDiffer, ensure_streams

__all__ = [
    "NODES_ACCOUNT",
    "BrokerConfig",
    "BrokerProcess",
    "DefinitionsDiffer",
    "account_hash",
    "ack_subjects",
    "ensure_streams",
    "nats_server_binary",
    "node_permissions",
    "ops_permissions",
    "pinned_certs",
    "render",
]
