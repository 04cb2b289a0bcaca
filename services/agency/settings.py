"""Settings of the agency service (environment prefix ``JUKINET_AGENCY_``)."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from jukinet.contracts.principals import Principal, PrincipalKind
from jukinet.lookups import LookupSettings


class AgencySettings(LookupSettings):
    model_config = SettingsConfigDict(env_prefix="JUKINET_AGENCY_", extra="ignore", frozen=True)

    @field_validator("principal")
    @classmethod
    def _is_agency(cls, value: str) -> str:
        if Principal.parse(value).kind is not PrincipalKind.AGENCY:
            raise ValueError("the agency service runs as the agency principal")
        return value
