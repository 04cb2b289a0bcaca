"""The generated broker permissions, checked without a broker: for every pair of nodes,
no subject a node may publish reaches a subscription of another node's consumer.

The broker's own subscriptions are written here as nats-server makes them
(server/consumer.go): the pull request subject, both acknowledgement forms and both
flow-control forms of the stream's consumer. The federation tests try them for real.
"""

from __future__ import annotations

import itertools

import pytest

from jukinet.broker import NODES_ACCOUNT, account_hash, node_permissions
from jukinet.broker._config import OPS_ACCOUNT, accounts
from jukinet.contracts.federation import DEMO
from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import CONSUMER, stream_name


def overlap(a: str, b: str) -> bool:
    """Whether some subject matches both NATS patterns (``*`` one token, ``>`` the rest)."""
    x, y = a.split("."), b.split(".")
    for s, t in itertools.zip_longest(x, y):
        if s == ">" or t == ">":  # the rest: one token or more, on both sides
            return s is not None and t is not None
        if s is None or t is None:
            return False
        if s != t and "*" not in (s, t):
            return False
    return True


def consumer_subscriptions(node: Principal) -> list[str]:
    """What the broker listens on for the node's consumer (its pulls, acks, flow control)."""
    s, h = stream_name(node), account_hash(NODES_ACCOUNT)
    return [
        f"$JS.API.CONSUMER.MSG.NEXT.{s}.{CONSUMER}",
        f"$JS.ACK.{s}.{CONSUMER}.*.*.*.*.*",
        f"$JS.ACK._.{h}.{s}.{CONSUMER}.*.*.*.*.>",
        f"$JS.FC.{s}.{CONSUMER}.*",
        f"$JS.FC._.{h}.{s}.{CONSUMER}.*",
    ]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.*", "a.b", True),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        ("a.*.c", "a.b", False),
        ("*.*.x.>", "v.n.*.*.*", True),
        ("a.b.>", "a.c.>", False),
    ],
)
def test_overlap(a: str, b: str, expected: bool) -> None:
    assert overlap(a, b) is expected
    assert overlap(b, a) is expected


@pytest.mark.parametrize("node", DEMO.nodes, ids=lambda p: p.code)
def test_a_node_publishes_to_no_other_nodes_consumer(node: Principal) -> None:
    allowed = node_permissions(node, DEMO)["publish"]["allow"]
    for other in DEMO.nodes:
        if other == node:
            continue
        for theirs in consumer_subscriptions(other):
            hits = [mine for mine in allowed if overlap(mine, theirs)]
            assert hits == [], f"{node.code} reaches {theirs} through {hits}"


@pytest.mark.parametrize("node", DEMO.nodes, ids=lambda p: p.code)
def test_a_node_reaches_its_own_consumer(node: Principal) -> None:
    """Positive control: pulls and both acknowledgement forms of its own consumer."""
    allowed = node_permissions(node, DEMO)["publish"]["allow"]
    for own in consumer_subscriptions(node)[:3]:
        assert any(overlap(mine, own) for mine in allowed), own


READING = [  # requests whose answers carry messages, or that change what a stream keeps
    "$JS.API.STREAM.MSG.GET.*",
    "$JS.API.DIRECT.GET.>",
    "$JS.API.CONSUMER.MSG.NEXT.*.*",
    "$JS.API.STREAM.UPDATE.*",
    "$JS.API.STREAM.SNAPSHOT.*",
    "$JS.API.STREAM.PURGE.*",
    "$JS.API.STREAM.DELETE.*",
    "$JS.API.STREAM.MSG.DELETE.*",
    "$JS.API.CONSUMER.DELETE.*.*",
    "$JS.API.CONSUMER.DURABLE.CREATE.*.*",
    "$JS.API.CONSUMER.CREATE.*",
    "$JS.API.CONSUMER.CREATE.*.*.>",
    "$JS.ACK.>",
    "$JS.FC.>",
    "jukinet.>",
]


def test_operations_account_imports_nothing_that_reads() -> None:
    """The operations identity is alone in its account, which imports from the nodes'
    account only requests that cannot hand it a message."""
    found = accounts(DEMO)
    ops_users = [u["user"] for u in found[OPS_ACCOUNT]["users"]]
    node_users = [u["user"] for u in found[NODES_ACCOUNT]["users"]]
    assert ops_users == [f"spiffe://jukinet/ops/{name}" for name in DEMO.ops]
    assert node_users == [n.uri for n in DEMO.nodes]
    imported = [i["service"]["subject"] for i in found[OPS_ACCOUNT]["imports"]]
    exported = [e["service"] for e in found[NODES_ACCOUNT]["exports"]]
    assert imported == exported
    assert all(e["accounts"] == [OPS_ACCOUNT] for e in found[NODES_ACCOUNT]["exports"])
    for subject in imported:
        assert not [r for r in READING if overlap(subject, r)], subject
    assert "jetstream" not in found[OPS_ACCOUNT]
