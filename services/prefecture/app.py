"""The prefecture service: its municipalities' identity records, forwarded to the agency.
What it shares with the agency is :class:`jukinet.tier.TierService`."""

from __future__ import annotations

from pathlib import Path

from jukinet.tier import TierService
from prefecture.messages import message_router
from prefecture.models import Base, tables
from prefecture.settings import PrefectureSettings

__all__ = ["create_app", "node_spec", "service"]

service = TierService(
    name="prefecture",
    settings_class=PrefectureSettings,
    metadata=Base.metadata,
    tables=tables,
    migrations=Path(__file__).parent / "migrations",
    messages=message_router,
)
create_app = service.create_app
node_spec = service.node_spec
