"""The agency's lookup server: HTTPS with client certificates, beside the agency service.

Run as ``python -m agency.lookup_server`` (`jukinet up` starts it).
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from agency.models import lookups, records
from agency.settings import AgencySettings
from jukinet.lookups import create_lookup_app, serve_lookups


def _settings() -> AgencySettings:
    return AgencySettings(_secrets_dir=os.environ.get("JUKINET_SECRETS_DIR"))


def create_app() -> FastAPI:
    settings = _settings()
    return create_lookup_app(
        settings, records, lookups, title=f"jukinet lookups ({settings.node.code})"
    )


def main() -> None:
    serve_lookups(_settings(), create_app())


if __name__ == "__main__":
    main()
