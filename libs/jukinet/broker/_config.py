"""nats-server configuration generated from the federation and its PKI.

TLS 1.3 only, ``verify_and_map``: a client's certificate URI *is* its user, and each
user's permissions pin it to subjects that carry its own code. No ``allow_responses``;
replies go to per-node inbox prefixes, and the answers to nationwide-copy requests to a
subject family of their own whose tokens name the requester and the responder.

Two accounts. The nodes and their streams live in ``JUKINET``; the operations identity
lives alone in ``OPS``, which imports from ``JUKINET`` only the JetStream API requests
it needs. Nothing published inside ``JUKINET`` — a stream's republish, a push
consumer's delivery, a message on any subject — can reach a subscription in ``OPS``;
only the answers to its own API requests do, and none of those it may send answers
with a message.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from jukinet.contracts.federation import Federation
from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind
from jukinet.contracts.subjects import (
    CONSUMER,
    CONSUMER_FETCH_BATCH,
    COPY_REPLY_PREFIX,
    COPY_REQUEST_PREFIX,
    PREFIX,
    copy_replies_to,
    copy_requests_to,
    inbox_prefix,
    stream_name,
)
from jukinet.pki import PkiLayout, read_certificate

__all__ = [
    "NODES_ACCOUNT",
    "OPS_ACCOUNT",
    "BrokerConfig",
    "account_hash",
    "accounts",
    "ack_subjects",
    "copy_permissions",
    "node_permissions",
    "ops_permissions",
    "pinned_certs",
    "render",
]


@dataclass(frozen=True)
class BrokerConfig:
    """Where one nats-server listens and keeps its data."""

    port: int
    monitor_port: int
    store_dir: Path
    host: str = "127.0.0.1"
    server_name: str = "jukinet-1"
    cluster_port: int | None = None
    cluster_name: str = "jukinet"
    routes: list[str] = field(default_factory=list)
    pinned_certs: list[str] | None = None


MAX_PAYLOAD = 8 * 1024 * 1024
NODES_ACCOUNT = "JUKINET"
OPS_ACCOUNT = "OPS"
ACK_DOMAIN = "_"  # the JetStream domain token of ack subjects when no domain is set
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def account_hash(account: str) -> str:
    """nats-server's ``getHash``: the account token of the v2 ack subject form."""
    digest = hashlib.sha256(account.encode()).digest()
    return "".join(_BASE62[b % 62] for b in digest[:8])


def ack_subjects(stream: str) -> list[str]:
    """The acknowledgement subjects of one stream's consumer, in both forms the broker
    knows: v1 ``$JS.ACK.<stream>.<consumer>.…`` (what it sends today) and v2
    ``$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.…``. Every leading token is
    literal: a wildcard in place of the v2 domain and hash would also match another
    stream's v1 subject (``$JS.ACK.<other>.node.<stream>.node.…``) and let its owner pull
    and hold that consumer's messages."""
    return [
        f"$JS.ACK.{stream}.{CONSUMER}.>",
        f"$JS.ACK.{ACK_DOMAIN}.{account_hash(NODES_ACCOUNT)}.{stream}.{CONSUMER}.>",
    ]


def node_permissions(node: Principal, federation: Federation) -> dict[str, Any]:
    """A node may publish only as itself and only to the nodes it talks to, pull and
    acknowledge only its own consumer, and read only its own inbox."""
    stream = stream_name(node)
    publish = [
        *_destinations(node, federation),
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{CONSUMER}",
        f"$JS.API.CONSUMER.INFO.{stream}.{CONSUMER}",
        *ack_subjects(stream),
    ]
    deny = [f"{PREFIX}.{node.code}.{node.code}"]  # nobody writes to itself
    subscribe = [f"{inbox_prefix(node)}.>"]
    if node.kind is PrincipalKind.MUNICIPALITY:
        # its prefecture, the agency (disclosure requests) and any municipality (move-in
        # notices); never another prefecture
        others = [Principal.prefecture(c) for c in federation.prefectures]
        deny += [f"{PREFIX}.{p.code}.{node.code}" for p in others if p != node.prefecture_of]
        copies = copy_permissions(node)
        publish += copies["publish"]
        deny += copies["deny"]
        subscribe += copies["subscribe"]
    return {
        "publish": {"allow": publish, "deny": deny},
        "subscribe": {"allow": subscribe},
    }


