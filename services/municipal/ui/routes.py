"""The counter's pages: login and card enrolment (password and IC card, by WebAuthn),
resident search, and a resident's record, household and history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from jukinet.operators import (
    OPERATORS,
    SLUG,
    BrowserCard,
    CardMakers,
    WebAuthnTables,
    authentication_options,
    browser_enrol,
    browser_login,
    enrolment_router,
    registration_options,
)
from jukinet.pki import utcnow
from municipal.ui.actions import action_routes, subject
from municipal.ui.documents import document_routes
from municipal.ui.forms import problem_ja
from municipal.ui.office import office_routes
from municipal.ui.pages import call, page, refused, signed_in
from municipal.ui.session import (
    ForeignOrigin,
    OpaqueId,
    PrivateRoute,
    api,
    check_same_origin,
    clear_session,
    field_errors,
    set_session,
    site_of,
    token_of,
)

__all__ = ["install_ui"]

HERE = Path(__file__).parent
REFUSALS_JA = {
    "failed": "パスワードまたはICカードが確認できませんでした。",
    "locked": "続けて失敗したため、この職員はロックされています。管理者に連絡してください。",
    "throttled": "この端末からの試行が多すぎます。しばらくしてからやり直してください。",
    "enrol_failed": "登録コード・パスワード・ICカードのいずれかが確認できませんでした。",
    "no_site": "ICカードはホスト名でのみ使えます（IPアドレスは不可）。localhost で開いてください。",
}


class EnrolOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator: str = Field(pattern=SLUG)


class CardLogin(EnrolOptions):
    password: str = Field(min_length=1, max_length=200)
    challenge_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    credential: dict[str, Any]


class CardEnrolment(CardLogin):
    code: str = Field(min_length=1, max_length=40)


HOME = {"auditor": "/ui/audit", "administrator": "/ui/admin"}  # the counter's: /ui/
SEARCH_FIELDS = ("name", "kana", "birth_date", "address", "resident_code")


def install_ui(
    app: FastAPI, cards: WebAuthnTables, origin: str | None = None,
    makers: CardMakers | None = None,
) -> None:  # fmt: skip
    """The counter's pages and assets; ``origin``: its public origin (else each
    request's own); ``makers``: whose IC cards may be enrolled (else any authenticator)."""
    app.state.counter_origin = origin
    app.state.card_makers = makers
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.include_router(_router(cards))
    app.include_router(enrolment_router(cards))
    app.add_exception_handler(ForeignOrigin, on_foreign_origin)


def _router(cards: WebAuthnTables) -> APIRouter:
    router = APIRouter(prefix="/ui", include_in_schema=False, route_class=PrivateRoute)
    _auth_routes(router, cards)
    _resident_routes(router)
    action_routes(router)
    document_routes(router)
    office_routes(router)
    return router


def _site(request: Request) -> BrowserCard | JSONResponse:
    """Where the card ceremony happens, for a POST from the counter's own pages; or the
    answer that says it cannot (an IP address is no WebAuthn site)."""
    check_same_origin(request)
    site = site_of(request)
    if site is None:
        return JSONResponse({"message": REFUSALS_JA["no_site"]}, status_code=400)
    return site


