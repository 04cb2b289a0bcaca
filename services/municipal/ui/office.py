"""The office's own pages: the auditor's view of the operation log with its chain
verified, and the administrator's operators (unlock, disable, enrolment codes, the
browser cards registered and their revocation)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from jukinet.operators import SLUG
from municipal.ui.pages import call, page, refused, signed_in
from municipal.ui.session import check_same_origin

__all__ = ["office_routes"]

Slug = Annotated[str, Path(pattern=SLUG)]
ACTIONS = {"unlock": "ロックを解除", "disable": "利用停止"}


def office_routes(router: APIRouter) -> None:
    @router.get("/audit")
    @signed_in
    async def audit(request: Request) -> Response:
        after = request.query_params.get("after", "0")
        start = int(after) if after.isdigit() else 0
        r = await call(request, "GET", f"/audit/operations?after={start}&limit=100")
        if r.status_code != 200:
            return refused(request, r.status_code, "操作記録", r)
        verified = None
        if request.query_params.get("verify"):
            verified = (await call(request, "GET", "/audit/operations/verify")).json()
        return page(request, "audit.html", title="操作記録（監査）", operations=r.json(),
                    verified=verified)  # fmt: skip

    @router.get("/admin")
    @signed_in
    async def admin(request: Request) -> Response:
        r = await call(request, "GET", "/operators")
        if r.status_code != 200:
            return refused(request, r.status_code, "職員の管理", r)
        return page(request, "admin.html", title="職員の管理", operators=r.json())

    @router.post("/admin/{slug}/enrolment")
    @signed_in
    async def enrolment(request: Request, slug: str) -> Response:
        check_same_origin(request)
        r = await call(request, "POST", f"/operators/{slug}/enrolment")
        if r.status_code >= 300:
            return refused(request, r.status_code, "ICカード登録コード", r)
        return page(request, "done.html", title="ICカード登録コード",
                    message=f"{slug} の登録コードです（24時間有効）。本人にだけ伝えてください。",
                    code=r.json()["code"], links=[("/ui/admin", "職員の管理に戻る")])  # fmt: skip

    @router.get("/admin/{slug}/cards")
    @signed_in
    async def cards(request: Request, slug: Slug) -> Response:
        r = await call(request, "GET", f"/operators/{slug}/authenticators")
        if r.status_code != 200:
            return refused(request, r.status_code, "登録済みのICカード", r)
        return page(request, "cards.html", title=f"{slug} の登録済みICカード", slug=slug,
                    cards=r.json())  # fmt: skip

    @router.post("/admin/{slug}/cards/{credential_id}/revoke")
    @signed_in
    async def revoke(request: Request, slug: Slug, credential_id: str) -> Response:
        check_same_origin(request)
        path = f"/operators/{slug}/authenticators/{quote(credential_id, safe='')}/revoke"
        r = await call(request, "POST", path)
        if r.status_code >= 300:
            return refused(request, r.status_code, "登録済みのICカード", r)
        return RedirectResponse(f"/ui/admin/{slug}/cards", status_code=303)

    @router.post("/admin/{slug}/{action}")
    @signed_in
    async def manage(request: Request, slug: str, action: str) -> Response:
        check_same_origin(request)
        if action not in ACTIONS:
            return refused(request, 404, "職員の管理")
        r = await call(request, "POST", f"/operators/{slug}/{action}")
        if r.status_code >= 300:
            return refused(request, r.status_code, "職員の管理", r)
        return RedirectResponse("/ui/admin", status_code=303)
