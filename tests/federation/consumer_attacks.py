"""Every JetStream subject shape a node could aim at another node's stream and consumer.

Used by the broker-only permission tests and by a federation module (both backends). A
round works on a real broker with real connections:

1. a sender puts two messages into the victim's stream; the victim fetches the first
   and holds it unacknowledged (in flight), the second stays pending;
2. the attacker sends one shape, with a reply to its own inbox, aimed at the victim's
   stream, consumer and in-flight message, and flushes (the broker has taken it);
3. the victim naks its in-flight message *with a reply* — the broker handles acks of one
   consumer in order, so once that reply is back any pull, ack or term the attacker's
   shape caused has happened — and fetches two: it must get the in-flight message back
   (redelivered, not acked or terminated by the attacker) and the pending one as a
   first delivery (not handed to the attacker), then acks both.

The attacker's inbox must stay empty, and the shapes the broker refuses must be
reported as permission violations.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import Header

from jukinet.contracts.principals import Principal
from jukinet.contracts.subjects import CONSUMER, inbox_prefix, message_subject, stream_name
from jukinet.devtools.localfed import LocalFederation

TIMEOUT = 2.0
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def server_account_hash(account: str) -> str:
    """nats-server's ``getHash``: the account token of the v2 ack subject form."""
    digest = hashlib.sha256(account.encode()).digest()
    return "".join(_BASE62[b % 62] for b in digest[:8])


# the v2 ack form's <domain>.<account hash> for every account nodes have lived in:
# the global account of a configuration without accounts, and the nodes' own account
V2_PREFIXES = [f"_.{server_account_hash(a)}" for a in ("$G", "JUKINET")]


@dataclass
class Party:
    """A raw broker connection as one principal, recording the errors the server sends."""

    principal: Principal
    nc: Client
    errors: list[Exception] = field(default_factory=list)

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream(timeout=TIMEOUT)

    def violations(self) -> list[str]:
        return [str(e).lower() for e in self.errors if "permissions violation" in str(e).lower()]

    async def expect_violation(self, expected: str, seen: int = 0) -> None:
        """Wait for this permissions violation (lowercased) among those reported after the
        first ``seen``; bounded, and generous for a loaded machine: at most 30 s."""
        for _ in range(300):
            if expected in self.violations()[seen:]:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.principal}: no {expected!r}; got {self.violations()[seen:]}")


@asynccontextmanager
async def party(fed: LocalFederation, principal: Principal) -> AsyncIterator[Party]:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(
        servers=[fed.nats_url],
        tls=fed.tls(principal),
        tls_hostname="localhost",
        inbox_prefix=inbox_prefix(principal),
        allow_reconnect=False,
        max_reconnect_attempts=0,
        connect_timeout=3,
        error_cb=on_error,
    )
    try:
        assert nc.is_connected
        yield Party(principal, nc, errors)
    finally:
        await nc.close()


@dataclass(frozen=True)
class Target:
    """What the attacker aims at: the victim's stream and its in-flight message."""

    victim: Principal
    attacker: Principal
    inflight: str  # the in-flight message's ack subject (v1: $JS.ACK.<s>.<c>.<5 tokens>)

    @property
    def stream(self) -> str:
        return stream_name(self.victim)

    @property
    def own(self) -> str:
        return stream_name(self.attacker)

    @property
    def tail(self) -> str:
        """<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending> of the message."""
        return ".".join(self.inflight.split(".")[4:])


@dataclass(frozen=True)
class Shape:
    """One subject shape; ``refused``: the broker must report a permissions violation
    (the others are the attacker's own subjects and must simply reach nothing)."""

    id: str
    subject: Callable[[Target], str]
    payload: bytes = b""
    refused: bool = True


PULL = json.dumps({"batch": 10, "expires": 1_000_000_000}).encode()  # 1 s, in ns
STREAM_CONFIG = json.dumps({"name": "X", "subjects": ["x.>"]}).encode()
CONSUMER_CONFIG = json.dumps({"config": {"durable_name": "spy", "ack_policy": "explicit"}}).encode()


def _api(id_: str, template: str, payload: bytes = b"{}") -> Shape:
    """A JetStream API request; ``{s}`` is the victim's stream, ``{c}`` its consumer."""
    return Shape(id_, lambda t: template.format(s=t.stream, c=CONSUMER, v=t.victim.code), payload)


