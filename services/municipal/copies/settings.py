"""Settings of nationwide copies (environment prefix ``JUKINET_MUNICIPAL_``, like the
service's own settings): who certifies a copy issued here, and how long the counter
waits for the home municipality.

Kept apart from :class:`municipal.settings.MunicipalSettings` so the copy flow owns its
configuration. The demo municipalities have defaults; a real one sets
``JUKINET_MUNICIPAL_ISSUER_NAME`` and ``JUKINET_MUNICIPAL_MAYOR``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jukinet.contracts.principals import Principal
from municipal.copies.protocol import MunicipalityName, printable

__all__ = ["DEMO_ISSUERS", "CopiesNotConfigured", "CopySettings", "Issuer"]


@dataclass(frozen=True, slots=True)
class Issuer:
    """The municipality's name as printed, and its mayor's title and name as signed."""

    name: str
    mayor: str


# The demo federation (jukinet.contracts.federation.DEMO). The mayors are invented: 見本 means
# "specimen", so nobody mistakes a demo certificate for a real one.
DEMO_ISSUERS = {
    "131016": Issuer("千代田区", "千代田区長　見本　花子"),
    "131041": Issuer("新宿区", "新宿区長　見本　次郎"),
    "142034": Issuer("平塚市", "平塚市長　見本　太郎"),
    "141003": Issuer("横浜市", "横浜市長　見本　春子"),
}


Mayor = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(printable)]


class CopiesNotConfigured(RuntimeError):
    """No issuer name and mayor for this municipality (none set, none by default)."""


class CopySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JUKINET_MUNICIPAL_", extra="ignore", frozen=True)

    issuer_name: MunicipalityName | None = Field(
        None, description="the municipality's name as printed on a copy, e.g. 平塚市"
    )
    mayor: Mayor | None = Field(
        None,
        description="the mayor's title and name as printed, e.g. 平塚市長　山田　太郎",
    )
    copy_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="how long the counter waits for the home municipality"
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> CopySettings:
        if (self.issuer_name is None) != (self.mayor is None):
            raise ValueError("set issuer_name and mayor together")
        return self

    def issuer(self, node: Principal) -> Issuer:
        """The configured issuer, else the demo default for ``node``."""
        if self.issuer_name is not None and self.mayor is not None:
            return Issuer(self.issuer_name, self.mayor)
        default = DEMO_ISSUERS.get(node.code)
        if default is None:
            raise CopiesNotConfigured(
                f"municipality {node.code}: set JUKINET_MUNICIPAL_ISSUER_NAME and "
                "JUKINET_MUNICIPAL_MAYOR to issue and answer nationwide copies"
            )
        return default
