"""The broker's authorization, against a real nats-server with mutual TLS.

Only the broker runs here (no services): every client is a raw nats-py connection made
with a principal's certificate, so each denial is the broker's own, observed both as the
client sees it (a timeout, a permissions violation sent to ``error_cb``) and as its effect
(streams and consumers left untouched, checked with the operations identity).

nats-py lowercases the server's ``-ERR`` text, so violations are compared in lowercase.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from typer.testing import CliRunner

from jukinet.broker import NODES_ACCOUNT, DefinitionsDiffer, ensure_streams
from jukinet.bus import tls_context
from jukinet.cli import app
from jukinet.contracts.federation import DEMO
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.contracts.subjects import CONSUMER, inbox_prefix, message_subject, stream_name
from jukinet.devtools.localfed import LocalFederation
from jukinet.pki import CertificateAuthority, PkiLayout
from tests.federation.consumer_attacks import (
    SHAPES,
    Party,
    Shape,
    attack_round,
    drain,
    party,
    server_account_hash,
)
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA, MOFA, OPS, SHINJUKU, TOKYO

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]


IN_KANAGAWA = "IN_140007"
TIMEOUT = 1.0  # every request, fetch and wait below is bounded by this (or 2 s)


def violation(kind: str, subject: str) -> str:
    """The server's ``-ERR`` text as nats-py reports it (lowercased)."""
    return f'nats: permissions violation for {kind} to "{subject}"'.lower()


async def _connect(
    url: str, tls: ssl.SSLContext, prefix: str, errors: list[Exception], name: str
) -> Client:
    """Connect with no reconnects; the client is closed again if the connect fails."""

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = Client()
    try:
        await nc.connect(
            servers=[url],
            tls=tls,
            tls_hostname="localhost",
            name=name,
            inbox_prefix=prefix,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
            error_cb=on_error,
        )
    except BaseException:
        await nc.close()
        raise
    return nc


@asynccontextmanager
async def connected(fed: LocalFederation, principal: Principal) -> AsyncIterator[Party]:
    errors: list[Exception] = []
    nc = await _connect(
        fed.nats_url, fed.tls(principal), inbox_prefix(principal), errors, principal.slug
    )
    try:
        assert nc.is_connected
        yield Party(principal, nc, errors)
    finally:
        await nc.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalFederation]:
    """The demo federation's broker alone, with its streams and consumers created."""
    fed = LocalFederation(tmp_path_factory.mktemp("broker-permissions"))
    fed.prepare()
    assert fed.broker is not None
    try:
        await fed.start_broker()
        yield fed
    finally:
        fed.broker.stop()


async def stored(ops: Party, stream: str) -> int:
    return (await ops.js.stream_info(stream)).state.messages


# -- 1, 2, 3: publishing ------------------------------------------------------------------


async def test_municipality_cannot_publish_as_another_municipality(fed: LocalFederation) -> None:
    subject = "jukinet.msg.140007.141003"  # Yokohama -> Kanagawa, sent by Hiratsuka
    async with connected(fed, OPS) as ops, connected(fed, HIRATSUKA) as town:
        before = await stored(ops, IN_KANAGAWA)

        with pytest.raises(nats.errors.TimeoutError):
            await town.js.publish(subject, b"forged as 141003", timeout=TIMEOUT)

        await town.expect_violation(violation("publish", subject))
        assert await stored(ops, IN_KANAGAWA) == before
        assert town.nc.is_connected  # a violation is reported, not a disconnect


async def test_municipality_publishes_as_itself_to_its_prefecture(fed: LocalFederation) -> None:
    subject = "jukinet.msg.140007.142034"
    async with connected(fed, OPS) as ops, connected(fed, HIRATSUKA) as town:
        before = await stored(ops, IN_KANAGAWA)

        ack = await town.js.publish(subject, b"from 142034", timeout=TIMEOUT)

        assert ack.stream == IN_KANAGAWA
        assert not ack.duplicate
        assert await stored(ops, IN_KANAGAWA) == before + 1
        assert town.errors == []


