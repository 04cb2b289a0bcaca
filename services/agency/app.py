"""The agency service: the national copy of identity records."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agency.messages import message_router
from agency.models import Base, CodeRegistryEntry, bus, checkpoints, lookups, records
from agency.settings import AgencySettings
from jukinet.app.factory import serving_node_app
from jukinet.node.runtime import NodeSpec
from jukinet.records.api import record_counts

__all__ = ["create_app", "node_spec"]


async def _counts(session: AsyncSession) -> dict[str, Any]:
    rows = await session.execute(
        select(CodeRegistryEntry.status, func.count()).group_by(CodeRegistryEntry.status)
    )
    return {**(await record_counts(session, records)), "codes": {row[0]: row[1] for row in rows}}


def node_spec(settings: AgencySettings) -> NodeSpec:
    return NodeSpec(
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        bus=bus,
        messages=message_router(settings.credentials().require_signing()[0]),
        counts=_counts,
        checkpoints=checkpoints,
    )


def create_app(settings: AgencySettings | None = None) -> FastAPI:
    settings = settings or AgencySettings(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))
    return serving_node_app(
        settings,
        node_spec(settings),
        title=f"jukinet agency service ({settings.node.code})",
        records=records,
        lookups=lookups,
    )
