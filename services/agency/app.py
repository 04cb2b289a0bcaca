"""The agency service: the national copy of identity records."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agency.messages import accepts, make_apply
from agency.models import Base, CodeRegistryEntry, bus, checkpoints, lookups, records
from agency.settings import AgencySettings
from jukinet.app.factory import serving_node_app
from jukinet.node.runtime import NodeSpec
from jukinet.records.api import record_counts

__all__ = ["create_app"]


async def _counts(session: AsyncSession) -> dict[str, Any]:
    rows = await session.execute(
        select(CodeRegistryEntry.status, func.count()).group_by(CodeRegistryEntry.status)
    )
    return {**(await record_counts(session, records)), "codes": {row[0]: row[1] for row in rows}}


def create_app(settings: AgencySettings | None = None) -> FastAPI:
    settings = settings or AgencySettings(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))
    spec = NodeSpec(
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        bus=bus,
        apply=make_apply(settings.credentials().require_signing()[0]),
        accepts=accepts,
        counts=_counts,
        checkpoints=checkpoints,
    )

    return serving_node_app(
        settings,
        spec,
        title=f"jukinet agency service ({settings.node.code})",
        records=records,
        lookups=lookups,
    )
