"""The per-source login gate, the anonymous-failure alert and the body cap, with a faked
clock where time matters."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter

from jukinet.node.bodylimit import install_body_limit
from jukinet.node.problems import install_problem_handlers
from jukinet.operators import AnonymousFailures, LoginGate, ThrottlePolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_source_gets_its_rate_and_no_more() -> None:
    clock = Clock()
    gate = LoginGate(ThrottlePolicy(per_minute=6), clock)
    assert all(gate.admit("a") is None for _ in range(6))
    wait = gate.admit("a")
    assert wait is not None
    assert 9.9 <= wait <= 10.0  # one attempt every ten seconds
    assert gate.admit("b") is None  # another source is not slowed
    clock.now += 10.0
    assert gate.admit("a") is None
    assert gate.admit("a") is not None


def test_failures_from_a_source_make_it_wait_longer_each_time() -> None:
    clock = Clock()
    policy = ThrottlePolicy(per_minute=1000, free_failures=3, base_delay=1.0, max_delay=8.0)
    gate = LoginGate(policy, clock)
    for _ in range(2):
        assert gate.admit("a") is None
        gate.failed("a")
    waits = []
    for _ in range(6):
        assert gate.admit("a") is None
        gate.failed("a")
        wait = gate.admit("a")
        assert wait is not None
        waits.append(wait)
        clock.now += wait
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert gate.admit("other") is None
    gate.succeeded("a")
    gate.failed("a")
    assert gate.admit("a") is None  # a success starts the count again


def test_a_quiet_source_is_forgotten_and_memory_stays_bounded() -> None:
    clock = Clock()
    policy = ThrottlePolicy(free_failures=0, forget_after=60.0, max_delay=1.0, max_sources=100)
    gate = LoginGate(policy, clock)
    gate.failed("a")
    clock.now += 61.0
    gate.failed("a")
    assert gate.admit("a") == pytest.approx(1.0)  # counted from one again, not two
    for i in range(1000):
        gate.admit(f"10.0.{i // 256}.{i % 256}")
    assert len(gate._sources) == 100


def test_anonymous_failures_are_counted_and_alerted_once_per_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    counter = Counter("t_anonymous", "test", ["kind"], registry=registry)
    clock = Clock()
    failures = AnonymousFailures(counter, threshold=5, window=60.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="jukinet.operators.alerts"):
        for _ in range(50):
            failures.note("no_credentials")
        assert len(caplog.records) == 1
        clock.now += 60.0
        for _ in range(4):
            failures.note("login_wrong_card")
        assert len(caplog.records) == 1  # below the threshold in this window
        failures.note("login_wrong_card")
    assert len(caplog.records) == 2
    assert "login_wrong_card=5" in caplog.records[1].getMessage()
    assert registry.get_sample_value("t_anonymous_total", {"kind": "no_credentials"}) == 50


@pytest.fixture
async def capped() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    install_body_limit(app, 1000, 5000)
    seen: list[int] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"length": len(body)}

    @app.post("/residents/import")
    async def bulk(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        client.seen = seen  # type: ignore[attr-defined]
        yield client


@pytest.mark.asyncio(loop_scope="session")
async def test_a_body_over_the_cap_is_refused_before_the_app_reads_it(
    capped: httpx.AsyncClient,
) -> None:
    assert (await capped.post("/echo", content=b"x" * 1000)).json() == {"length": 1000}
    declared = await capped.post("/echo", content=b"x" * 1001)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"y" * 100

    streamed = await capped.post("/echo", content=chunks())  # no Content-Length
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == "application/problem+json"
    assert capped.seen == [1000]  # type: ignore[attr-defined]
    assert (await capped.post("/residents/import", content=b"z" * 4000)).status_code == 200
    assert (await capped.post("/residents/import", content=b"z" * 5001)).status_code == 413
