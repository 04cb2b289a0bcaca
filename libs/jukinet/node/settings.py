"""Settings shared by every node. Each service subclasses :class:`NodeSettings` with its own
environment prefix and builds it in its app factory, never at import time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.pki import Credentials, PkiLayout, RevocationList, TrustStore, read_certificate

__all__ = ["NodeSettings"]


class NodeSettings(BaseSettings):
    """What every node needs: who it is, where its keys, database and broker are."""

    model_config = SettingsConfigDict(env_prefix="JUKINET_", extra="ignore", frozen=True)

    principal: str = Field(description="this node's principal URI")
    pki_root: Path = Field(Path("var/pki"), description="the PKI directory (see `jukinet pki`)")
    database_url: str = Field(description="sqlite:///path or postgresql://… (asyncio drivers)")
    nats_servers: list[str] = Field(default_factory=lambda: ["tls://127.0.0.1:4222"])
    api_token: str = Field(min_length=16, description="operator token for this node's API")
    message_ttl_seconds: int = Field(3 * 24 * 3600, ge=60, le=30 * 24 * 3600)
    clock_skew_seconds: int = Field(30, ge=0, le=600)
    checkpoint_seconds: float = Field(
        30.0, ge=0, description="how often the chain heads leave for the witness (0: never)"
    )
    checkpoint_witness: str | None = Field(
        None, description="the node that keeps this node's checkpoints (default by tier)"
    )
    undeliverable_retry_seconds: float = Field(
        30.0, gt=0, le=3600, description="how often items waiting for a certificate are retried"
    )
    db_pool_size: int = Field(
        10, ge=1, le=200, description="database connections kept open (PostgreSQL; SQLite: one)"
    )
    outbox_poll_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="how often the outbox is read without a commit here waking it (rows "
        "that another process wrote, such as `jukinet import`)",
    )
    inbox_drain_seconds: float = Field(
        0.01,
        ge=0,
        le=5,
        description="after the first message of a fetch, how long the inbox waits for what "
        "is already queued behind it (one transaction, and one forward, for all of it)",
    )
    outbox_linger_seconds: float = Field(
        0.02,
        ge=0,
        le=1,
        description="after relaying something, how long the outbox waits for more before "
        "the next message (a change arriving alone is relayed at once; under load, "
        "changes share messages)",
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="cap on request bodies")
    max_import_bytes: int = Field(
        4 * 1024**3, ge=1024, description="cap on a bulk import's body (read after login)"
    )
    login_per_minute: int = Field(30, ge=1, le=10_000, description="login attempts per source")
    anonymous_alert_threshold: int = Field(20, ge=1, description="anonymous failures a minute")

    runs_as: ClassVar[PrincipalKind | None] = None  # the one kind a service runs as

    @field_validator("principal")
    @classmethod
    def _principal_is_valid(cls, value: str) -> str:
        kind = Principal.parse(value).kind
        if cls.runs_as is not None and kind is not cls.runs_as:
            raise ValueError(f"this service runs as a {cls.runs_as.value} principal")
        return value

    @field_validator("checkpoint_witness")
    @classmethod
    def _witness_is_valid(cls, value: str | None) -> str | None:
        if value is not None:
            Principal.parse(value)
        return value

    @property
    def node(self) -> Principal:
        return Principal.parse(self.principal)

    @property
    def layout(self) -> PkiLayout:
        return PkiLayout(self.pki_root)

    @property
    def message_ttl(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.message_ttl_seconds)

    @property
    def clock_skew(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.clock_skew_seconds)

    def credentials(self) -> Credentials:
        layout = self.layout
        return Credentials.load(layout.node_dir(self.node), layout.ca_cert, self.node)

    def trust(self) -> TrustStore:
        """The federation CA, with the revocation list kept beside it."""
        layout = self.layout
        return TrustStore(read_certificate(layout.ca_cert), RevocationList(layout.revocations))
