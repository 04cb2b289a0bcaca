"""What every counter page shares: the signed-in operator, the office, rendering, and
calls to the service's own API as that operator."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ParamSpec

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from jukinet.contracts.identity import ChangeReason
from jukinet.contracts.prefectures import prefecture_name
from jukinet.contracts.residency import nationality_label
from jukinet.node.validation import FIELDS_JA
from jukinet.operators import OPERATORS, resolve_token
from jukinet.pki import utcnow
from municipal.ui.forms import problem_ja
from municipal.ui.session import api, token_of

__all__ = ["call", "page", "refused", "signed_in", "templates"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["reason_ja"] = lambda r: ChangeReason(r).label if r else ""
templates.env.filters["field_ja"] = lambda k: {**FIELDS_JA, "operator": "操作者"}.get(k, k)
templates.env.filters["nationality_ja"] = nationality_label
templates.env.filters["sex_ja"] = lambda s: {"male": "男", "female": "女"}.get(str(s), str(s))
ROLES_JA = {"clerk": "窓口職員", "supervisor": "係長", "auditor": "監査担当",
            "administrator": "管理者"}  # fmt: skip
P = ParamSpec("P")


def office(request: Request) -> dict[str, str]:
    node = OPERATORS.of(request.app).node
    return {"code": node.code, "prefecture": prefecture_name(node.code)}


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("title", "")
    context.setdefault("me", getattr(request.state, "me", None))
    context.setdefault("office", office(request))
    return templates.TemplateResponse(request, name, context, status_code=status)


def refused(request: Request, status: int, title: str, answer: Any = None) -> HTMLResponse:
    """The page that says, in Japanese, why the API refused (``answer``: its problem
    document, or the response that carries it)."""
    problem = answer.json() if isinstance(answer, httpx.Response) and _is_json(answer) else {}
    message = answer if isinstance(answer, str) else problem_ja(status, problem or {})
    return page(request, "error.html", status=status, title=title, message=message)


def _is_json(r: httpx.Response) -> bool:
    return "json" in r.headers.get("content-type", "")


async def call(request: Request, method: str, path: str, json: Any = None) -> httpx.Response:
    """The service's API, in-process, as the signed-in operator."""
    async with api(request, token_of(request) or "") as client:
        return await client.request(method, path, json=json)


async def whoami(request: Request) -> dict[str, Any] | None:
    """The operator of this browser's session, if it is live (checked as the API checks
    it: not expired or revoked, operator enabled, card not revoked; a page view is not an
    operation of its own — what the page then reads is logged by the API)."""
    token = token_of(request)
    if token is None:
        return None
    ctx = OPERATORS.of(request.app)
    async with ctx.sessions() as session:
        actor = await resolve_token(session, ctx.tables, ctx.node, token, utcnow(), ctx.trust)
    if actor is None:
        return None
    role = actor.role.value
    return {"actor": actor.name, "operator": actor.operator, "role": role,
            "role_ja": ROLES_JA.get(role, role)}  # fmt: skip


def signed_in(
    handler: Callable[P, Awaitable[Response]],
) -> Callable[P, Awaitable[Response]]:
    """The page needs a live session: otherwise the login page."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs.get("request") or args[0]
        assert isinstance(request, Request)  # noqa: S101 - every page takes the request first
        me = await whoami(request)
        if me is None:
            return RedirectResponse("/ui/login", status_code=303)
        request.state.me = me
        return await handler(*args, **kwargs)

    return wrapper
