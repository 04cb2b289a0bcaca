"""API documentation that works on a closed network: Swagger UI at ``/docs`` and ReDoc
at ``/redoc``, their scripts and styles served by the service itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, which a Juki-Net segment never
reaches, so they render blank. The assets come from ``fastapi-standalone-docs`` (Swagger
UI 5, which reads FastAPI's OpenAPI 3.1, and ReDoc); the pages are FastAPI's own
self-hosting recipe pointed at them. ReDoc's web fonts are not loaded.
"""

from __future__ import annotations

import html
from pathlib import Path

import fastapi_standalone_docs
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match

__all__ = ["ASSETS", "install_docs"]

ASSETS = "/docs-assets"  # where the scripts and styles are served
_STATIC = Path(fastapi_standalone_docs.__path__[0]) / "static"


def install_docs(app: FastAPI) -> None:
    """Serve the docs pages and their assets from ``app`` (built with ``docs_url`` and
    ``redoc_url`` None, so FastAPI adds no CDN pages of its own)."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("build the app with docs_url=None and redoc_url=None")
    app.mount(f"{ASSETS}/swagger", StaticFiles(directory=_STATIC / "swagger"), "docs-swagger")
    app.mount(f"{ASSETS}/redoc", StaticFiles(directory=_STATIC / "redoc"), "docs-redoc")
    app.mount(f"{ASSETS}/fastapi", StaticFiles(directory=_STATIC / "fastapi"), "docs-icon")
    openapi = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/fastapi/favicon.png",
        )

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        served = {href for href, _, _ in _LINKS if _serves(app, href)}
        return HTMLResponse(_index_page(app.title, served))

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi,
            title=f"{app.title} — API",
            redoc_js_url=f"{ASSETS}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/fastapi/favicon.png",
            with_google_fonts=False,
        )


_LINKS = (
    ("/ui/", "窓口（職員の画面）", "the counter, for clerks (open it by host name: localhost)"),
    ("/docs", "API 仕様（Swagger UI）", "API reference, to try calls"),
    ("/redoc", "API 仕様（ReDoc）", "API reference, to read"),
    ("/openapi.json", "OpenAPI 文書", "the OpenAPI document"),
    ("/readyz", "稼働状況", "readiness: database and broker"),
    ("/healthz", "稼働状況", "liveness"),
    ("/metrics", "メトリクス", "Prometheus metrics"),
)


def _serves(app: FastAPI, path: str) -> bool:
    """Whether a GET of ``path`` reaches a route (included routers too: they are not
    listed path by path)."""
    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": [],
             "query_string": b""}  # fmt: skip
    return any(route.matches(scope)[0] is Match.FULL for route in app.routes)


def _index_page(title: str, served: set[str]) -> str:
    """What a browser shows at the service's root: what it is and where to go (only the
    pages this service serves)."""
    items = "\n".join(
        f'    <li><a href="{href}">{ja}</a> — {en}</li>'
        for href, ja, en in _LINKS
        if href in served
    )
    name = html.escape(title)
    return f"""<!doctype html>
<html lang="ja">
<head><meta charset="utf-8"><title>{name}</title>
<style>body{{font-family:sans-serif;margin:2rem;max-width:44rem}}li{{margin:.4rem 0}}</style>
</head>
<body>
  <h1>{name}</h1>
  <p>住民基本台帳ネットワークシステム（jukinet）のサービスです。
     This is a jukinet service; it answers its HTTP API.</p>
  <ul>
{items}
  </ul>
</body>
</html>
"""
