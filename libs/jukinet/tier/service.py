"""The service of a prefecture or the agency: a node that holds the identity records
forwarded to it, serves them to operators, reconciliation and its lookup server, and
applies what its router takes over the bus. Each service names its settings, tables,
router and extra status counts; the rest is here."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import FastAPI
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from jukinet.app.factory import node_app
from jukinet.contracts.principals import Principal
from jukinet.lookups import LookupSettings, lookup_admin_router, operator_read_logger
from jukinet.node.router import MessageRouter
from jukinet.node.runtime import NodeSpec
from jukinet.reconcile.api import reconcile_router
from jukinet.reconcile.digests import tier_entries
from jukinet.records.api import record_counts, records_router
from jukinet.tier.tables import TierTables

__all__ = ["Counts", "RouterFactory", "TierService"]

SettingsT = TypeVar("SettingsT", bound=LookupSettings)
RouterFactory = Callable[[Principal, ed25519.Ed25519PrivateKey], MessageRouter]
Counts = Callable[[AsyncSession], Awaitable[dict[str, Any]]]


async def _no_counts(_: AsyncSession) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class TierService(Generic[SettingsT]):
    name: str  # "prefecture" | "agency": the app's title
    settings_class: type[SettingsT]
    metadata: MetaData
    tables: TierTables
    migrations: Path
    messages: RouterFactory
    counts: Counts = _no_counts  # what the service adds to /status beside the records

    def settings(self) -> SettingsT:
        return self.settings_class(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))

    def node_spec(self, settings: SettingsT) -> NodeSpec:
        key, _ = settings.credentials().require_signing()
        records = self.tables.records

        async def counts(session: AsyncSession) -> dict[str, Any]:
            return {**(await record_counts(session, records)), **(await self.counts(session))}

        return NodeSpec(
            metadata=self.metadata,
            migrations=self.migrations,
            bus=self.tables.bus,
            messages=self.messages(settings.node, key),
            counts=counts,
            checkpoints=self.tables.checkpoints,
        )

    def create_app(self, settings: SettingsT | None = None) -> FastAPI:
        settings = settings or self.settings()
        app = node_app(
            settings,
            self.node_spec(settings),
            title=f"jukinet {self.name} service ({settings.node.code})",
        )
        key, _ = settings.credentials().require_signing()
        records, lookups = self.tables.records, self.tables.lookups
        read_logger = operator_read_logger(lookups, key, settings.node.uri)
        app.include_router(records_router(records, read_logger))
        app.include_router(lookup_admin_router(lookups))
        app.include_router(reconcile_router(lambda s, m, b: tier_entries(s, records, m, b)))
        return app
