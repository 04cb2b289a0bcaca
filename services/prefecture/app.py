"""The prefecture service: its municipalities' identity records, forwarded to the agency."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.app.factory import serving_node_app
from jukinet.node.runtime import NodeSpec
from jukinet.records.api import record_counts
from prefecture.messages import message_router
from prefecture.models import Base, bus, checkpoints, lookups, records
from prefecture.settings import PrefectureSettings

__all__ = ["create_app", "node_spec"]


async def _counts(session: AsyncSession) -> dict[str, Any]:
    return await record_counts(session, records)


def node_spec(settings: PrefectureSettings) -> NodeSpec:
    key, _ = settings.credentials().require_signing()
    return NodeSpec(
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        bus=bus,
        messages=message_router(settings.node, key),
        counts=_counts,
        checkpoints=checkpoints,
    )


def create_app(settings: PrefectureSettings | None = None) -> FastAPI:
    settings = settings or PrefectureSettings(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))
    return serving_node_app(
        settings,
        node_spec(settings),
        title=f"jukinet prefecture service ({settings.node.code})",
        records=records,
        lookups=lookups,
    )
