"""The agency service: the national copy of identity records and the national
resident-code registry. What it shares with the prefectures is
:class:`jukinet.tier.TierService`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agency.messages import message_router
from agency.models import Base, tables
from agency.repository import CodeRegistry
from agency.settings import AgencySettings
from jukinet.tier import TierService

__all__ = ["create_app", "node_spec", "service"]


async def _counts(session: AsyncSession) -> dict[str, Any]:
    return {"codes": await CodeRegistry(session).status_counts()}


service = TierService(
    name="agency",
    settings_class=AgencySettings,
    metadata=Base.metadata,
    tables=tables,
    migrations=Path(__file__).parent / "migrations",
    messages=message_router,
    counts=_counts,
)
create_app = service.create_app
node_spec = service.node_spec
