"""The prefecture's lookup server: HTTPS with client certificates, beside the prefecture service.

Run as ``python -m prefecture.lookup_server`` (`jukinet up` starts it).
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from jukinet.lookups import create_lookup_app, serve_lookups
from prefecture.models import lookups, records
from prefecture.settings import PrefectureSettings


def _settings() -> PrefectureSettings:
    return PrefectureSettings(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))


def create_app() -> FastAPI:
    settings = _settings()
    return create_lookup_app(
        settings, records, lookups, title=f"jukinet lookups ({settings.node.code})"
    )


def main() -> None:
    serve_lookups(_settings(), create_app())


if __name__ == "__main__":
    main()