@pytest.mark.parametrize(
    ("subject", "stream"),
    [
        pytest.param("jukinet.msg.130001.142034", "IN_130001", id="to-other-prefecture"),
    ],
)
async def test_municipality_cannot_bypass_its_prefecture(
    fed: LocalFederation, subject: str, stream: str
) -> None:
    async with connected(fed, OPS) as ops, connected(fed, HIRATSUKA) as town:
        before = await stored(ops, stream)

        with pytest.raises(nats.errors.TimeoutError):
            await town.js.publish(subject, b"bypass", timeout=TIMEOUT)

        await town.expect_violation(violation("publish", subject))
        assert await stored(ops, stream) == before


@pytest.mark.parametrize(
    ("sender", "subject", "stream"),
    [
        pytest.param(KANAGAWA, "jukinet.msg.131016.130001", "IN_131016", id="pref-as-pref"),
        pytest.param(KANAGAWA, "jukinet.msg.jlis.142034", "IN_jlis", id="pref-as-town"),
        pytest.param(AGENCY, "jukinet.msg.140007.130001", IN_KANAGAWA, id="agency-as-pref"),
        pytest.param(OPS, "jukinet.msg.140007.142034", IN_KANAGAWA, id="ops-sends-nothing"),
        pytest.param(KANAGAWA, "jukinet.msg.131016.140007", "IN_131016", id="pref-to-other-town"),
        pytest.param(KANAGAWA, "jukinet.msg.130001.140007", "IN_130001", id="pref-to-pref"),
        pytest.param(HIRATSUKA, "jukinet.msg.142034.142034", "IN_142034", id="town-to-itself"),
        pytest.param(AGENCY, "jukinet.msg.140007.jlis", IN_KANAGAWA, id="agency-to-pref"),
    ],
)
async def test_no_principal_publishes_as_another(
    fed: LocalFederation, sender: Principal, subject: str, stream: str
) -> None:
    async with connected(fed, OPS) as ops, connected(fed, sender) as conn:
        before = await stored(ops, stream)

        with pytest.raises(nats.errors.TimeoutError):
            await conn.js.publish(subject, b"forged", timeout=TIMEOUT)

        await conn.expect_violation(violation("publish", subject))
        assert await stored(ops, stream) == before


# -- 4: consuming -------------------------------------------------------------------------


async def test_only_the_owner_pulls_its_consumer(fed: LocalFederation) -> None:
    marker = f"pull-{secrets.token_hex(8)}".encode()
    async with (
        connected(fed, OPS) as ops,
        connected(fed, HIRATSUKA) as town,
        connected(fed, KANAGAWA) as pref,
    ):
        await town.js.publish("jukinet.msg.140007.142034", marker, timeout=TIMEOUT)
        before = await ops.js.consumer_info(IN_KANAGAWA, CONSUMER)
        assert before.num_pending >= 1

        spy = await town.js.pull_subscribe_bind(durable=CONSUMER, stream=IN_KANAGAWA)
        try:
            with pytest.raises(nats.errors.TimeoutError):
                await spy.fetch(1, timeout=TIMEOUT)
        finally:
            await spy.unsubscribe()
        await town.expect_violation(
            violation("publish", f"$JS.API.CONSUMER.MSG.NEXT.{IN_KANAGAWA}.{CONSUMER}")
        )
        after = await ops.js.consumer_info(IN_KANAGAWA, CONSUMER)
        assert after.delivered.stream_seq == before.delivered.stream_seq
        assert after.num_ack_pending == before.num_ack_pending

        # positive control: the prefecture pulls (and acks) its own messages
        own = await pref.js.pull_subscribe_bind(durable=CONSUMER, stream=IN_KANAGAWA)
        received: list[bytes] = []
        try:
            for _ in range(2):  # at most 2 bounded fetches
                for msg in await own.fetch(100, timeout=TIMEOUT):
                    await msg.ack_sync(timeout=TIMEOUT)
                    received.append(msg.data)
                if marker in received:
                    break
        finally:
            await own.unsubscribe()
        assert marker in received
        assert pref.errors == []


