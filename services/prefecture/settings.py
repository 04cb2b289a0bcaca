"""Settings of the prefecture service (environment prefix ``JUKINET_PREFECTURE_``)."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.lookups import LookupSettings


class PrefectureSettings(LookupSettings):
    model_config = SettingsConfigDict(env_prefix="JUKINET_PREFECTURE_", extra="ignore", frozen=True)

    @field_validator("principal")
    @classmethod
    def _is_prefecture(cls, value: str) -> str:
        if Principal.parse(value).kind is not PrincipalKind.PREFECTURE:
            raise ValueError("the prefecture service runs as a prefecture principal")
        return value
