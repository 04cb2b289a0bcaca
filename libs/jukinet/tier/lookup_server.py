"""The lookup server of a prefecture or the agency: HTTPS with client certificates,
beside the node's service. Each service names its settings and tables in a module of a
few lines, run as ``python -m <service>.lookup_server`` (`jukinet up` starts it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import FastAPI
from sqlalchemy import Table

from jukinet.lookups import (
    LookupSettings,
    LookupTables,
    WatchTables,
    create_lookup_app,
    load_table_at_start,
    serve_lookups,
)
from jukinet.records.store import RecordTables

__all__ = ["LookupServer"]

SettingsT = TypeVar("SettingsT", bound=LookupSettings)


@dataclass(frozen=True, slots=True)
class LookupServer(Generic[SettingsT]):
    """A node's lookup server: its settings class (read from the environment and the
    secrets directory) and the tables it answers from."""

    settings_class: type[SettingsT]
    records: RecordTables
    lookups: LookupTables
    factory: str  # the import string of ``create_app``, for worker processes to build it
    watches: WatchTables | None = None  # the change feed's tables (the agency's)
    numbers: Table | None = None  # the 個人番号 registry (the agency's)

    def settings(self) -> SettingsT:
        return self.settings_class(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))

    def create_app(self) -> FastAPI:
        settings = self.settings()
        title = f"jukinet lookups ({settings.node.code})"
        return create_lookup_app(
            settings, self.records, self.lookups, title=title, watches=self.watches,
            numbers=self.numbers,
        )  # fmt: skip

    def main(self) -> None:
        settings = self.settings()
        load_table_at_start(settings, self.lookups)
        serve_lookups(settings, self.factory if settings.lookup_workers > 1 else self.create_app())
