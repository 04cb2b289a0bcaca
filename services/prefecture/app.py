"""The prefecture service: its municipalities' identity records, forwarded to the agency."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.api import operations_router
from jukinet.lookups import lookup_admin_router, operator_read_logger
from jukinet.metrics import Metrics, install_metrics
from jukinet.node import NodeRuntime, NodeSpec
from jukinet.problems import install_problem_handlers
from jukinet.reconcile import tier_entries
from jukinet.reconcile_api import reconcile_router
from jukinet.records_api import record_counts, records_router
from prefecture.changes import accepts_from
from prefecture.messages import make_apply
from prefecture.models import Base, bus, lookups, records
from prefecture.settings import PrefectureSettings

__all__ = ["create_app"]


async def _counts(session: AsyncSession) -> dict[str, Any]:
    return await record_counts(session, records)


def create_app(settings: PrefectureSettings | None = None) -> FastAPI:
    settings = settings or PrefectureSettings(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))
    spec = NodeSpec(
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        bus=bus,
        apply=make_apply(settings.credentials().require_signing()[0]),
        accepts=accepts_from(settings.node),
        counts=_counts,
    )

    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = NodeRuntime(settings, spec, metrics)
        await runtime.start()
        app.state.runtime = runtime
        app.state.sessions = runtime.sessions
        app.state.api_token = settings.api_token
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=f"jukinet prefecture service ({settings.node.code})",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    install_metrics(app, metrics, refresh=lambda: app.state.runtime.refresh_gauges())
    key, _ = settings.credentials().require_signing()
    app.state.audit_read = operator_read_logger(lookups, key, settings.node.uri)
    app.include_router(operations_router())
    app.include_router(records_router(records))
    app.include_router(lookup_admin_router(lookups))
    app.include_router(reconcile_router(lambda s, m, b: tier_entries(s, records, m, b)))
    return app
