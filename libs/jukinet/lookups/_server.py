"""The lookup server: its own process beside a serving node (agency or prefecture), on
HTTPS that requires a client certificate from the federation CA, sharing the node's
database."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import Field
from sqlalchemy import Table

from jukinet.db.engine import create_engine, is_sqlite, session_factory
from jukinet.lookups._api import LOOKUPS, LookupContext, lookup_router
from jukinet.lookups._ledger import ProvisionLedger
from jukinet.lookups._load import load_permissions
from jukinet.lookups._monitor import MonitorRules
from jukinet.lookups._store import LookupTables
from jukinet.lookups._subscriptions import subscription_router
from jukinet.lookups._table import load_table
from jukinet.lookups._watch import WatchTables
from jukinet.node.bodylimit import install_body_limit
from jukinet.node.docs import install_docs
from jukinet.node.logs import logging_config
from jukinet.node.metrics import Metrics, install_metrics
from jukinet.node.problems import install_problem_handlers
from jukinet.node.settings import NodeSettings
from jukinet.node.tlsasgi import TlsClientCertProtocol
from jukinet.records.store import RecordTables

SUBSCRIPTIONS_PATH = "/subscriptions"  # 2 x 100,000 codes: a body larger than a lookup's
SUBSCRIPTIONS_MAX_BYTES = 4 * 1024 * 1024

__all__ = ["LookupSettings", "create_lookup_app", "load_table_at_start", "serve_lookups"]


class LookupSettings(NodeSettings):
    """A node that serves lookups: where, and the monitoring thresholds."""

    lookup_host: str = "127.0.0.1"
    lookup_port: int = Field(8443, ge=1, le=65535)
    # processes serving the same port and database, each logging through its own ledger
    lookup_workers: int = Field(1, ge=1, le=64)
    permission_table: Path | None = Field(
        None,
        description="a permission table file (TOML) put in force when the server starts "
        "(the deployment mounts it); unset: the table last loaded with `jukinet "
        "permissions load` stays in force",
    )
    db_pool_size: int = Field(20, ge=1, le=200)
    monitor_max_per_minute: int = Field(600, ge=1)
    monitor_max_residents_per_10_minutes: int = Field(500_000, ge=1)
    monitor_max_refusals_per_10_minutes: int = Field(20, ge=1)
    monitor_hours_jst: tuple[int, int] = (0, 24)
    provision_retention_days: int = Field(7 * 365, ge=365, le=50 * 365)

    def monitor_rules(self) -> MonitorRules:
        return MonitorRules(
            max_per_minute=self.monitor_max_per_minute,
            max_residents_per_10_minutes=self.monitor_max_residents_per_10_minutes,
            max_refusals_per_10_minutes=self.monitor_max_refusals_per_10_minutes,
            hours_jst=self.monitor_hours_jst,
        )


def create_lookup_app(
    settings: LookupSettings, records: RecordTables, tables: LookupTables, *, title: str,
    watches: WatchTables | None = None, numbers: Table | None = None,
) -> FastAPI:  # fmt: skip
    """The lookup app; with ``watches`` (the agency), the change feed's routes too; with
    ``numbers`` (the agency's 個人番号 registry), the number for grants that give it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sqlite = is_sqlite(settings.database_url)
        # a fixed pool: an overflow connection would be opened and closed per request
        pool = {"pool_size": settings.db_pool_size, "max_overflow": 0}
        engine = create_engine(settings.database_url, **({} if sqlite else pool))
        # the ledger writes on a connection of its own (SQLite: the one connection there
        # is), used back to back: no ping before each batch (a dead one fails the batch
        # and is replaced)
        ledger_engine = (
            engine
            if sqlite
            else create_engine(
                settings.database_url, pool_size=1, max_overflow=0, pool_pre_ping=False
            )
        )
        key, _ = settings.credentials().require_signing()
        rules = settings.monitor_rules()
        ledger = ProvisionLedger(session_factory(ledger_engine), tables, key, rules)
        # requests only read, one statement at a time: no BEGIN and ROLLBACK around them
        reads = engine if sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        context = LookupContext(
            sessions=session_factory(reads),
            records=records,
            tables=tables,
            trust=settings.trust(),
            metrics=metrics,
            ledger=ledger,
            watches=watches,
            writes=session_factory(engine),
            numbers=numbers,
        )
        LOOKUPS.put(app, context)
        ledger.start()
        try:
            yield
        finally:
            LOOKUPS.put(app, None)
            await ledger.stop()
            await ledger_engine.dispose()
            await engine.dispose()

    metrics = Metrics()
    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_docs(app)
    install_problem_handlers(app)
    larger = {SUBSCRIPTIONS_PATH: SUBSCRIPTIONS_MAX_BYTES} if watches is not None else {}
    install_body_limit(app, settings.max_body_bytes, settings.max_import_bytes, larger)
    install_metrics(app, metrics)
    app.include_router(lookup_router())
    if watches is not None:
        app.include_router(subscription_router(records))

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness",
        description='Answers `{"status": "ok"}` while the lookup server serves '
        "requests; checks nothing else. No permission needed beyond the client certificate "
        "(from the federation CA) every connection here presents.",
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def load_table_at_start(settings: LookupSettings, tables: LookupTables) -> None:
    """Put ``settings.permission_table`` in force, once, before any worker serves (the
    grants are replaced, suspensions kept, as `jukinet permissions load` does)."""
    if settings.permission_table is None:
        return
    table = load_table(settings.permission_table)

    async def load() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                await load_permissions(session, tables, table)
        finally:
            await engine.dispose()

    asyncio.run(load())


def serve_lookups(settings: LookupSettings, app: FastAPI | str) -> None:
    """Run the lookup app on HTTPS, requiring a client certificate from the federation CA.

    With ``lookup_workers`` above one, ``app`` is the import string of an app factory:
    this process binds the port and supervises that many worker processes (uvicorn's
    supervisor, which restarts a worker that dies), each building its own app."""
    creds = settings.credentials()
    log_config: Any = logging_config()
    config_file = os.environ.get("JUKINET_LOG_CONFIG")
    if config_file:
        log_config = json.loads(Path(config_file).read_text())
    workers = settings.lookup_workers
    if workers > 1 and not isinstance(app, str):
        raise ValueError("several lookup workers need the app factory's import string")
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        host=settings.lookup_host,
        port=settings.lookup_port,
        workers=workers,
        ssl_certfile=str(creds.https_cert_path),
        ssl_keyfile=str(creds.https_key_path),
        ssl_ca_certs=str(creds.ca_cert_path),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        http=TlsClientCertProtocol,
        log_config=log_config,
        access_log=False,
        proxy_headers=False,  # the peer is the source: no forwarded address is trusted
        timeout_keep_alive=30,
    )
