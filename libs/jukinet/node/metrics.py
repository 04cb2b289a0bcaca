"""Prometheus metrics of one node. Labels carry only codes and kinds — message types,
outcomes, reasons, affairs, route templates — never a name, address or resident code.

Each app has its own registry (several nodes may share a process in tests).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Metrics", "install_metrics"]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.published = Counter(
            "jukinet_messages_published",
            "Messages published by the outbox relay",
            registry=r,
        )
        self.consumed = Counter(
            "jukinet_messages_consumed", "Inbound messages by outcome", ["outcome"], registry=r
        )
        self.dead_letters = Counter(
            "jukinet_dead_letters",
            "Inbound messages dead-lettered, by reason",
            ["reason"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "jukinet_outbox_backlog", "Outbox items not yet acknowledged by the broker", registry=r
        )
        self.outbox_undeliverable = Gauge(
            "jukinet_outbox_undeliverable",
            "Outbox items set aside as undeliverable (not resolved), by reason",
            ["reason"],
            registry=r,
        )
        self.outbox_set_aside = Counter(
            "jukinet_outbox_set_aside",
            "Outbox items set aside as undeliverable, by reason",
            ["reason"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "jukinet_consumer_lag", "Messages waiting in this node's inbound stream", registry=r
        )
        self.lookups = Counter(
            "jukinet_lookups", "Lookups by affair and outcome", ["affair", "outcome"], registry=r
        )
        self.reconciliations = Counter(
            "jukinet_reconciliation_differences",
            "Differences found by reconciliation, by kind",
            ["kind"],
            registry=r,
        )
        self.anonymous_failures = Counter(
            "jukinet_anonymous_failures",
            "Requests refused before the caller proved an identity, by kind",
            ["kind"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "jukinet_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def install_metrics(
    app: FastAPI, metrics: Metrics, refresh: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Add ``GET /metrics`` and a latency middleware labelled by route template."""

    app.add_middleware(_Timing, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def scrape() -> Response:
        if refresh is not None:
            await refresh()
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


class _Timing:
    """Request latency by method, route template and status: a plain ASGI middleware
    (Starlette's BaseHTTPMiddleware costs a task and two streams per request)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_status)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            self._metrics.request_seconds.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - start
            )