API_SHAPES = [
    _api("api-info", "$JS.API.INFO"),
    _api("stream-names", "$JS.API.STREAM.NAMES"),
    _api("stream-list", "$JS.API.STREAM.LIST"),
    _api("stream-info", "$JS.API.STREAM.INFO.{s}", b'{"subjects_filter": ">"}'),
    _api("stream-create", "$JS.API.STREAM.CREATE.{s}", STREAM_CONFIG),
    _api("stream-update", "$JS.API.STREAM.UPDATE.{s}", STREAM_CONFIG),
    _api("stream-delete", "$JS.API.STREAM.DELETE.{s}"),
    _api("stream-purge", "$JS.API.STREAM.PURGE.{s}"),
    _api("msg-get", "$JS.API.STREAM.MSG.GET.{s}", b'{"seq": 1}'),
    _api("msg-delete", "$JS.API.STREAM.MSG.DELETE.{s}", b'{"seq": 1}'),
    _api("snapshot", "$JS.API.STREAM.SNAPSHOT.{s}", b'{"deliver_subject": "x"}'),
    _api("restore", "$JS.API.STREAM.RESTORE.{s}"),
    _api("peer-remove", "$JS.API.STREAM.PEER.REMOVE.{s}"),
    _api("stream-stepdown", "$JS.API.STREAM.LEADER.STEPDOWN.{s}"),
    _api("direct-get", "$JS.API.DIRECT.GET.{s}", b'{"seq": 1}'),
    _api("direct-get-last", "$JS.API.DIRECT.GET.{s}.jukinet.msg.{v}.131016"),
    _api("consumer-names", "$JS.API.CONSUMER.NAMES.{s}"),
    _api("consumer-list", "$JS.API.CONSUMER.LIST.{s}"),
    _api("consumer-info", "$JS.API.CONSUMER.INFO.{s}.{c}"),
    _api("consumer-create-ephemeral", "$JS.API.CONSUMER.CREATE.{s}", CONSUMER_CONFIG),
    _api("consumer-create", "$JS.API.CONSUMER.CREATE.{s}.spy", CONSUMER_CONFIG),
    _api("consumer-update-own-name", "$JS.API.CONSUMER.CREATE.{s}.{c}", CONSUMER_CONFIG),
    _api("consumer-create-filtered", "$JS.API.CONSUMER.CREATE.{s}.spy.jukinet.msg.{v}.*"),
    _api("durable-create", "$JS.API.CONSUMER.DURABLE.CREATE.{s}.{c}", CONSUMER_CONFIG),
    _api("consumer-delete", "$JS.API.CONSUMER.DELETE.{s}.{c}"),
    _api("msg-next", "$JS.API.CONSUMER.MSG.NEXT.{s}.{c}", PULL),
    _api("consumer-pause", "$JS.API.CONSUMER.PAUSE.{s}.{c}", b'{"pause_until": null}'),
    _api("consumer-reset", "$JS.API.CONSUMER.RESET.{s}.{c}"),
    _api("consumer-unpin", "$JS.API.CONSUMER.UNPIN.{s}.{c}", b'{"group": "x"}'),
    _api("consumer-stepdown", "$JS.API.CONSUMER.LEADER.STEPDOWN.{s}.{c}"),
    _api("meta-stepdown", "$JS.API.META.LEADER.STEPDOWN"),
    _api("account-purge", "$JS.API.ACCOUNT.PURGE.JUKINET"),
    _api("server-remove", "$JS.API.SERVER.REMOVE"),
]

ACKS = {"ack": b"+ACK", "next": b"+NXT", "next-batch": b"+NXT " + PULL}
ACKS |= {"term": b"+TERM", "nak": b"-NAK", "progress": b"+WPI"}


def _ack_shapes() -> list[Shape]:
    shapes = []
    for name, body in ACKS.items():
        shapes.append(
            Shape(f"v1-{name}", lambda t: f"$JS.ACK.{t.stream}.{CONSUMER}.{t.tail}", body)
        )
        for n, v2 in enumerate(V2_PREFIXES):
            shapes += [
                Shape(
                    f"v2-{n}-{name}",
                    lambda t, v2=v2: f"$JS.ACK.{v2}.{t.stream}.{CONSUMER}.{t.tail}",
                    body,
                ),
                Shape(
                    f"v2-token-{n}-{name}",
                    lambda t, v2=v2: f"$JS.ACK.{v2}.{t.stream}.{CONSUMER}.{t.tail}.tok",
                    body,
                ),
            ]
        # the victim's v1 subject wearing the attacker's own stream where the v2 form has
        # its stream: $JS.ACK.<victim>.node.<own>.node.x.y.z (the reported hole)
        shapes.append(
            Shape(
                f"v1-in-own-v2-{name}",
                lambda t: f"$JS.ACK.{t.stream}.{CONSUMER}.{t.own}.{CONSUMER}.1.1.1",
                body,
            )
        )
        # the victim's v2 subject below the attacker's own v1 prefix (ten tokens, so not
        # the attacker's own consumer either): allowed, and must reach nothing
        for n, v2 in enumerate(V2_PREFIXES):
            shapes.append(
                Shape(
                    f"v2-in-own-v1-{n}-{name}",
                    lambda t, v2=v2: f"$JS.ACK.{t.own}.{CONSUMER}.{v2}.{t.stream}.{CONSUMER}.1.1",
                    body,
                    refused=False,
                )
            )
    return shapes


