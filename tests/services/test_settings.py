"""Each service runs as its own kind of principal and refuses to start as another."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agency.settings import AgencySettings
from jukinet.node.settings import NodeSettings
from municipal.settings import MunicipalSettings
from prefecture.settings import PrefectureSettings
from tests.principals import AGENCY, HIRATSUKA, KANAGAWA

SERVICES: list[tuple[type[NodeSettings], str]] = [
    (MunicipalSettings, HIRATSUKA.uri),
    (PrefectureSettings, KANAGAWA.uri),
    (AgencySettings, AGENCY.uri),
]


def principal_errors(settings: type[NodeSettings], principal: str) -> list[str]:
    try:
        settings(principal=principal)  # type: ignore[call-arg]  # the rest is required too
    except ValidationError as exc:
        return [e["msg"] for e in exc.errors() if e["loc"] == ("principal",)]
    return []


@pytest.mark.parametrize(("settings", "own"), SERVICES)
def test_a_service_takes_only_its_own_kind_of_principal(
    settings: type[NodeSettings], own: str
) -> None:
    assert principal_errors(settings, own) == []
    for other_settings, other in SERVICES:
        if other_settings is not settings:
            (message,) = principal_errors(settings, other)
            assert f"runs as a {settings.runs_as}" in message
