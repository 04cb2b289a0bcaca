"""Settings of the municipal service (environment prefix ``JUKINET_MUNICIPAL_``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, ClassVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator
from pydantic_settings import SettingsConfigDict

from jukinet.contracts.principals import PrincipalKind
from jukinet.node.settings import NodeSettings
from jukinet.operators import CardMakers


def _origin(value: str) -> str:
    """scheme://host[:port], nothing more: what browsers send as Origin."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError("an origin is http(s)://host[:port]")
    if parts.query or parts.fragment or parts.username:
        raise ValueError("an origin is http(s)://host[:port]")
    return f"{parts.scheme}://{parts.netloc}"


class MunicipalSettings(NodeSettings):
    model_config = SettingsConfigDict(env_prefix="JUKINET_MUNICIPAL_", extra="ignore", frozen=True)
    runs_as: ClassVar[PrincipalKind | None] = PrincipalKind.MUNICIPALITY

    counter_origin: Annotated[str, AfterValidator(_origin)] | None = Field(
        None,
        description="the counter's public origin, e.g. https://madoguchi.city.example behind "
        "a TLS proxy: its host name is the WebAuthn site, only pages from it may post, and "
        "the session cookie is Secure on https; unset, each request's own (local use)",
    )
    card_maker_roots: Path | None = Field(
        None,
        description="PEM bundle of the attestation roots of the makers of the operators' IC "
        "cards: when set, only an authenticator whose maker attests it (a full attestation "
        "chaining to one of these roots) can be enrolled for the browser login; unset, any "
        "FIDO2 authenticator (local use only)",
    )
    card_models: str = Field(
        "",
        description="comma-separated AAGUIDs of the card models the office issues: with "
        "card_maker_roots, only these models can be enrolled (empty: any of those makers')",
    )
    code_pool_target: int = Field(
        1000, ge=10, le=10_000_000, description="undrawn resident codes to hold after a refill"
    )
    code_pool_low_water: int | None = Field(
        None,
        ge=1,
        description="ask the agency for codes below this many (default: half the target)",
    )
    code_refill_timeout_seconds: int = Field(
        60, ge=1, le=24 * 3600, description="ask again when a request is unanswered this long"
    )
    code_pool_check_seconds: float = Field(
        1.0, gt=0, le=3600, description="how often the pool size is checked"
    )
    number_backfill_seconds: float = Field(
        5.0, gt=0, le=3600,
        description="how often live residents without a 個人番号 are looked for, and the "
        "agency asked for theirs (a batch of 1000 per round)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _low_water_below_target(self) -> MunicipalSettings:
        if (
            self.code_pool_low_water is not None
            and self.code_pool_low_water >= self.code_pool_target
        ):
            raise ValueError("code_pool_low_water must be below code_pool_target")
        return self

    @model_validator(mode="after")
    def _models_need_makers(self) -> MunicipalSettings:
        if self.card_models.strip() and self.card_maker_roots is None:
            raise ValueError("card_models needs card_maker_roots (the makers' attestation roots)")
        return self

    def card_makers(self) -> CardMakers | None:
        """Whose cards the counter enrols (read now: a bad bundle stops the start)."""
        if self.card_maker_roots is None:
            return None
        return CardMakers.load(self.card_maker_roots, self.card_models.split(","))

    @property
    def pool_low_water(self) -> int:
        return self.code_pool_low_water or self.code_pool_target // 2

    @property
    def code_refill_timeout(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.code_refill_timeout_seconds)