OTHER_SHAPES = [
    Shape("flow-control-v1", lambda t: f"$JS.FC.{t.stream}.{CONSUMER}.x"),
    *(
        Shape(f"flow-control-v2-{n}", lambda t, v2=v2: f"$JS.FC.{v2}.{t.stream}.{CONSUMER}.x")
        for n, v2 in enumerate(V2_PREFIXES)
    ),
    Shape("snapshot-ack", lambda t: f"$JS.SNAPSHOT.ACK.{t.stream}.x.1.1"),
]

SHAPES = [*API_SHAPES, *_ack_shapes(), *OTHER_SHAPES]


async def drain(victim: Party, sub: JetStreamContext.PullSubscription) -> None:
    """Acknowledge whatever the victim's consumer still holds (bounded)."""
    for _ in range(20):
        try:
            msgs = await sub.fetch(100, timeout=1.0)
        except TimeoutError:  # nats-py raises its own subclass or asyncio's, by path
            return
        for msg in msgs:
            await msg.ack_sync(timeout=TIMEOUT)
    raise AssertionError("the victim's consumer did not drain")


async def _fetch_marked(sub: JetStreamContext.PullSubscription, count: int) -> list[Msg]:
    """Fetch until ``count`` messages arrived (bounded: at most 2 fetches)."""
    got: list[Msg] = []
    for _ in range(2):
        with suppress(TimeoutError):
            got += await sub.fetch(count - len(got), timeout=TIMEOUT)
        if len(got) >= count:
            break
    return got


async def attack_round(
    shape: Shape,
    attacker: Party,
    victim: Party,
    sub: JetStreamContext.PullSubscription,
    sender: Party,
) -> None:
    """One round (see the module docstring); fails if the shape reached anything."""
    subject = message_subject(victim.principal, sender.principal)
    first, second = (f"m-{secrets.token_hex(6)}".encode() for _ in range(2))
    for marker in (first, second):
        await sender.js.publish(subject, marker, timeout=TIMEOUT)
    [inflight] = await _fetch_marked(sub, 1)
    assert inflight.data == first
    target = Target(victim.principal, attacker.principal, inflight.reply)

    reply = f"{inbox_prefix(attacker.principal)}.attack.{secrets.token_hex(4)}"
    answers: list[Msg] = []

    async def collect(msg: Msg) -> None:
        answers.append(msg)

    spy = await attacker.nc.subscribe(f"{reply}.>", cb=collect)
    seen = len(attacker.violations())
    attacked = shape.subject(target)
    await attacker.nc.publish(attacked, shape.payload, reply=f"{reply}.r")
    await attacker.nc.flush(timeout=TIMEOUT)

    await victim.nc.request(inflight.reply, b"-NAK", timeout=TIMEOUT)  # in order after it
    got = await _fetch_marked(sub, 2)
    for msg in got:
        await msg.ack_sync(timeout=TIMEOUT)
    deliveries = {msg.data: msg.metadata.num_delivered for msg in got}
    assert deliveries == {first: 2, second: 1}, f"{shape.id}: {attacked}: {deliveries}"
    await attacker.nc.flush(timeout=TIMEOUT)
    await spy.unsubscribe()
    # a refused publish is never routed; an allowed one must find no subscriber at all,
    # which the broker tells a requester with one "503 no responders" status message
    expected = [] if shape.refused else [NO_RESPONDERS]
    assert [_status(m) for m in answers] == expected, f"{shape.id}: {attacked} was answered"
    if shape.refused:
        expected = f'nats: permissions violation for publish to "{attacked}"'.lower()
        await attacker.expect_violation(expected, seen)


NO_RESPONDERS = "503"
STATUS = Header.STATUS.value


def _status(msg: Msg) -> str | None:
    """A status message's code ("503": no subscriber); None for a real message."""
    return (msg.headers or {}).get(STATUS) if not msg.data else None
