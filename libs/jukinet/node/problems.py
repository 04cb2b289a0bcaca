"""RFC 9457 problem details: one exception base, one renderer, handlers for FastAPI.

Problem responses never echo request input: validation errors list the location, kind
and a message in English and Japanese for each error (:mod:`jukinet.node.validation`),
never the offending value (it may be a name or a resident code).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from jukinet.node.validation import describe_errors

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "Conflict",
    "Forbidden",
    "NotFound",
    "Problem",
    "ProblemBody",
    "Unauthorized",
    "install_problem_handlers",
    "problem_responses",
    "status_of",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_BASE = "https://jukinet.example/problems/"
log = logging.getLogger("jukinet.problems")


class ProblemBody(BaseModel):
    """The problem+json document (for OpenAPI)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    reason: str | None = None
    errors: list[dict[str, Any]] | None = None


class Problem(Exception):
    """Base of every domain error a service returns. Subclasses set the class attributes;
    ``detail`` must not contain personal data."""

    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.reason = reason
        self.headers = headers

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": _TYPE_BASE + self.type,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            doc["detail"] = self.detail
        if self.reason:
            doc["reason"] = self.reason
        return doc


class NotFound(Problem):
    status, type, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, type, title = 409, "conflict", "Conflict"


class Unauthorized(Problem):
    status, type, title = 401, "unauthorized", "Authentication required"


class Forbidden(Problem):
    status, type, title = 403, "forbidden", "Forbidden"


def problem_response(status: int, doc: dict[str, Any]) -> JSONResponse:
    return JSONResponse(doc, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for a route's OpenAPI."""
    return {
        status: {"model": ProblemBody, "content": {PROBLEM_MEDIA_TYPE: {}}} for status in statuses
    }


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, Problem):
        raise exc
    response = problem_response(exc.status, exc.body())
    response.headers.update(exc.headers or {})
    return response


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = describe_errors(exc.errors())
    doc = {
        "type": _TYPE_BASE + "validation",
        "title": "The request is not valid",
        "status": 422,
        "errors": errors,
    }
    return problem_response(422, doc)


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    doc = {"type": "about:blank", "title": str(exc.detail), "status": exc.status_code}
    return problem_response(exc.status_code, doc)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    route = getattr(request.scope.get("route"), "path", "unmatched")  # a template, not the path
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, route)
    doc = {"type": _TYPE_BASE + "internal", "title": "Internal error", "status": 500}
    return problem_response(500, doc)


def status_of(exc: BaseException) -> int:
    """The status the handlers below answer ``exc`` with (what a request that raised it
    is logged as, before the response exists)."""
    if isinstance(exc, Problem):
        return exc.status
    if isinstance(exc, RequestValidationError):
        return 422
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code
    return 500


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
