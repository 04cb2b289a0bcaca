"""The published API documents (docs/openapi/*.json) are what the services serve: every
change to an API shows in the diff. Regenerate them with `make openapi`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from jukinet.lookups import create_lookup_app
from jukinet.pki import PkiLayout
from tests.principals import AGENCY, HIRATSUKA, KANAGAWA

DOCS = Path(__file__).resolve().parents[1] / "docs" / "openapi"
WRITE = os.environ.get("JUKINET_WRITE_OPENAPI") == "1"
COMMON: dict[str, object] = {"database_url": "sqlite:///unused.db", "api_token": "t" * 32}


def _municipal(pki: Path) -> FastAPI:
    from municipal.app import create_app
    from municipal.settings import MunicipalSettings

    return create_app(MunicipalSettings(principal=HIRATSUKA.uri, pki_root=pki, **COMMON))


def _prefecture(pki: Path) -> FastAPI:
    from prefecture.app import create_app
    from prefecture.settings import PrefectureSettings

    return create_app(PrefectureSettings(principal=KANAGAWA.uri, pki_root=pki, **COMMON))


def _agency(pki: Path) -> FastAPI:
    from agency.app import create_app
    from agency.settings import AgencySettings

    return create_app(AgencySettings(principal=AGENCY.uri, pki_root=pki, **COMMON))


def _agency_lookups(pki: Path) -> FastAPI:
    from agency.models import lookups, records
    from agency.settings import AgencySettings

    settings = AgencySettings(principal=AGENCY.uri, pki_root=pki, **COMMON)
    return create_lookup_app(settings, records, lookups, title="jukinet lookups (agency)")


def _prefecture_lookups(pki: Path) -> FastAPI:
    from prefecture.models import lookups, records
    from prefecture.settings import PrefectureSettings

    settings = PrefectureSettings(principal=KANAGAWA.uri, pki_root=pki, **COMMON)
    return create_lookup_app(settings, records, lookups, title="jukinet lookups (prefecture)")


APPS: dict[str, Callable[[Path], FastAPI]] = {
    "municipal": _municipal,
    "prefecture": _prefecture,
    "agency": _agency,
    "agency-lookups": _agency_lookups,
    "prefecture-lookups": _prefecture_lookups,
}


def _document(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


@pytest.mark.parametrize("name", sorted(APPS))
def test_the_published_document_is_what_the_service_serves(name: str, layout: PkiLayout) -> None:
    served = _document(APPS[name](layout.root))
    path = DOCS / f"{name}.json"
    if WRITE:
        DOCS.mkdir(parents=True, exist_ok=True)
        path.write_text(served, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run `make openapi`"
    assert path.read_text(encoding="utf-8") == served, f"{path} is stale: run `make openapi`"


def test_every_document_is_published() -> None:
    assert {p.stem for p in DOCS.glob("*.json")} == set(APPS)
