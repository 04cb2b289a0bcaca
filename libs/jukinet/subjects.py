"""NATS subjects, streams and consumers: the addressing contract between nodes.

Every message between nodes is published on ``jukinet.msg.<to>.<from>``. The broker
pins each node to subjects ending in its own code, and each node has one inbound
stream ``IN_<code>`` (subjects ``jukinet.msg.<code>.*``) with one durable pull consumer,
created by the operations identity and bound, never created, by the node.
"""

from __future__ import annotations

from jukinet.principals import AGENCY, Principal, PrincipalKind

__all__ = [
    "CONSUMER",
    "CONSUMER_FETCH_BATCH",
    "NODE_KINDS",
    "inbox_prefix",
    "message_subject",
    "parse_message_subject",
    "stream_name",
    "stream_subjects",
]

PREFIX = "jukinet.msg"
CONSUMER = "node"
# Messages a node's consumer fetches at once. Bounded because the broker pushes a whole
# fetch at once: 500 municipal bulk messages (about 300 KB each) overran the 64 MiB the
# broker queues per client, which then cut the consumer off as a slow consumer.
CONSUMER_FETCH_BATCH = 32
NODE_KINDS = (PrincipalKind.AGENCY, PrincipalKind.PREFECTURE, PrincipalKind.MUNICIPALITY)


def message_subject(to: Principal, sender: Principal) -> str:
    return f"{PREFIX}.{to.code}.{sender.code}"


def stream_name(node: Principal) -> str:
    return f"IN_{node.code}"


def stream_subjects(node: Principal) -> list[str]:
    return [f"{PREFIX}.{node.code}.*"]


def inbox_prefix(principal: Principal) -> str:
    """Reply subjects of a principal: only it may subscribe below this prefix."""
    return f"_INBOX_{principal.code}"


def node_of_code(code: str) -> Principal:
    """The node a subject token names (a local government code or the agency)."""
    if code == AGENCY.code:
        return AGENCY
    principal = Principal.municipality(code) if code[2:5] != "000" else None
    return principal or Principal.prefecture(code)


def parse_message_subject(subject: str) -> tuple[Principal, Principal]:
    """(recipient, sender) of a message subject; ValueError if it is not one."""
    parts = subject.split(".")
    if len(parts) != 4 or ".".join(parts[:2]) != PREFIX:
        raise ValueError("not a jukinet message subject")
    return node_of_code(parts[2]), node_of_code(parts[3])
