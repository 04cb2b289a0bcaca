"""A cap on request bodies, applied before anything reads them (ASGI middleware).

A declared ``Content-Length`` over the cap is refused at once; a body without one
(chunked) is counted as it arrives and refused when it passes the cap. Either way the
answer is 413 problem+json, and the application never sees more than the cap. Routes
that take large bodies *after* authenticating (bulk import) get their own, larger cap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BULK_PATHS", "DEFAULT_MAX_BODY", "BodyLimit", "BodyTooLarge", "install_body_limit"]

BULK_PATHS = ("/residents/import",)  # authenticated before their body is read

DEFAULT_MAX_BODY = 1024 * 1024
_PROBLEM = {
    "type": "https://jukinet.example/problems/body-too-large",
    "title": "The request body is too large",
    "status": 413,
}


class BodyTooLarge(HTTPException):
    """Raised into whoever reads a body past its cap (FastAPI passes HTTP exceptions on,
    so the problem handlers answer 413)."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is too large")


class BodyLimit:
    """``max_bytes`` for every route, ``per_path`` for the named exact paths."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY, per_path: Mapping[str, int] = {}
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.max_bytes)
        declared = _content_length(scope)
        if declared is not None and (declared < 0 or declared > limit):
            await _refuse(send)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _refuse(send: Send) -> None:
    body = json.dumps(_PROBLEM).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_body_limit(
    app: FastAPI, max_bytes: int, bulk_bytes: int, larger: Mapping[str, int] = {}
) -> None:
    """Cap every route's body at ``max_bytes``, the bulk routes' at ``bulk_bytes`` and
    the ``larger`` paths' at their own caps."""
    caps = dict.fromkeys(BULK_PATHS, bulk_bytes) | dict(larger)
    app.add_middleware(BodyLimit, max_bytes=max_bytes, per_path=caps)
