"""RFC 9457 problem details: one exception base, one renderer, handlers for FastAPI.

Problem responses never echo request input: validation errors list the location, kind
and a message in English and Japanese for each error (:mod:`jukinet.node.validation`),
never the offending value (it may be a name or a resident code).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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
    """The problem+json document (RFC 9457) every refusal and error is answered with."""

    type: str = Field(
        description="The kind of problem: https://jukinet.example/problems/ and its name "
        "(listed under each route's responses), or about:blank for a plain HTTP error.",
        examples=["https://jukinet.example/problems/not-found"],
    )
    title: str = Field(description="The kind of problem in words.", examples=["Not found"])
    status: int = Field(description="The HTTP status of the response.", examples=[404])
    detail: str | None = Field(
        None,
        description="What went wrong here, in English; never a value that was sent.",
        examples=["no such resident in this municipality"],
    )
    reason: str | None = Field(
        None,
        description="A stable code saying why, where a route lists codes for the problem.",
        examples=["head_leaves"],
    )
    errors: list[dict[str, Any]] | None = Field(
        None,
        description="422 validation problems only: each error's location (loc), kind "
        "(type) and message in English and Japanese (message, message_ja), never the value.",
        examples=[
            [
                {
                    "loc": ["body", "birth_date"],
                    "type": "date_from_datetime_parsing",
                    "message": "Input should be a valid date or datetime, month value is "
                    "outside expected range of 1-12",
                    "message_ja": "生年月日: 日付（YYYY-MM-DD）で指定してください",
                }
            ]
        ],
    )


class Problem(Exception):
    """Base of every domain error a service returns. Subclasses set the class attributes;
    ``detail`` must not contain personal data. A subclass raised with a ``reason`` names
    every code it is raised with in ``reasons`` (code: what it means), and a route that
    answers it names the class in :func:`problem_responses`, which documents them."""

    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    reasons: ClassVar[Mapping[str, str]] = {}

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


# What a status means when a route answers it in the usual way (a route's own problems
# are listed beside it).
_MEANS: dict[int, str] = {
    401: "Authentication is missing or not accepted.",
    403: "The caller's role may not do this.",
    404: "Not found.",
    409: "The request conflicts with the current state.",
    413: "The body is larger than this node accepts.",
    422: "The request is not valid: the problem's `errors` say where and why, never with "
    "the value sent.",
}


def problem_responses(*answers: int | type[Problem]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for a route's OpenAPI: a status the route answers in the
    usual way, and each :class:`Problem` subclass it answers with, documented under its
    status with its ``type``, ``title`` and every ``reason`` code it carries."""
    usual = {answer for answer in answers if isinstance(answer, int)}
    problems: dict[int, list[type[Problem]]] = {status: [] for status in usual}
    for answer in answers:
        if not isinstance(answer, int):
            problems.setdefault(answer.status, []).append(answer)
    return {
        status: {
            "model": ProblemBody,
            "content": {PROBLEM_MEDIA_TYPE: {}},
            "description": _describe(status, kinds, usual=status in usual),
        }
        for status, kinds in sorted(problems.items())
    }


def _describe(status: int, kinds: list[type[Problem]], *, usual: bool) -> str:
    means = _MEANS.get(status) if usual else None
    lines = [means or HTTPStatus(status).phrase + "."]
    for kind in kinds:
        line = f"- `{kind.type}`: {kind.title}."
        if kind.reasons:
            codes = "; ".join(f"`{code}` ({meaning})" for code, meaning in kind.reasons.items())
            line += f" `reason`: {codes}."
        lines.append(line)
    return lines[0] + ("\n\n" + "\n".join(lines[1:]) if kinds else "")


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
