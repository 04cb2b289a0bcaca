"""NATS subjects, streams and consumers: the addressing contract between nodes.

Every message between nodes is published on ``jukinet.msg.<to>.<from>``. The broker
pins each node to subjects ending in its own code, and each node has one inbound
stream ``IN_<code>`` (subjects ``jukinet.msg.<code>.*``) with one durable pull consumer,
created by the operations identity and bound, never created, by the node.

Nationwide copies (住民票の写しの広域交付) are a core request/reply between two
municipalities, on a family of their own that no stream captures (a copy is asked for
while the resident waits at the counter; nothing is queued): the request on
``jukinet.copy.req.<home>.<issuer>``, the answer on ``jukinet.copy.rep.<issuer>.<home>.<token>``.
The broker lets a municipality publish requests only as itself, listen only to requests
addressed to it, answer only as itself, and read only answers addressed to it — so the
reply subject proves who answered, without ``allow_responses``.
"""

from __future__ import annotations

from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind

__all__ = [
    "CONSUMER",
    "CONSUMER_FETCH_BATCH",
    "COPY_REPLY_PREFIX",
    "COPY_REQUEST_PREFIX",
    "NODE_KINDS",
    "copy_replies_to",
    "copy_reply_subject",
    "copy_request_subject",
    "copy_requests_to",
    "inbox_prefix",
    "message_subject",
    "parse_copy_reply_subject",
    "parse_copy_request_subject",
    "parse_message_subject",
    "stream_name",
    "stream_subjects",
]

PREFIX = "jukinet.msg"
COPY_REQUEST_PREFIX = "jukinet.copy.req"
COPY_REPLY_PREFIX = "jukinet.copy.rep"
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


def copy_request_subject(home: Principal, issuer: Principal) -> str:
    """Where ``issuer`` asks ``home`` for a copy of one of its residents' records."""
    return f"{COPY_REQUEST_PREFIX}.{home.code}.{issuer.code}"


def copy_requests_to(home: Principal) -> str:
    """What ``home`` listens to: copy requests from any municipality."""
    return f"{COPY_REQUEST_PREFIX}.{home.code}.*"


def copy_reply_subject(issuer: Principal, home: Principal, token: str) -> str:
    """Where ``home`` answers one request of ``issuer``; ``token`` is fresh per request."""
    return f"{COPY_REPLY_PREFIX}.{issuer.code}.{home.code}.{token}"


def copy_replies_to(issuer: Principal) -> str:
    """Every answer addressed to ``issuer`` (what the broker lets it subscribe to)."""
    return f"{COPY_REPLY_PREFIX}.{issuer.code}.*.*"


def parse_copy_request_subject(subject: str) -> tuple[Principal, Principal]:
    """(home, issuer) of a copy request subject; ValueError if it is not one."""
    parts = subject.split(".")
    if len(parts) != 5 or ".".join(parts[:3]) != COPY_REQUEST_PREFIX:
        raise ValueError("not a copy request subject")
    return Principal.municipality(parts[3]), Principal.municipality(parts[4])


def parse_copy_reply_subject(subject: str) -> tuple[Principal, Principal, str]:
    """(issuer, home, token) of a copy reply subject; ValueError if it is not one."""
    parts = subject.split(".")
    if len(parts) != 6 or ".".join(parts[:3]) != COPY_REPLY_PREFIX or not parts[5]:
        raise ValueError("not a copy reply subject")
    return Principal.municipality(parts[3]), Principal.municipality(parts[4]), parts[5]
