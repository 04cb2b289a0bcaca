"""Settings of the prefecture service (environment prefix ``JUKINET_PREFECTURE_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from jukinet.contracts.principals import PrincipalKind
from jukinet.lookups import LookupSettings


class PrefectureSettings(LookupSettings):
    model_config = SettingsConfigDict(env_prefix="JUKINET_PREFECTURE_", extra="ignore", frozen=True)
    runs_as: ClassVar[PrincipalKind | None] = PrincipalKind.PREFECTURE
