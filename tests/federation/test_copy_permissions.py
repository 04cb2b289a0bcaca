"""The broker's rules for nationwide copies, against a real nats-server with mutual TLS.

Copies are a core request/reply between municipalities on ``jukinet.copy.req.<home>.<issuer>``
with answers on ``jukinet.copy.rep.<issuer>.<home>.<token>``. Only the broker runs: each
client is a raw nats-py connection with a principal's certificate, so every denial seen
here is the broker's own (see test_broker_permissions.py for the conventions).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import nats.errors
import pytest
import pytest_asyncio
from nats.aio.msg import Msg

from jukinet.contracts.principals import AGENCY, Principal
from jukinet.contracts.subjects import copy_reply_subject, copy_request_subject, copy_requests_to
from jukinet.devtools.localfed import LocalFederation
from tests.federation.consumer_attacks import Party
from tests.federation.test_broker_permissions import TIMEOUT, connected, violation
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA, OPS, YOKOHAMA

# how long a message that must arrive may take on a loaded machine (a bound, not a pace)
ARRIVES = 20.0
pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalFederation]:
    """The demo federation's broker alone, with its streams and consumers created."""
    fed = LocalFederation(tmp_path_factory.mktemp("copy-permissions"))
    fed.prepare()
    assert fed.broker is not None
    try:
        await fed.start_broker()
        yield fed
    finally:
        fed.broker.stop()


async def _ask(town: Party, home: Principal, payload: bytes) -> Msg:
    """``town`` asks ``home`` and waits for the answer on its own reply subject.

    On a loaded machine the broker has, rarely, answered "no responders" (status 503)
    although ``home`` had subscribed and flushed; such a request is asked again, a few
    times at most. Any other answer, or none, is returned or fails as it is."""
    for _ in range(3):  # bounded
        reply = copy_reply_subject(town.principal, home, secrets.token_hex(16))
        sub = await town.nc.subscribe(reply, max_msgs=1)
        await town.nc.publish(copy_request_subject(home, town.principal), payload, reply=reply)
        try:
            msg: Msg = await sub.next_msg(timeout=ARRIVES)
        finally:
            await sub.unsubscribe()
        if (msg.headers or {}).get("Status") != "503":
            return msg
        await asyncio.sleep(0.2)
    return msg


async def _answer_one(home: Party) -> asyncio.Task[Msg]:
    """``home`` answers the next request it receives, echoing it; the request is returned."""
    sub = await home.nc.subscribe(copy_requests_to(home.principal), max_msgs=1)
    await home.nc.flush(timeout=ARRIVES)

    async def serve() -> Msg:
        msg: Msg = await sub.next_msg(timeout=ARRIVES)
        await home.nc.publish(msg.reply, b"answer:" + msg.data)
        return msg

    return asyncio.create_task(serve())


async def test_a_town_asks_another_and_the_home_answers(broker: LocalFederation) -> None:
    """Positive control for the denials below."""
    async with connected(broker, HIRATSUKA) as town, connected(broker, CHIYODA) as home:
        serving = await _answer_one(home)
        answer = await _ask(town, CHIYODA, b"request")
        request = await serving
    assert request.subject == "jukinet.copy.req.131016.142034"
    assert request.reply.startswith("jukinet.copy.rep.142034.131016.")
    assert answer.data == b"answer:request"
    assert town.errors == home.errors == []


async def _yokohama_asks_chiyoda(fed: LocalFederation) -> None:
    """Real copy traffic between two other towns: a request and its answer."""
    async with connected(fed, YOKOHAMA) as town, connected(fed, CHIYODA) as home:
        serving = await _answer_one(home)
        answer = await _ask(town, CHIYODA, b"not for spies")
        assert answer.data == b"answer:not for spies", answer.headers
        await serving


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("jukinet.copy.req.131016.*", id="another-towns-requests"),
        pytest.param("jukinet.copy.req.*.141003", id="requests-of-another-town"),
        pytest.param("jukinet.copy.rep.141003.*.*", id="another-towns-answers"),
        pytest.param("jukinet.copy.rep.*.131016.*", id="answers-of-another-town"),
        pytest.param("jukinet.copy.>", id="all-copy-traffic"),
    ],
)
async def test_a_town_cannot_listen_to_another_towns_copy_traffic(
    broker: LocalFederation, subject: str
) -> None:
    async with connected(broker, HIRATSUKA) as spy:
        sub = await spy.nc.subscribe(subject)
        try:
            await spy.nc.flush(timeout=ARRIVES)
            await spy.expect_violation(violation("subscription", subject))

            await _yokohama_asks_chiyoda(broker)  # the traffic does happen...

            with pytest.raises(nats.errors.TimeoutError):  # ...but never reaches the spy
                await sub.next_msg(timeout=TIMEOUT)
        finally:
            await sub.unsubscribe()