@pytest.mark.parametrize(
    "subject",
    [
        f"$JS.API.CONSUMER.INFO.{IN_KANAGAWA}.{CONSUMER}",
        f"$JS.API.STREAM.INFO.{IN_KANAGAWA}",
        f"$JS.API.STREAM.MSG.GET.{IN_KANAGAWA}",
        f"$JS.API.DIRECT.GET.{IN_KANAGAWA}",
    ],
)
async def test_municipality_cannot_read_another_nodes_stream(
    fed: LocalFederation, subject: str
) -> None:
    async with connected(fed, HIRATSUKA) as town:
        with pytest.raises(nats.errors.TimeoutError):
            await town.nc.request(subject, json.dumps({"seq": 1}).encode(), timeout=TIMEOUT)
        await town.expect_violation(violation("publish", subject))


# -- 5: subscribing -----------------------------------------------------------------------


async def _owner_consumer_info(owner: Party, town: Party) -> None:
    """A JetStream API reply delivered to Kanagawa's own inbox (``_INBOX_140007.…``)."""
    info = await owner.js.consumer_info(IN_KANAGAWA, CONSUMER)
    assert info.name == CONSUMER


async def _message_to_kanagawa(owner: Party, town: Party) -> None:
    """A message really published on ``jukinet.msg.140007.142034``."""
    ack = await town.js.publish("jukinet.msg.140007.142034", b"not for spies", timeout=TIMEOUT)
    assert ack.stream == IN_KANAGAWA


@pytest.mark.parametrize(
    ("subject", "trigger"),
    [
        pytest.param("_INBOX_140007.>", _owner_consumer_info, id="other-inbox"),
        pytest.param("jukinet.msg.140007.*", _message_to_kanagawa, id="other-messages"),
        pytest.param(">", _owner_consumer_info, id="everything"),
    ],
)
async def test_municipality_cannot_subscribe_to_another_nodes_traffic(
    fed: LocalFederation, subject: str, trigger: Callable[[Party, Party], Awaitable[None]]
) -> None:
    async with connected(fed, HIRATSUKA) as town, connected(fed, KANAGAWA) as pref:
        spy = await town.nc.subscribe(subject)
        try:
            await town.nc.flush(timeout=20)
            await town.expect_violation(violation("subscription", subject))

            await trigger(pref, town)  # traffic on that subject does happen...

            with pytest.raises(nats.errors.TimeoutError):  # ...but never reaches the spy
                await spy.next_msg(timeout=TIMEOUT)
        finally:
            await spy.unsubscribe()
        assert pref.errors == []


# -- 6: connecting ------------------------------------------------------------------------


