"""The municipal service: the resident register and the municipality's communication server."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.app.factory import node_app
from jukinet.node.runtime import NodeRuntime, NodeSpec
from jukinet.pki import utcnow
from jukinet.reconcile.api import reconcile_router
from municipal.bulk.router import router as bulk_router
from municipal.codes import PoolPolicy, pool_status, request_refill
from municipal.copies import router as copies_router
from municipal.copies import start_copy_responder
from municipal.disclosures.router import router as disclosures_router
from municipal.messages import message_router
from municipal.models import Base, Resident, browser_cards, bus, checkpoints
from municipal.moveouts.certificate import expire_certificates
from municipal.moveouts.router import router as moveouts_router
from municipal.numbers import request_missing_numbers
from municipal.reconcile import municipal_entries, repair_router
from municipal.residents.router import household_router
from municipal.residents.router import router as residents_router
from municipal.settings import MunicipalSettings
from municipal.ui import install_ui

__all__ = ["create_app", "node_spec"]

log = logging.getLogger("jukinet.municipal")
EXPIRY_SECONDS = 3600.0  # how often unused 転出証明書情報 are checked for expiry


async def _counts(session: AsyncSession) -> dict[str, Any]:
    rows = await session.execute(select(Resident.status, func.count()).group_by(Resident.status))
    residents = {row[0]: row[1] for row in rows}
    return {"residents": residents, "code_pool": await pool_status(session)}


def node_spec(settings: MunicipalSettings) -> NodeSpec:
    return NodeSpec(
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        bus=bus,
        messages=message_router(settings.node),
        counts=_counts,
        checkpoints=checkpoints,
    )


async def _keep_pool_filled(runtime: NodeRuntime, policy: PoolPolicy, every: float) -> None:
    """Ask the agency for codes whenever the pool runs low. The first round runs at once:
    a new municipality has no codes until the agency's first designation arrives."""
    while True:
        try:
            async with runtime.sessions() as session, session.begin():
                request = await request_refill(session, policy, now=utcnow())
            if request is not None:
                runtime.notify_outbox()
                log.info(
                    "codes requested: request=%s wanted=%d remaining=%d",
                    request.request_id,
                    request.wanted,
                    request.remaining,
                )
        except Exception as exc:  # retried on the next round
            log.warning("code pool refill request failed: %s", type(exc).__name__)
        await asyncio.sleep(every)


async def _backfill_numbers(runtime: NodeRuntime, every: float) -> None:
    """Ask the agency for the 個人番号 residents lack, a batch per round: gently, so a
    migrated register's numbers arrive over time beside the day's work."""
    while True:
        asked = 0
        try:
            async with runtime.sessions() as session, session.begin():
                asked = await request_missing_numbers(session, utcnow())
            if asked:
                runtime.notify_outbox()
                log.info("individual numbers requested for residents lacking one: %d", asked)
        except Exception as exc:  # retried on the next round
            log.warning("requesting missing individual numbers failed: %s", type(exc).__name__)
        await asyncio.sleep(every)


async def _expire_certificates(runtime: NodeRuntime, every: float) -> None:
    """Close the 転出証明書情報 whose period ended unused (the clerk's list and a move-in
    close them too, when they look)."""
    while True:
        try:
            async with runtime.sessions() as session, session.begin():
                closed = await expire_certificates(session, utcnow().date())
            if closed:
                log.info("move-out certificates expired: %d", closed)
        except Exception as exc:  # retried on the next round
            log.warning("expiring move-out certificates failed: %s", type(exc).__name__)
        await asyncio.sleep(every)


def create_app(settings: MunicipalSettings | None = None) -> FastAPI:
    settings = settings or MunicipalSettings(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))
    node = settings.node
    policy = PoolPolicy(
        target=settings.code_pool_target,
        low_water=settings.pool_low_water,
        timeout=settings.code_refill_timeout,
    )

    async def start_pool(runtime: NodeRuntime) -> Callable[[], object]:
        every = settings.code_pool_check_seconds
        refiller = asyncio.create_task(_keep_pool_filled(runtime, policy, every))
        expirer = asyncio.create_task(_expire_certificates(runtime, EXPIRY_SECONDS))
        backfill = asyncio.create_task(_backfill_numbers(runtime, settings.number_backfill_seconds))
        stop_copies = await start_copy_responder(runtime)

        def stop() -> None:
            refiller.cancel()
            expirer.cancel()
            backfill.cancel()
            stop_copies()

        return stop

    title = f"jukinet municipal service ({node.code})"
    app = node_app(settings, node_spec(settings), title=title, on_start=start_pool)
    app.include_router(bulk_router)  # before /residents/{id} routes
    app.include_router(residents_router)
    app.include_router(household_router)
    app.include_router(moveouts_router)
    app.include_router(disclosures_router)
    app.include_router(copies_router)
    app.include_router(reconcile_router(lambda s, m, b: municipal_entries(s, node, m, b)))
    app.include_router(repair_router)
    # the counter, under /ui
    install_ui(app, browser_cards, settings.counter_origin, settings.card_makers())
    return app
