"""The counter's session: a cookie holding the operator's session token (HttpOnly,
SameSite=Strict, never seen by the page's scripts), the in-process client that calls the
API with it, and where the browser is (WebAuthn binds signatures to the site)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import Response

from jukinet.operators import BrowserCard

__all__ = [
    "COOKIE",
    "ForeignOrigin",
    "api",
    "check_same_origin",
    "clear_session",
    "set_session",
    "site_of",
    "token_of",
]

COOKIE = "jukinet_counter"
SITE_NAME = "住民基本台帳ネットワーク 窓口"


class ForeignOrigin(Exception):
    """A state-changing request that did not come from the counter's own pages."""


def token_of(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def set_session(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age, path="/ui", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/ui")


def check_same_origin(request: Request) -> None:
    """Browsers name the origin of every POST: only the counter's own pages may post."""
    if request.headers.get("origin") != _origin(request):
        raise ForeignOrigin


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def site_of(request: Request) -> BrowserCard | None:
    """The WebAuthn site of this request: its host name and origin. None for an IP
    address, which WebAuthn does not accept as a site (use the host's name)."""
    host = request.url.hostname or ""
    if not host or host.replace(".", "").isdigit() or ":" in host:
        return None
    return BrowserCard(rp_id=host, origin=_origin(request), rp_name=SITE_NAME)


@asynccontextmanager
async def api(request: Request, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """The service's own API, called in-process as the logged-in operator."""
    transport = httpx.ASGITransport(app=request.app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://counter.internal", headers=headers, timeout=60
    ) as client:
        yield client


def field_errors(problem: dict[str, Any]) -> dict[str, str]:
    """The problem document's errors by field, in Japanese, for display beside each."""
    found: dict[str, str] = {}
    for error in problem.get("errors", []):
        loc = [p for p in error.get("loc", []) if p != "body"]
        key = str(loc[0]) if loc else "_"
        found.setdefault(key, str(error.get("message_ja") or error.get("message")))
    return found
