"""The municipal service: the resident register and the municipality's communication server."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.bus import Rejected
from jukinet.envelope import Opener, SignedMessage
from jukinet.node import NodeRuntime, NodeSpec
from jukinet.node_app import node_app
from jukinet.principals import AGENCY
from jukinet.reconcile_api import reconcile_router
from municipal.bulk.router import router as bulk_router
from municipal.codes import refill_pool
from municipal.disclosures.router import router as disclosures_router
from municipal.disclosures.service import RESPONSE_BATCH, record_answers
from municipal.models import Base, Resident, bus
from municipal.reconcile import municipal_entries, repair_router
from municipal.residents.router import router as residents_router
from municipal.settings import MunicipalSettings

__all__ = ["create_app"]

log = logging.getLogger("jukinet.municipal")


async def _apply(session: AsyncSession, message: SignedMessage, opener: Opener) -> None:
    if message.type == RESPONSE_BATCH:
        await record_answers(session, message)
        return
    raise Rejected("unsupported_type", f"municipalities do not accept {message.type}")


async def _counts(session: AsyncSession) -> dict[str, Any]:
    rows = await session.execute(select(Resident.status, func.count()).group_by(Resident.status))
    return {"residents": {row[0]: row[1] for row in rows}}


SPEC = NodeSpec(
    metadata=Base.metadata,
    migrations=Path(__file__).parent / "migrations",
    bus=bus,
    apply=_apply,
    accepts=lambda sender: False,  # replaced per node in create_app
    counts=_counts,
)


async def _keep_pool_filled(runtime: NodeRuntime, target: int) -> None:
    """Refill the code pool in the background whenever it falls below half its target."""
    while True:
        await asyncio.sleep(2.0)
        try:
            async with runtime.sessions() as session, session.begin():
                await refill_pool(session, target, low_water=target // 2)
        except Exception as exc:  # retried on the next round
            log.warning("code pool refill failed: %s", type(exc).__name__)


def create_app(settings: MunicipalSettings | None = None) -> FastAPI:
    settings = settings or MunicipalSettings(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))
    node = settings.node
    spec = dataclasses.replace(
        SPEC, accepts=lambda sender: sender in (AGENCY, node.prefecture_of)
    )  # disclosure answers; move-in notices and code pools arrive with the counter work

    async def start_pool(runtime: NodeRuntime) -> Callable[[], object]:
        async with runtime.sessions() as session, session.begin():
            await refill_pool(session, settings.code_pool_target)
        refiller = asyncio.create_task(_keep_pool_filled(runtime, settings.code_pool_target))
        return refiller.cancel

    title = f"jukinet municipal service ({node.code})"
    app = node_app(settings, spec, title=title, on_start=start_pool)
    app.include_router(bulk_router)  # before /residents/{id} routes
    app.include_router(residents_router)
    app.include_router(disclosures_router)
    app.include_router(reconcile_router(lambda s, m, b: municipal_entries(s, node, m, b)))
    app.include_router(repair_router)
    return app
