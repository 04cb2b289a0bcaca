"""The FastAPI application every node service is built from: the runtime and the
operator context in the lifespan (the app's typed state: :data:`jukinet.node.state.NODE`
and :data:`jukinet.operators.OPERATORS`), problem+json, metrics and the operations
routes; serving nodes (prefecture, agency) add the record, lookup-administration and
reconciliation routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from jukinet.node.bodylimit import install_body_limit
from jukinet.node.deps import operations_router
from jukinet.node.docs import install_docs
from jukinet.node.metrics import Metrics, install_metrics
from jukinet.node.outbox import outbox_router
from jukinet.node.problems import install_problem_handlers
from jukinet.node.runtime import NodeRuntime, NodeSpec
from jukinet.node.settings import NodeSettings
from jukinet.node.state import NODE, NodeState, state_of
from jukinet.operators import (
    OPERATORS,
    AnonymousFailures,
    LoginGate,
    OperatorContext,
    OperatorTables,
    ThrottlePolicy,
    challenge_key,
    operator_routers,
)

__all__ = ["OnStart", "node_app"]

# Work a service adds at start; it may return what to run at stop.
OnStart = Callable[[NodeRuntime], Awaitable[Callable[[], object] | None]]


def node_app(
    settings: NodeSettings, spec: NodeSpec, *, title: str, on_start: OnStart | None = None
) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = NodeRuntime(settings, spec, metrics)
        await runtime.start()
        NODE.put(app, NodeState(runtime))
        OPERATORS.put(app, _operator_context(settings, spec, metrics, runtime))
        on_stop = await on_start(runtime) if on_start is not None else None
        try:
            yield
        finally:
            if on_stop is not None:
                on_stop()
            await runtime.stop()
            NODE.put(app, None)
            OPERATORS.put(app, None)

    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_docs(app)
    install_problem_handlers(app)
    install_body_limit(app, settings.max_body_bytes, settings.max_import_bytes)
    install_metrics(app, metrics, refresh=lambda: state_of(app).runtime.refresh_gauges())
    app.include_router(operations_router())
    app.include_router(outbox_router())
    for router in operator_routers():
        app.include_router(router)
    return app


def _operator_context(
    settings: NodeSettings, spec: NodeSpec, metrics: Metrics, runtime: NodeRuntime
) -> OperatorContext:
    key, _ = settings.credentials().require_signing()
    return OperatorContext(
        sessions=runtime.sessions,
        tables=OperatorTables.of(spec.metadata),
        node=settings.node,
        key=key,
        trust=settings.trust(),
        api_token=settings.api_token,
        challenge_key=challenge_key(key),
        strangers=AnonymousFailures(
            metrics.anonymous_failures, threshold=settings.anonymous_alert_threshold
        ),
        gate=LoginGate(ThrottlePolicy(per_minute=settings.login_per_minute)),
    )
