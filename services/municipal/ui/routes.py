"""The counter's pages: login and card enrolment (password and IC card, by WebAuthn),
resident search, and a resident's record, household and history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from jukinet.contracts.identity import ChangeReason
from jukinet.contracts.prefectures import prefecture_name
from jukinet.operators import (
    OPERATORS,
    WebAuthnTables,
    authentication_options,
    browser_enrol,
    browser_login,
    registration_options,
)
from jukinet.pki import utcnow
from municipal.ui.session import (
    ForeignOrigin,
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
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["reason_ja"] = lambda r: ChangeReason(r).label if r else ""
templates.env.filters["sex_ja"] = lambda s: {"male": "男", "female": "女"}.get(str(s), str(s))
ROLES_JA = {"clerk": "窓口職員", "supervisor": "係長", "auditor": "監査担当",
            "administrator": "管理者"}  # fmt: skip
REFUSALS_JA = {
    "failed": "パスワードまたはICカードが確認できませんでした。",
    "locked": "続けて失敗したため、この職員はロックされています。管理者に連絡してください。",
    "throttled": "この端末からの試行が多すぎます。しばらくしてからやり直してください。",
    "enrol_failed": "登録コード・パスワード・ICカードのいずれかが確認できませんでした。",
    "no_site": "ICカードはホスト名でのみ使えます（IPアドレスは不可）。localhost で開いてください。",
}
SEARCH_FIELDS = ("name", "kana", "birth_date", "address", "resident_code")


def install_ui(app: FastAPI, cards: WebAuthnTables) -> None:
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.include_router(_router(cards))
    app.add_exception_handler(ForeignOrigin, on_foreign_origin)


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("title", "")
    return templates.TemplateResponse(request, name, context, status_code=status)


async def _me(request: Request) -> dict[str, Any] | None:
    token = token_of(request)
    if token is None:
        return None
    async with api(request, token) as client:
        r = await client.get("/auth/me")
    if r.status_code != 200:
        return None
    me: dict[str, Any] = r.json()
    me["role_ja"] = ROLES_JA.get(str(me.get("role")), me.get("role"))
    return me


def _office(request: Request) -> dict[str, str]:
    node = OPERATORS.of(request.app).node
    return {"code": node.code, "prefecture": prefecture_name(node.code)}


def _router(cards: WebAuthnTables) -> APIRouter:
    router = APIRouter(prefix="/ui", include_in_schema=False)
    _auth_routes(router, cards)
    _resident_routes(router)
    return router


def _auth_routes(router: APIRouter, cards: WebAuthnTables) -> None:
    @router.get("/login")
    async def login_page(request: Request) -> Response:
        problem = None if site_of(request) else REFUSALS_JA["no_site"]
        return _page(request, "login.html", title="ログイン", office=_office(request),
                     problem=problem)  # fmt: skip

    @router.post("/login/options")
    async def login_options(request: Request) -> Response:
        check_same_origin(request)
        site = site_of(request)
        if site is None:
            return JSONResponse({"message": REFUSALS_JA["no_site"]}, status_code=400)
        ctx = OPERATORS.of(request.app)
        return JSONResponse(
            authentication_options(ctx.challenge_key, ctx.node, ctx.policy, site, utcnow())
        )

    @router.post("/login")
    async def login(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
        check_same_origin(request)
        site = site_of(request)
        if site is None:
            return JSONResponse({"message": REFUSALS_JA["no_site"]}, status_code=400)
        source = request.client.host if request.client is not None else "unknown"
        done = await browser_login(OPERATORS.of(request.app), cards, site, source, body)
        if done.token is None:
            status = 429 if done.refusal == "throttled" else 401
            return JSONResponse({"message": REFUSALS_JA[done.refusal or "failed"]}, status)
        response = JSONResponse({"next": "/ui/"})
        set_session(response, request, done.token, done.seconds)
        return response

    @router.get("/enrol")
    async def enrol_page(request: Request) -> Response:
        problem = None if site_of(request) else REFUSALS_JA["no_site"]
        return _page(request, "enrol.html", title="ICカードの登録", office=_office(request),
                     problem=problem)  # fmt: skip

    @router.post("/enrol/options")
    async def enrol_options(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
        check_same_origin(request)
        site = site_of(request)
        slug = str(body.get("operator", ""))
        if site is None or not slug:
            return JSONResponse({"message": REFUSALS_JA["no_site"]}, status_code=400)
        ctx = OPERATORS.of(request.app)
        options = registration_options(
            ctx.challenge_key, ctx.node, ctx.policy, site, slug, utcnow()
        )
        return JSONResponse(options)

    @router.post("/enrol")
    async def enrol(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
        check_same_origin(request)
        site = site_of(request)
        if site is None:
            return JSONResponse({"message": REFUSALS_JA["no_site"]}, status_code=400)
        source = request.client.host if request.client is not None else "unknown"
        refusal = await browser_enrol(OPERATORS.of(request.app), cards, site, source, body)
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
    @router.get("/")
    async def search(request: Request) -> Response:
        me = await _me(request)
        if me is None:
            return RedirectResponse("/ui/login", status_code=303)
        query = {k: v.strip() for k in SEARCH_FIELDS if (v := request.query_params.get(k, ""))}
        page = request.query_params.get("page", "1")
        result, errors = None, {}
        if query:
            token = token_of(request) or ""
            async with api(request, token) as client:
                r = await client.post("/residents/search", json={**query, "page": page})
            if r.status_code == 200:
                result = r.json()
            elif r.status_code == 422:
                errors = field_errors(r.json())
            else:
                errors = {"_": _refusal_ja(r)}
        return _page(request, "search.html", title="住民検索", me=me, office=_office(request),
                     query=query, result=result, errors=errors)  # fmt: skip

    @router.get("/residents/{resident_id}")
    async def resident(request: Request, resident_id: str) -> Response:
        me = await _me(request)
        if me is None:
            return RedirectResponse("/ui/login", status_code=303)
        token = token_of(request) or ""
        async with api(request, token) as client:
            r = await client.get(f"/residents/{resident_id}")
            if r.status_code != 200:
                return _page(request, "error.html", status=r.status_code, title="住民票",
                             me=me, office=_office(request), message=_refusal_ja(r))  # fmt: skip
            person = r.json()
            history = (await client.get(f"/residents/{resident_id}/history")).json()
            household = None
            if person.get("household_id"):
                h = await client.get(f"/households/{person['household_id']}")
                household = h.json() if h.status_code == 200 else None
        return _page(request, "resident.html", title="住民票", me=me, office=_office(request),
                     person=person, history=history, household=household)  # fmt: skip


def _refusal_ja(r: Any) -> str:
    status = r.status_code
    return {
        401: "ログインし直してください。",
        403: "この操作を行う権限がありません。",
        404: "該当する住民は見つかりません。",
    }.get(status, "処理できませんでした。時間をおいてやり直してください。")


async def on_foreign_origin(_: Request, __: Exception) -> Response:
    return JSONResponse({"message": "この画面からの操作ではありません。"}, status_code=403)
