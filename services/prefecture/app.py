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
from prefecture.changes import accepts_from
from prefecture.messages import make_apply
from prefecture.models import Base, bus, checkpoints, lookups, records
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
        checkpoints=checkpoints,
    )

    return serving_node_app(
        settings,
        spec,
        title=f"jukinet prefecture service ({settings.node.code})",
        records=records,
        lookups=lookups,
    )
