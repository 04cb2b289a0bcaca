"""The counter's session: a cookie holding the operator's session token (HttpOnly,
SameSite=Strict, never seen by the page's scripts), the in-process client that calls the
API with it, and where the browser is (WebAuthn binds signatures to the site)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from fastapi import Path, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from jukinet.operators import BrowserCard

__all__ = [
    "COOKIE",
    "ForeignOrigin",
    "OpaqueId",
    "PrivateRoute",
    "api",
    "check_same_origin",
    "clear_session",
    "private",
    "set_session",
    "site_of",
    "token_of",
]

# the ids a counter URL carries: opaque, never a name or a code (and nothing that could
# change the path of the API call they are put into)
OpaqueId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
COOKIE = "jukinet_counter"
SITE_NAME = "住民基本台帳ネットワーク 窓口"


class ForeignOrigin(Exception):
    """A state-changing request that did not come from the counter's own pages."""


def token_of(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def set_session(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age, path="/ui", httponly=True, samesite="strict",
        secure=_origin(request).startswith("https://"),
    )  # fmt: skip


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/ui")


def check_same_origin(request: Request) -> None:
    """Browsers name the origin of every POST: only the counter's own pages may post."""
    if request.headers.get("origin") != _origin(request):
        raise ForeignOrigin


def _origin(request: Request) -> str:
    """The counter's origin: as configured (behind a proxy), else this request's."""
    configured: str | None = getattr(request.app.state, "counter_origin", None)
    if configured:
        return configured
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def site_of(request: Request) -> BrowserCard | None:
    """The WebAuthn site: the counter's host name and origin. None for an IP address,
    which WebAuthn does not accept as a site (use the host's name)."""
    origin = _origin(request)
    host = urlsplit(origin).hostname or ""
    if not host or host.replace(".", "").isdigit() or ":" in host:
        return None
    makers = getattr(request.app.state, "card_makers", None)
    return BrowserCard(rp_id=host, origin=origin, rp_name=SITE_NAME, makers=makers)


PRIVATE = {
    # records, codes and search results: never kept in a shared terminal's cache, never
    # framed by another site, nothing loaded from elsewhere
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "same-origin",  # (no-referrer would make a form POST's Origin null)
}


def private(response: Response) -> Response:
    response.headers.update(PRIVATE)
    return response


class PrivateRoute(APIRoute):
    """A counter route: whatever it answers carries the :data:`PRIVATE` headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def private_handler(request: Request) -> Response:
            return private(await handler(request))

        return private_handler


@asynccontextmanager
async def api(request: Request, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """The service's own API, called in-process as the logged-in operator."""
    # the API's own error answers (problem documents) come back as answers, not exceptions
    transport = httpx.ASGITransport(app=request.app, raise_app_exceptions=False)
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