def _no_certificate(fed: LocalFederation, other: PkiLayout) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(fed.layout.ca_cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def _other_ca(fed: LocalFederation, other: PkiLayout) -> ssl.SSLContext:
    """Same principal name, certificate from an unrelated CA (the broker is still trusted)."""
    d = other.node_dir(HIRATSUKA)
    return tls_context(d / "tls.crt", d / "tls.key", fed.layout.ca_cert)


def _ministry(fed: LocalFederation, other: PkiLayout) -> ssl.SSLContext:
    """A valid certificate of the federation CA, for a principal that is no broker user."""
    return fed.tls(MOFA)


@pytest.mark.parametrize(
    ("make_tls", "refused", "client_says", "broker_logs"),
    [
        pytest.param(
            _no_certificate,
            OSError,  # reset, broken pipe or the TLS alert: which one the client sees races
            None,
            "TLS handshake error: tls: client didn't provide a certificate",
            id="no-cert",
        ),
        pytest.param(
            _other_ca,
            OSError,
            None,
            "TLS handshake error: tls: failed to verify certificate: "
            "x509: certificate signed by unknown authority",
            id="other-ca",
        ),
        pytest.param(  # not pinned: refused in the handshake, before authorization
            _ministry,
            OSError,
            None,
            "certificate not pinned",
            id="ministry-not-a-user",
        ),
    ],
)
async def test_only_broker_users_connect(
    fed: LocalFederation,
    other_pki: tuple[PkiLayout, CertificateAuthority],
    make_tls: Callable[[LocalFederation, PkiLayout], ssl.SSLContext],
    refused: type[Exception],
    client_says: str | None,
    broker_logs: str,
) -> None:
    assert fed.broker is not None
    log = fed.broker.log_file
    offset = log.stat().st_size
    errors: list[Exception] = []
    tls = make_tls(fed, other_pki[0])
    try:
        nc = await _connect(fed.nats_url, tls, "_INBOX_x", errors, "x")
    except refused as exc:
        reported = [str(e).lower() for e in (exc, *errors)]
    else:
        accepted = nc.is_connected
        await nc.close()
        if accepted:
            pytest.fail("connect did not raise; the broker let it in")
        reported = [str(e).lower() for e in errors]  # dropped right after the handshake
    if client_says is not None:
        assert any(client_says in text for text in reported), reported
    for _ in range(20):  # the broker's own reason, at most 2 s later
        with log.open("rb") as f:
            f.seek(offset)
            if broker_logs in f.read().decode(errors="replace"):
                break
        await asyncio.sleep(0.1)
    else:
        pytest.fail(f"{broker_logs!r} not in {log}")


async def test_same_client_setup_connects_with_a_valid_node_certificate(
    fed: LocalFederation,
) -> None:
    """Positive control for the refusals above: the same connect code, a node's cert."""
    errors: list[Exception] = []
    nc = await _connect(fed.nats_url, fed.tls(HIRATSUKA), "_INBOX_142034", errors, "x")
    try:
        assert nc.is_connected
        await nc.flush(timeout=20)
    finally:
        await nc.close()
    assert errors == []


# -- 7: managing streams and consumers ----------------------------------------------------


async def _stream_absent(ops: Party, name: str) -> None:
    """Listed by the operations identity (which may list streams, not read messages)."""
    assert name not in {s.config.name for s in await ops.js.streams_info()}


async def _consumer_absent(ops: Party, stream: str, name: str) -> None:
    assert name not in {c.name for c in await ops.js.consumers_info(stream)}


def _config(name: str, subjects: list[str]) -> bytes:
    return json.dumps({"name": name, "subjects": subjects, "num_replicas": 1}).encode()


def _consumer(stream: str, durable: str) -> bytes:
    config = {"durable_name": durable, "ack_policy": "explicit"}
    return json.dumps({"stream_name": stream, "config": config}).encode()


@pytest.mark.parametrize(
    ("subject", "payload"),
    [
        pytest.param("$JS.API.STREAM.CREATE.X", _config("X", ["x.>"]), id="create-stream"),
        pytest.param(
            "$JS.API.STREAM.UPDATE.IN_142034",
            _config("IN_142034", ["jukinet.msg.142034.*", "jukinet.msg.*.140007"]),
            id="update-own-stream",
        ),
        pytest.param("$JS.API.STREAM.DELETE.IN_142034", b"", id="delete-own-stream"),
        pytest.param(f"$JS.API.STREAM.PURGE.{IN_KANAGAWA}", b"", id="purge-other-stream"),
        pytest.param(
            f"$JS.API.CONSUMER.CREATE.{IN_KANAGAWA}.spy",
            _consumer(IN_KANAGAWA, "spy"),
            id="create-consumer",
        ),
        pytest.param(
            f"$JS.API.CONSUMER.DURABLE.CREATE.{IN_KANAGAWA}.spy",
            _consumer(IN_KANAGAWA, "spy"),
            id="create-durable",
        ),
        pytest.param(
            f"$JS.API.CONSUMER.DELETE.{IN_KANAGAWA}.{CONSUMER}", b"", id="delete-other-consumer"
        ),
        pytest.param(f"$JS.API.CONSUMER.DELETE.IN_142034.{CONSUMER}", b"", id="delete-own"),
    ],
)
async def test_node_cannot_manage_streams_or_consumers(
    fed: LocalFederation, subject: str, payload: bytes
) -> None:
    async with connected(fed, OPS) as ops, connected(fed, HIRATSUKA) as town:
        kanagawa_before = await stored(ops, IN_KANAGAWA)

        with pytest.raises(nats.errors.TimeoutError):
            await town.nc.request(subject, payload, timeout=TIMEOUT)

        await town.expect_violation(violation("publish", subject))
        # nothing changed, as seen by the operations identity
        await _stream_absent(ops, "X")
        await _consumer_absent(ops, IN_KANAGAWA, "spy")
        own = await ops.js.stream_info("IN_142034")
        assert own.config.subjects == ["jukinet.msg.142034.*"]
        assert (await ops.js.consumer_info("IN_142034", CONSUMER)).name == CONSUMER
        assert (await ops.js.consumer_info(IN_KANAGAWA, CONSUMER)).name == CONSUMER
        assert await stored(ops, IN_KANAGAWA) == kanagawa_before


async def test_ops_identity_reads_stream_info(fed: LocalFederation) -> None:
    async with connected(fed, OPS) as ops:
        info = await ops.js.stream_info(IN_KANAGAWA)
        consumer = await ops.js.consumer_info(IN_KANAGAWA, CONSUMER)
    assert info.config.name == IN_KANAGAWA
    assert info.config.subjects == ["jukinet.msg.140007.*"]
    assert consumer.config.durable_name == CONSUMER
    assert ops.errors == []


@pytest.mark.parametrize(
    "subject",
    [
        f"$JS.API.STREAM.MSG.GET.{IN_KANAGAWA}",
        f"$JS.API.DIRECT.GET.{IN_KANAGAWA}",
        f"$JS.API.CONSUMER.MSG.NEXT.{IN_KANAGAWA}.{CONSUMER}",
        f"$JS.API.STREAM.PURGE.{IN_KANAGAWA}",
        f"$JS.API.STREAM.DELETE.{IN_KANAGAWA}",
        f"$JS.API.CONSUMER.CREATE.{IN_KANAGAWA}.spy",
        f"$JS.API.CONSUMER.DELETE.{IN_KANAGAWA}.{CONSUMER}",
        f"$JS.API.DIRECT.GET.{IN_KANAGAWA}.jukinet.msg.140007.142034",
        f"$JS.API.CONSUMER.CREATE.{IN_KANAGAWA}",
        f"$JS.API.CONSUMER.CREATE.{IN_KANAGAWA}.{CONSUMER}.jukinet.msg.140007.142034",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{IN_KANAGAWA}.spy",
        f"$JS.API.STREAM.UPDATE.{IN_KANAGAWA}",
        f"$JS.API.STREAM.SNAPSHOT.{IN_KANAGAWA}",
        f"$JS.API.STREAM.MSG.DELETE.{IN_KANAGAWA}",
        f"$JS.ACK.{IN_KANAGAWA}.{CONSUMER}.1.1.1.1.0",
    ],
)
async def test_ops_identity_cannot_read_or_hold_messages(
    fed: LocalFederation, subject: str
) -> None:
    """Operations manage streams; they never see a message or take one off a node."""
    async with connected(fed, OPS) as ops:
        before = await ops.js.consumer_info(IN_KANAGAWA, CONSUMER)
        with pytest.raises(nats.errors.TimeoutError):
            await ops.nc.request(subject, json.dumps({"seq": 1}).encode(), timeout=TIMEOUT)
        await ops.expect_violation(violation("publish", subject))
        after = await ops.js.consumer_info(IN_KANAGAWA, CONSUMER)
    assert after.num_ack_pending == before.num_ack_pending


# -- 8: another node's consumer (issue 12, item 4) ----------------------------------------


@dataclass
class Bench:
    """The attacker (千代田区, which also sends the victims' messages) and each victim
    with its own pull subscription bound to its consumer."""

    attacker: Party
    victims: dict[Principal, tuple[Party, JetStreamContext.PullSubscription]]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def bench(fed: LocalFederation) -> AsyncIterator[Bench]:
    async with (
        party(fed, CHIYODA) as attacker,
        party(fed, TOKYO) as tokyo,
        party(fed, AGENCY) as agency,
    ):
        victims = {}
        for victim in (tokyo, agency):
            sub = await victim.js.pull_subscribe_bind(
                durable=CONSUMER, stream=stream_name(victim.principal)
            )
            await drain(victim, sub)
            victims[victim.principal] = (victim, sub)
        yield Bench(attacker, victims)


@pytest.mark.parametrize("shape", SHAPES, ids=[s.id for s in SHAPES])
@pytest.mark.parametrize("victim", [TOKYO, AGENCY], ids=["tokyo", "agency"])
async def test_no_node_reaches_another_nodes_consumer(
    bench: Bench, victim: Principal, shape: Shape
) -> None:
    """No JetStream API or acknowledgement subject lets 千代田区 pull, ack, nak, term or
    inspect 東京都's or the agency's consumer, or touch their streams."""
    conn, sub = bench.victims[victim]
    await attack_round(shape, bench.attacker, conn, sub, sender=bench.attacker)


async def test_owner_acks_in_both_subject_forms(bench: Bench) -> None:
    """Positive control: the v1 form the broker sends and the v2 form
    (``$JS.ACK.<domain>.<account hash>.…``) both acknowledge the owner's own message."""
    conn, sub = bench.victims[TOKYO]
    subject = message_subject(TOKYO, CHIYODA)
    for form in ("v1", "v2"):
        marker = f"{form}-{secrets.token_hex(6)}".encode()
        await bench.attacker.js.publish(subject, marker, timeout=TIMEOUT)
        [msg] = await sub.fetch(1, timeout=2)
        assert msg.data == marker
        ack = msg.reply
        if form == "v2":
            prefix = f"_.{server_account_hash(NODES_ACCOUNT)}"
            ack = ack.replace("$JS.ACK.", f"$JS.ACK.{prefix}.", 1)
        await conn.nc.request(ack, b"+ACK", timeout=2)  # answered only if it was processed
        info = await conn.js.consumer_info(stream_name(TOKYO), CONSUMER)
        assert info.num_ack_pending == 0
        assert info.num_pending == 0
    assert conn.violations() == []


# -- 9: the operations identity reads nothing (issue 12, item 5) --------------------------

SPY = f"{inbox_prefix(OPS)}.spy"  # below the only prefix the operations identity reads


def _republishing(name: str, subjects: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "subjects": subjects,
        "num_replicas": 1,
        "republish": {"src": ">", "dest": f"{SPY}.republished.>"},
    }


def _redefinitions(stream: str) -> list[tuple[str, dict[str, Any]]]:
    """Ways to route a stream's messages towards the operations identity, or drop them."""
    subjects = [f"jukinet.msg.{stream.removeprefix('IN_')}.*"]
    return [
        ("republish", _republishing(stream, subjects)),
        ("mirror", {"name": stream, "mirror": {"name": "IN_130001"}, "num_replicas": 1}),
        ("sources", {"name": stream, "subjects": subjects, "sources": [{"name": "IN_130001"}]}),
        ("subjects", {"name": stream, "subjects": ["jukinet.msg.140007.142034"]}),
        ("limits", {"name": stream, "subjects": subjects, "max_msgs": 1}),
    ]


async def _api_request(conn: Party, subject: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The API's JSON answer, or None when the broker refused the request itself."""
    try:
        msg = await conn.nc.request(subject, json.dumps(body).encode(), timeout=TIMEOUT)
    except nats.errors.TimeoutError:
        return None
    answer: dict[str, Any] = json.loads(msg.data)
    return answer


@asynccontextmanager
async def spying(ops: Party) -> AsyncIterator[list[Msg]]:
    """Everything that reaches the operations identity below SPY while the block runs."""
    got: list[Msg] = []

    async def keep(msg: Msg) -> None:
        got.append(msg)

    sub = await ops.nc.subscribe(f"{SPY}.>", cb=keep)
    try:
        await ops.nc.flush(timeout=TIMEOUT)
        yield got
    finally:
        await sub.unsubscribe()


async def nothing_reaches(ops: Party, got: list[Msg]) -> None:
    """A republished or pushed message reaches a subscriber within milliseconds; give it
    a bounded second after a flush, then nothing may have arrived."""
    await ops.nc.flush(timeout=TIMEOUT)
    for _ in range(10):
        assert got == [], f"{len(got)} message(s) reached the operations identity"
        await asyncio.sleep(0.1)


async def send_to(town: Party, to: Principal) -> int:
    """A message from ``town`` into ``to``'s stream; its stream sequence."""
    subject = message_subject(to, town.principal)
    ack = await town.js.publish(subject, secrets.token_bytes(16), timeout=TIMEOUT)
    assert ack.stream == stream_name(to)
    return ack.seq


@pytest.mark.parametrize("verb", ["UPDATE", "CREATE"])
@pytest.mark.parametrize("change", [c for c, _ in _redefinitions(IN_KANAGAWA)])
async def test_ops_cannot_redefine_a_stream(fed: LocalFederation, verb: str, change: str) -> None:
    """A stream's definition is fixed once created: no republish, mirror or sources that
    could carry messages to the operations identity, no other subjects, no new limits."""
    body = dict(_redefinitions(IN_KANAGAWA))[change]
    async with party(fed, OPS) as ops, party(fed, HIRATSUKA) as town, spying(ops) as got:
        before = (await ops.js.stream_info(IN_KANAGAWA)).config

        answer = await _api_request(ops, f"$JS.API.STREAM.{verb}.{IN_KANAGAWA}", body)

        assert answer is None or "error" in answer, answer
        assert (await ops.js.stream_info(IN_KANAGAWA)).config == before
        await send_to(town, KANAGAWA)
        await nothing_reaches(ops, got)


async def test_ops_cannot_turn_a_nodes_consumer_towards_itself(fed: LocalFederation) -> None:
    """The one consumer of a stream stays a pull consumer: no push delivery to the
    operations identity, and the owner's pending messages stay where they are."""
    pushed = {"durable_name": CONSUMER, "deliver_subject": f"{SPY}.pushed", "ack_policy": "none"}
    body = {"stream_name": IN_KANAGAWA, "config": pushed}
    async with party(fed, OPS) as ops, party(fed, HIRATSUKA) as town, spying(ops) as got:
        before = (await ops.js.consumer_info(IN_KANAGAWA, CONSUMER)).config

        for subject in (
            f"$JS.API.CONSUMER.CREATE.{IN_KANAGAWA}.{CONSUMER}",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{IN_KANAGAWA}.{CONSUMER}",
        ):
            answer = await _api_request(ops, subject, body)
            assert answer is None or "error" in answer, answer

        assert (await ops.js.consumer_info(IN_KANAGAWA, CONSUMER)).config == before
        await send_to(town, KANAGAWA)
        await nothing_reaches(ops, got)


# a broker of the demo federation on which 新宿区's and 横浜市's streams do not exist yet
IN_SHINJUKU, IN_YOKOHAMA = "IN_131041", "IN_141003"
PARTIAL = dataclasses.replace(
    DEMO, municipalities=tuple(c for c in DEMO.municipalities if c not in ("131041", "141003"))
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fresh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalFederation]:
    fed = LocalFederation(tmp_path_factory.mktemp("fresh-broker"))
    fed.prepare()
    assert fed.broker is not None
    try:
        fed.broker.start()
        await fed.broker.wait_ready()
        async with party(fed, OPS) as ops:
            await ensure_streams(ops.nc, PARTIAL)
        yield fed
    finally:
        fed.broker.stop()


async def test_ops_reads_nothing_from_a_stream_it_defines(fresh: LocalFederation) -> None:
    """The operations identity creates a missing stream, as it must be able to — here
    one that republishes everything to it, with a push consumer delivering to it. It
    still receives nothing: its subscriptions are out of every stream's reach."""
    stream = _republishing(IN_SHINJUKU, ["jukinet.msg.131041.*"])
    pushed = {"durable_name": CONSUMER, "deliver_subject": f"{SPY}.pushed", "ack_policy": "none"}
    consumer = {"stream_name": IN_SHINJUKU, "config": pushed}
    async with party(fresh, OPS) as ops, party(fresh, CHIYODA) as town, spying(ops) as got:
        created = await _api_request(ops, f"$JS.API.STREAM.CREATE.{IN_SHINJUKU}", stream)
        assert created is not None
        assert "error" not in created, created
        subject = f"$JS.API.CONSUMER.CREATE.{IN_SHINJUKU}.{CONSUMER}"
        made = await _api_request(ops, subject, consumer)
        assert made is not None
        assert "error" not in made, made

        await send_to(town, SHINJUKU)

        await nothing_reaches(ops, got)
        info = await ops.js.consumer_info(IN_SHINJUKU, CONSUMER)
        assert not info.push_bound  # no subscriber anywhere listens on its deliver subject


async def _init_streams(fed: LocalFederation) -> tuple[int, str]:
    """`jukinet broker init-streams` against ``fed``'s broker, as operations run it (the
    command itself, in-process: a new interpreter would only add its start-up)."""
    args = ["broker", "init-streams", "--server", fed.nats_url, "--pki-root", str(fed.layout.root)]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    failure = f"\n{result.exception!r}" if result.exception is not None else ""
    return result.exit_code, result.output + failure


async def _definitions(ops: Party) -> dict[str, tuple[Any, Any, int]]:
    """Every stream's definition, its consumer's definition and its message count."""
    found = {}
    for info in await ops.js.streams_info():
        consumer = await ops.js.consumer_info(info.config.name, CONSUMER)
        found[info.config.name] = (info.config, consumer.config, info.state.messages)
    return found


async def test_init_streams_is_idempotent(fed: LocalFederation) -> None:
    """On a broker that has every stream: nothing changes, however often it runs (the
    command once, then the same code in-process)."""
    async with party(fed, OPS) as ops:
        before = await _definitions(ops)
        code, out = await _init_streams(fed)
        assert code == 0, out
        assert await _definitions(ops) == before
        assert await ensure_streams(ops.nc, DEMO) == [stream_name(n) for n in DEMO.nodes]
        assert await _definitions(ops) == before
    assert set(before) == {stream_name(n) for n in DEMO.nodes}


async def test_init_streams_creates_what_is_missing_and_names_what_differs(
    fresh: LocalFederation,
) -> None:
    """A missing stream is created; one that exists with another definition is left as
    it is and named, and the command fails — every time it runs."""
    async with party(fresh, OPS) as ops:
        other = {"name": IN_SHINJUKU, "subjects": ["jukinet.msg.131041.*"], "max_msgs": 5}
        await _api_request(ops, f"$JS.API.STREAM.CREATE.{IN_SHINJUKU}", other)  # if absent
        shinjuku = (await ops.js.stream_info(IN_SHINJUKU)).config

        code, out = await _init_streams(fresh)

        assert code != 0, out
        assert f"stream {IN_SHINJUKU}: exists with another definition" in out
        assert f"stream {IN_YOKOHAMA}: ready" in out
        with pytest.raises(DefinitionsDiffer) as again:
            await ensure_streams(ops.nc, DEMO)
        assert again.value.differ == [IN_SHINJUKU]
        assert IN_YOKOHAMA in again.value.ready
        assert (await ops.js.stream_info(IN_SHINJUKU)).config == shinjuku
        yokohama = await ops.js.stream_info(IN_YOKOHAMA)
        assert yokohama.config.subjects == ["jukinet.msg.141003.*"]
        assert yokohama.config.republish is None
        assert (await ops.js.consumer_info(IN_YOKOHAMA, CONSUMER)).config.deliver_subject is None