def _source(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _auth_routes(router: APIRouter, cards: WebAuthnTables) -> None:
    @router.get("/login")
    async def login_page(request: Request) -> Response:
        problem = None if site_of(request) else REFUSALS_JA["no_site"]
        return page(request, "login.html", title="ログイン", problem=problem)

    @router.post("/login/options")
    async def login_options(request: Request) -> Response:
        site = _site(request)
        if isinstance(site, JSONResponse):
            return site
        ctx = OPERATORS.of(request.app)
        return JSONResponse(
            authentication_options(ctx.challenge_key, ctx.node, ctx.policy, site, utcnow())
        )

    @router.post("/login")
    async def login(request: Request, body: CardLogin) -> Response:
        site = _site(request)
        if isinstance(site, JSONResponse):
            return site
        ctx = OPERATORS.of(request.app)
        done = await browser_login(ctx, cards, site, _source(request), body.model_dump())
        if done.token is None:
            status = 429 if done.refusal == "throttled" else 401
            return JSONResponse({"message": REFUSALS_JA[done.refusal or "failed"]}, status)
        response = JSONResponse({"next": HOME.get(done.actor.role.value, "/ui/")})
        set_session(response, request, done.token, done.seconds)
        return response

    @router.get("/enrol")
    async def enrol_page(request: Request) -> Response:
        problem = None if site_of(request) else REFUSALS_JA["no_site"]
        return page(request, "enrol.html", title="ICカードの登録", problem=problem)

    @router.post("/enrol/options")
    async def enrol_options(request: Request, body: EnrolOptions) -> Response:
        site, slug = _site(request), body.operator
        if isinstance(site, JSONResponse):
            return site
        ctx = OPERATORS.of(request.app)
        options = registration_options(
            ctx.challenge_key, ctx.node, ctx.policy, site, slug, utcnow()
        )
        return JSONResponse(options)

    @router.post("/enrol")
    async def enrol(request: Request, body: CardEnrolment) -> Response:
        site = _site(request)
        if isinstance(site, JSONResponse):
            return site
        ctx = OPERATORS.of(request.app)
        refusal = await browser_enrol(ctx, cards, site, _source(request), body.model_dump())
        if refusal is not None:
            message = REFUSALS_JA["throttled" if refusal == "throttled" else "enrol_failed"]
            return JSONResponse({"message": message}, status_code=401)
        return JSONResponse({"next": "/ui/login"})

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        check_same_origin(request)
        token = token_of(request)
        if token is not None:
            async with api(request, token) as client:
                await client.post("/auth/logout")
        response = RedirectResponse("/ui/login", status_code=303)
        clear_session(response)
        return response


def _resident_routes(router: APIRouter) -> None:
    @router.api_route("/", methods=["GET", "POST"])
    @signed_in
    async def search(request: Request) -> Response:
        """The search travels in the POST body, never in the URL: what a clerk types is
        personal data, and URLs end up in histories and proxies' logs."""
        home = HOME.get(str(request.state.me.get("role")))
        if home is not None:
            return RedirectResponse(home, status_code=303)
        query: dict[str, str] = {}
        page_no = "1"
        if request.method == "POST":
            check_same_origin(request)
            data = await request.form()
            query = {k: v.strip() for k in SEARCH_FIELDS if (v := str(data.get(k, "")))}
            page_no = str(data.get("page", "1"))
        result, errors = None, {}
        if query:
            r = await call(request, "POST", "/residents/search", {**query, "page": page_no})
            if r.status_code == 200:
                result = r.json()
            elif r.status_code == 422:
                errors = field_errors(r.json())
            else:
                errors = {"_": problem_ja(r.status_code, {})}
        return page(request, "search.html", title="住民検索", query=query, result=result,
                    errors=errors)  # fmt: skip

    @router.get("/residents/{resident_id}")
    @signed_in
    async def resident(request: Request, resident_id: OpaqueId) -> Response:
        found = await subject(request, resident_id)
        if isinstance(found, Response):
            return found
        person, household = found
        h = await call(request, "GET", f"/residents/{resident_id}/history")
        if h.status_code != 200:
            return refused(request, h.status_code, "住民票", h)
        history = h.json()
        a = await call(request, "GET", f"/residents/{resident_id}/aliases")
        aliases = a.json() if a.status_code == 200 else []
        return page(request, "resident.html", title="住民票", person=person, history=history,
                    household=household, aliases=aliases)  # fmt: skip


async def on_foreign_origin(_: Request, __: Exception) -> Response:
    return JSONResponse({"message": "この画面からの操作ではありません。"}, status_code=403)
