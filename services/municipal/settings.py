"""Settings of the municipal service (environment prefix ``JUKINET_MUNICIPAL_``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from jukinet.principals import Principal, PrincipalKind
from jukinet.settings import NodeSettings


class MunicipalSettings(NodeSettings):
    model_config = SettingsConfigDict(env_prefix="JUKINET_MUNICIPAL_", extra="ignore", frozen=True)

    code_pool_target: int = Field(1000, ge=10, le=10_000_000)

    @field_validator("principal")
    @classmethod
    def _is_municipality(cls, value: str) -> str:
        if Principal.parse(value).kind is not PrincipalKind.MUNICIPALITY:
            raise ValueError("the municipal service runs as a municipality principal")
        return value
