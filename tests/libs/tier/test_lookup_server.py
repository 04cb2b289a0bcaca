"""The prefecture's and the agency's lookup servers are one implementation: each
service's module names its own settings (so its own environment prefix) and tables."""

from __future__ import annotations

import importlib

import pytest

from jukinet.contracts.principals import Principal
from jukinet.tier import LookupServer
from tests.principals import AGENCY, KANAGAWA


@pytest.mark.parametrize("node", [KANAGAWA, AGENCY], ids=["prefecture", "agency"])
def test_each_tier_runs_the_shared_lookup_server_on_its_own_settings(
    node: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = node.kind.value
    module = importlib.import_module(f"{service}.lookup_server")
    models = importlib.import_module(f"{service}.models")
    settings = importlib.import_module(f"{service}.settings")
    prefix = f"JUKINET_{service.upper()}_"
    monkeypatch.setenv(prefix + "PRINCIPAL", node.uri)
    monkeypatch.setenv(prefix + "DATABASE_URL", "sqlite:///unused.db")
    monkeypatch.setenv(prefix + "API_TOKEN", "t" * 32)
    monkeypatch.setenv(prefix + "LOOKUP_PORT", "18443")

    server = module.server
    assert isinstance(server, LookupServer)
    assert (server.records, server.lookups) == (models.records, models.lookups)
    read = server.settings()
    assert type(read) is getattr(settings, f"{service.capitalize()}Settings")
    assert (read.node, read.lookup_port) == (node, 18443)
    assert module.create_app().title == f"jukinet lookups ({node.code})"