def copy_permissions(town: Principal) -> dict[str, list[str]]:
    """Nationwide copies, core request/reply between municipalities only.

    A town asks any municipality as itself (``req.<home>.<town>``) and answers any
    municipality as itself (``rep.<issuer>.<town>.<token>``); it listens only to requests
    addressed to it and to answers addressed to it. The requester picks the reply
    subject, but the responder may publish only below ``rep.*.<itself>``, so a reply can
    neither land in another node's ``_INBOX_`` nor be forged by a third municipality.
    Wildcards keep the lists short with 1,741 municipalities; prefectures, the agency
    and ministries get none of this.
    """
    return {
        "publish": [
            f"{COPY_REQUEST_PREFIX}.*.{town.code}",
            f"{COPY_REPLY_PREFIX}.*.{town.code}.*",
        ],
        "deny": [  # never to itself: its own residents' copies need no network
            f"{COPY_REQUEST_PREFIX}.{town.code}.{town.code}",
            f"{COPY_REPLY_PREFIX}.{town.code}.{town.code}.*",
        ],
        "subscribe": [copy_requests_to(town), copy_replies_to(town)],
    }


def _destinations(node: Principal, federation: Federation) -> list[str]:
    """Subjects a node may send on: always ending in its own code."""
    if node.kind is PrincipalKind.PREFECTURE:
        # forwards to the agency; disclosure answers to its own municipalities
        towns = federation.municipalities_of(node)
        return [
            f"{PREFIX}.{AGENCY.code}.{node.code}",
            *(f"{PREFIX}.{t.code}.{node.code}" for t in towns),
        ]
    if node.kind is PrincipalKind.AGENCY:
        towns = [Principal.municipality(c) for c in federation.municipalities]
        return [f"{PREFIX}.{t.code}.{node.code}" for t in towns]  # code pools, disclosures
    return [f"{PREFIX}.*.{node.code}"]  # municipalities: narrowed by the deny list


def ops_permissions(ops: Principal, federation: Federation) -> dict[str, Any]:
    """The operations identity creates and inspects the nodes' streams and their one
    durable consumer. It sends no messages and can read none: it cannot update, purge or
    delete a stream, read a message of one, or make another consumer."""
    return {
        "publish": {
            "allow": [
                "$JS.API.INFO",
                "$JS.API.STREAM.LIST",
                "$JS.API.STREAM.NAMES",
                *_stream_admin(federation),
            ],
            "deny": [f"{PREFIX}.>"],
        },
        "subscribe": {"allow": [f"{inbox_prefix(ops)}.>"]},
    }


def _stream_admin(federation: Federation) -> list[str]:
    """Subjects that create and inspect exactly the nodes' streams and their one consumer
    (NATS wildcards match whole tokens only, so each stream is named). A stream's
    definition is fixed at creation: the broker refuses to create a stream again with
    another definition, and there is no update."""
    subjects = []
    for node in federation.nodes:
        s = stream_name(node)
        subjects += [
            f"$JS.API.STREAM.INFO.{s}",
            f"$JS.API.STREAM.CREATE.{s}",
            f"$JS.API.CONSUMER.INFO.{s}.{CONSUMER}",
            f"$JS.API.CONSUMER.LIST.{s}",
            f"$JS.API.CONSUMER.NAMES.{s}",
            f"$JS.API.CONSUMER.CREATE.{s}.{CONSUMER}",
        ]
    return subjects