@pytest.mark.parametrize(
    ("subject", "victim", "listens_on"),
    [
        pytest.param(
            "jukinet.copy.req.131016.141003", CHIYODA, "jukinet.copy.req.131016.*", id="ask-as-another"
        ),
        pytest.param(
            "jukinet.copy.rep.141003.131016.t1", YOKOHAMA, "jukinet.copy.rep.141003.*.*",
            id="answer-as-another",
        ),
        pytest.param(
            "_INBOX_141003.t2", YOKOHAMA, "_INBOX_141003.>", id="answer-into-another-inbox"
        ),
        pytest.param(
            "jukinet.copy.req.142034.142034", HIRATSUKA, "jukinet.copy.req.142034.*", id="to-itself"
        ),
    ],
)  # fmt: skip
async def test_a_town_cannot_ask_or_answer_as_another(
    broker: LocalFederation, subject: str, victim: Principal, listens_on: str
) -> None:
    async with connected(broker, HIRATSUKA) as town, connected(broker, victim) as target:
        sub = await target.nc.subscribe(listens_on)
        try:
            await target.nc.flush(timeout=ARRIVES)
            await town.nc.publish(
                subject, b"forged", reply=f"jukinet.copy.rep.142034.{victim.code}.x"
            )
            await town.expect_violation(violation("publish", subject))
            with pytest.raises(nats.errors.TimeoutError):
                await sub.next_msg(timeout=TIMEOUT)
        finally:
            await sub.unsubscribe()
        assert target.errors == []


async def test_a_requester_cannot_steer_the_answer_into_another_nodes_inbox(
    broker: LocalFederation,
) -> None:
    """The requester picks the reply subject, but the home town may answer only on its
    own copy-answer subjects: an answer aimed at an inbox is refused by the broker."""
    async with connected(broker, CHIYODA) as home, connected(broker, HIRATSUKA) as town:
        sub = await home.nc.subscribe(copy_requests_to(CHIYODA), max_msgs=1)
        await home.nc.flush(timeout=ARRIVES)
        steered = "_INBOX_141003.steered"
        await town.nc.publish(copy_request_subject(CHIYODA, HIRATSUKA), b"q", reply=steered)
        msg = await sub.next_msg(timeout=ARRIVES)
        assert msg.reply == steered
        await home.nc.publish(msg.reply, b"answer")
        await home.expect_violation(violation("publish", steered))


@pytest.mark.parametrize(
    ("principal", "subject"),
    [
        pytest.param(KANAGAWA, "jukinet.copy.req.131016.140007", id="prefecture-asks"),
        pytest.param(KANAGAWA, "jukinet.copy.rep.142034.140007.t", id="prefecture-answers"),
        pytest.param(AGENCY, "jukinet.copy.req.131016.jlis", id="agency-asks"),
        pytest.param(OPS, "jukinet.copy.req.131016.142034", id="ops-asks"),
    ],
)
async def test_only_municipalities_take_part(
    broker: LocalFederation, principal: Principal, subject: str
) -> None:
    async with connected(broker, principal) as conn:
        await conn.nc.publish(subject, b"copy?")
        await conn.expect_violation(violation("publish", subject))
        listen = "jukinet.copy.>"
        sub = await conn.nc.subscribe(listen)
        await conn.expect_violation(violation("subscription", listen))
        await sub.unsubscribe()


async def test_no_stream_keeps_copy_traffic(broker: LocalFederation) -> None:
    """Copies are asked for while the resident waits; nothing of them is stored."""
    async with connected(broker, OPS) as ops:
        streams = await ops.js.streams_info()
        before = {s.config.name: s.state.messages for s in streams}
        await _yokohama_asks_chiyoda(broker)
        after = {s.config.name: s.state.messages for s in await ops.js.streams_info()}
    assert after == before
    for stream in streams:
        assert not any(s.startswith("jukinet.copy") for s in stream.config.subjects or [])
