"""Settings of the agency service (environment prefix ``JUKINET_AGENCY_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from jukinet.contracts.principals import PrincipalKind
from jukinet.lookups import LookupSettings


class AgencySettings(LookupSettings):
    model_config = SettingsConfigDict(env_prefix="JUKINET_AGENCY_", extra="ignore", frozen=True)
    runs_as: ClassVar[PrincipalKind | None] = PrincipalKind.AGENCY