# What the nodes' account lends the operations account: requests whose answers carry no
# message. Reading (MSG.GET, DIRECT.GET, MSG.NEXT), updating, purging and deleting are
# not even importable, whatever a user's permissions say.
OPS_API = [
    "$JS.API.INFO",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.CREATE.*",
    f"$JS.API.CONSUMER.INFO.*.{CONSUMER}",
    "$JS.API.CONSUMER.LIST.*",
    "$JS.API.CONSUMER.NAMES.*",
    f"$JS.API.CONSUMER.CREATE.*.{CONSUMER}",
]


def accounts(federation: Federation) -> dict[str, Any]:
    """The nodes' account (with JetStream) and the operations account (without)."""
    nodes = [
        {"user": node.uri, "permissions": node_permissions(node, federation)}
        for node in federation.nodes
    ]
    ops = [Principal(PrincipalKind.OPS, name) for name in federation.ops]
    return {
        NODES_ACCOUNT: {
            "jetstream": "enabled",
            "users": nodes,
            "exports": [{"service": s, "accounts": [OPS_ACCOUNT]} for s in OPS_API],
        },
        OPS_ACCOUNT: {
            "users": [{"user": o.uri, "permissions": ops_permissions(o, federation)} for o in ops],
            "imports": [{"service": {"account": NODES_ACCOUNT, "subject": s}} for s in OPS_API],
        },
    }


def render(config: BrokerConfig, layout: PkiLayout, federation: Federation) -> str:
    """The server configuration (JSON is valid nats-server configuration syntax)."""
    broker = layout.broker_dir
    tls: dict[str, Any] = {
        "cert_file": str(broker / "tls.crt"),
        "key_file": str(broker / "tls.key"),
        "ca_file": str(layout.ca_cert),
        "verify_and_map": True,
        "min_version": "1.3",
        "timeout": 5,
    }
    if config.pinned_certs is not None:
        tls["pinned_certs"] = config.pinned_certs
    doc: dict[str, Any] = {
        "server_name": config.server_name,
        "host": config.host,
        "port": config.port,
        "http": f"{config.host}:{config.monitor_port}",
        "max_payload": MAX_PAYLOAD,
        # what the server may queue towards one client: a whole fetched batch of the
        # largest messages (the consumers fetch at most CONSUMER_FETCH_BATCH at a time)
        "max_pending": 2 * CONSUMER_FETCH_BATCH * MAX_PAYLOAD,
        "jetstream": {"store_dir": str(config.store_dir), "max_file_store": 8 * 1024**3},
        "tls": tls,
        "accounts": accounts(federation),
    }
    if config.cluster_port is not None:
        doc["cluster"] = _cluster(config, layout)
    return json.dumps(doc, indent=2)


def _cluster(config: BrokerConfig, layout: PkiLayout) -> dict[str, Any]:
    broker = layout.broker_dir
    return {
        "name": config.cluster_name,
        "host": config.host,
        "port": config.cluster_port,
        "routes": config.routes,
        "tls": {
            "cert_file": str(broker / "tls.crt"),
            "key_file": str(broker / "tls.key"),
            "ca_file": str(layout.ca_cert),
            "verify": True,
            "timeout": 5,
        },
    }


def pinned_certs(layout: PkiLayout, federation: Federation) -> list[str]:
    """SHA-256 of the public key of every broker user's current TLS certificate. The
    broker accepts only these: after a rotation and a reload, the old certificate is
    disconnected and refused even while it has not expired."""
    users = [*federation.nodes, *(Principal(PrincipalKind.OPS, n) for n in federation.ops)]
    pins = []
    for principal in users:
        path = layout.node_dir(principal) / "tls.crt"
        if path.exists():
            spki = (
                read_certificate(path)
                .public_key()
                .public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
            pins.append(hashlib.sha256(spki).hexdigest())
    return pins
