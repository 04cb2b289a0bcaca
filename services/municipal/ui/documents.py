"""Certificates and disclosures at the counter: the own-town 住民票の写し (whole
household or chosen members, optional items only when asked), the nationwide copy
(広域交付) of a resident of another municipality, and the resident's disclosure of who
was given their record (提供状況の開示), each handed over as the PDF the API makes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from municipal.ui.actions import Form, handle_pdf, subject
from municipal.ui.forms import Field, as_attachment, problem_ja
from municipal.ui.pages import call, page, refused, signed_in
from municipal.ui.session import OpaqueId, check_same_origin

__all__ = ["document_routes"]

PURPOSE = (
    Field("purpose", "請求の目的", required=True, hint="台帳に記録します（写しには印字しません）"),
    Field("id_checked", "本人確認書類を確認した", "checkbox"),
)
OWN_ITEMS = (
    Field("include_relation", "続柄を記載する", "checkbox"),
    Field("include_resident_code", "住民票コードを記載する", "checkbox"),
    Field("include_registered_domicile", "本籍・筆頭者を記載する", "checkbox"),
    Field("include_previous_address", "前住所を記載する", "checkbox"),
    Field("include_individual_number", "個人番号を記載する（本人等の特別の請求）", "checkbox"),
)
NATIONWIDE = Form(
    "住民票の写しの広域交付",
    (
        Field("home_municipality", "住所地の団体コード", required=True, hint="例: 131016"),
        Field("name", "氏名（本人確認書類のとおり）", required=True),
        Field("birth_date", "生年月日", "date", required=True),
        Field("address", "住所（本人確認書類のとおり）"),
        Field("resident_code", "住民票コード（わかる場合）"),
        *PURPOSE,
        Field("whole_household", "世帯全員の写し", "checkbox"),
        Field("include_relation", "続柄を記載する", "checkbox"),
        Field("include_resident_code", "住民票コードを記載する", "checkbox"),
    ),
    "写しを交付する",
    intro="他の市区町村に住所がある方の写しを、住所地に照会して交付します。"
    "本籍・筆頭者は広域交付では記載できません。",
)


def _flags(data: Any, names: tuple[str, ...]) -> dict[str, bool]:
    return {name: data.get(name) == "1" for name in names}


def _own_body(resident_id: str, data: Any) -> dict[str, Any]:
    scope = str(data.get("scope", "self"))
    body: dict[str, Any] = {
        "purpose": str(data.get("purpose", "")).strip(),
        "id_checked": data.get("id_checked") == "1",
        "resident_id": resident_id,
        "whole_household": scope == "household",
        **_flags(data, tuple(f.name for f in OWN_ITEMS)),
    }
    members = list(data.getlist("members"))
    if scope == "chosen" and members:
        body["members"] = members
    return body


def _nationwide_body(data: Any) -> dict[str, Any]:
    person = {k: v for k in ("name", "birth_date", "address", "resident_code")
              if (v := str(data.get(k, "")).strip())}  # fmt: skip
    return {
        "home_municipality": str(data.get("home_municipality", "")).strip(),
        "person": person,
        "purpose": str(data.get("purpose", "")).strip(),
        "id_checked": data.get("id_checked") == "1",
        **_flags(data, ("whole_household", "include_relation", "include_resident_code")),
    }


def document_routes(router: APIRouter) -> None:
    methods = ["GET", "POST"]

    @router.api_route("/residents/{resident_id}/copy", methods=methods)
    @signed_in
    async def own_copy(request: Request, resident_id: OpaqueId) -> Response:
        found = await subject(request, resident_id)
        if isinstance(found, Response):
            return found
        person, household = found
        others = [m for m in (household or {}).get("members", []) if m["id"] != person["id"]]
        form = Form(
            "住民票の写し（本市区町村の住民）",
            (
                *PURPOSE,
                Field("scope", "写しの範囲", "select", (("self", "本人のみ"),
                      ("household", "世帯全員"), ("chosen", "本人と選んだ世帯員"))),
                Field("members", "記載する世帯員", "checkboxes",
                      tuple((m["id"], m["name"]) for m in others)),
                *OWN_ITEMS,
            ),
            "写しを交付する",
            intro="世帯主の記載は必ず入ります。任意の項目は請求があったときだけ記載します。",
        )  # fmt: skip
        return await handle_pdf(request, form, f"/ui/residents/{resident_id}/copy",
                                "/copies/own", lambda _, d: _own_body(resident_id, d),
                                subject=person)  # fmt: skip

    @router.api_route("/copies", methods=methods)
    @signed_in
    async def nationwide(request: Request) -> Response:
        return await handle_pdf(request, NATIONWIDE, "/ui/copies", "/copies",
                                lambda _, d: _nationwide_body(d))  # fmt: skip

    @router.post("/residents/{resident_id}/disclosure")
    @signed_in
    async def disclose(request: Request, resident_id: OpaqueId) -> Response:
        check_same_origin(request)
        r = await call(request, "POST", "/disclosures", {"resident_id": resident_id})
        if r.status_code >= 300:
            return refused(request, r.status_code, "提供状況の開示", r)
        return RedirectResponse(f"/ui/disclosures/{r.json()['id']}", status_code=303)

    @router.post("/residents/{resident_id}/individual-number")
    @signed_in
    async def renumber(request: Request, resident_id: OpaqueId) -> Response:
        """個人番号の変更 after a leak: the agency's new number arrives by itself."""
        check_same_origin(request)
        body = {"reason": "leaked"}
        r = await call(request, "POST", f"/residents/{resident_id}/individual-number", body)
        if r.status_code >= 300:
            return refused(request, r.status_code, "個人番号の変更", r)
        return RedirectResponse(f"/ui/residents/{resident_id}", status_code=303)

    @router.get("/disclosures/{disclosure_id}")
    @signed_in
    async def disclosure(request: Request, disclosure_id: OpaqueId) -> Response:
        r = await call(request, "GET", f"/disclosures/{disclosure_id}")
        if r.status_code != 200:
            return refused(request, r.status_code, "提供状況の開示", r)
        return page(request, "disclosure.html", title="提供状況の開示", view=r.json(),
                    disclosure_id=disclosure_id)  # fmt: skip

    @router.get("/disclosures/{disclosure_id}/document")
    @signed_in
    async def disclosure_document(request: Request, disclosure_id: OpaqueId) -> Response:
        r = await call(request, "GET", f"/disclosures/{disclosure_id}/document")
        if r.status_code != 200:
            message = ("機構と都道府県の回答がそろっていません。しばらくしてから開いてください。"
                       if r.status_code == 409 else problem_ja(r.status_code, {}))  # fmt: skip
            return refused(request, r.status_code, "提供状況の開示", message)
        return _pdf(r)


def _pdf(r: Any) -> Response:
    headers = {"Content-Disposition": as_attachment(r.headers.get("content-disposition", ""))}
    return Response(r.content, media_type="application/pdf", headers=headers)
