"""The counter's actions on the register: record (記載: 出生, 転入, 職権記載), 転居, 転出,
死亡 and 職権消除, 修正 (氏名変更, 職権修正), 住民票コード変更 and 世帯主変更. Each is a
form sent to the API as the logged-in operator; a head who leaves members behind names
the new head in the same action."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from municipal.ui.forms import Field, Form, as_attachment, problem_ja
from municipal.ui.pages import call, page, refused, signed_in
from municipal.ui.session import OpaqueId, check_same_origin, field_errors

__all__ = ["Form", "action_routes", "handle", "handle_pdf", "subject"]

_OPAQUE_ID = re.compile(r"[0-9a-f]{32}")
SEX = (("female", "女"), ("male", "男"))
DATES = (
    Field("change_date", "異動年月日", "date", required=True),
    Field("notified_on", "届出年月日", "date", hint="届出によらない職権の異動では空欄"),
)
REGISTER_HOUSEHOLD = (
    Field("household_id", "世帯（加わる世帯のID）", hint="空欄なら新しい世帯の世帯主"),
    Field("relation", "世帯主との続柄", hint="世帯に加わるときは必須（例: 子）"),
)
REGISTER = Form(
    "住民票の記載",
    (
        Field(
            "reason",
            "異動事由",
            "select",
            (("birth", "出生"), ("move_in", "転入"), ("ex_officio_record", "職権記載")),
            required=True,
        ),
        Field("name", "氏名", required=True),
        Field("name_kana", "ふりがな（カタカナ）"),
        Field("birth_date", "生年月日", "date", required=True),
        Field("sex", "性別", "select", SEX, required=True),
        Field("address", "住所", required=True),
        *DATES,
        *REGISTER_HOUSEHOLD,
        Field("previous_address", "前住所（転入）", hint="転出証明書のとおり"),
        Field("previous_municipality", "前住所地の団体コード（転入）"),
        Field("resident_code", "住民票コード（転入: 転出証明書の記載）"),
        Field("individual_number", "個人番号（転入: 転出証明書の記載）"),
        Field("registered_domicile", "本籍"),
        Field("family_register_head", "筆頭者"),
        Field("former_surname", "旧氏（本人の請求があるとき）"),
        Field("former_surname_kana", "旧氏のふりがな"),
        Field(
            "nationality",
            "国籍・地域（外国人住民）",
            hint="在留カードの国籍・地域を ISO 3166 の2文字で（例: VN, CN, PH; 無国籍は XX）。"
            "外国人住民の氏名は在留カードのとおりローマ字で",
        ),
        Field("alias", "通称（外国人住民の申出があるとき）"),
        Field("alias_kana", "通称のふりがな"),
    ),
    "記載する",
)
CORRECT = Form(
    "住民票の修正",
    (
        Field(
            "reason",
            "異動事由",
            "select",
            (("name_change", "氏名変更"), ("ex_officio_correction", "職権修正")),
            required=True,
        ),
        Field("name", "氏名"),
        Field("name_kana", "ふりがな（カタカナ）"),
        Field("address", "住所（職権修正）"),
        Field("birth_date", "生年月日（職権修正）", "date"),
        Field("sex", "性別（職権修正）", "select", (("", "変更なし"), *SEX)),
        *DATES,
    ),
    "修正する",
    intro="変更する項目だけを入力してください。",
)
FORMER_SURNAME = Form(
    "旧氏の記載・削除",
    (
        Field(
            "reason",
            "異動事由",
            "select",
            (("former_surname_record", "旧氏記載"), ("former_surname_delete", "旧氏削除")),
            required=True,
        ),
        Field("former_surname", "旧氏（記載するとき）", hint="戸籍に記載されている旧氏のとおり"),
        Field("former_surname_kana", "旧氏のふりがな"),
        *DATES,
    ),
    "記録する",
    intro="本人の請求により、旧氏を記載し、または削除します。",
)
ALIAS = Form(
    "通称の記載・削除",
    (
        Field(
            "reason",
            "異動事由",
            "select",
            (("alias_record", "通称記載"), ("alias_delete", "通称削除")),
            required=True,
        ),
        Field("alias", "通称（記載するとき）", hint="社会生活上通用していることを示す資料を確認"),
        Field("alias_kana", "通称のふりがな"),
        *DATES,
    ),
    "記録する",
    intro="外国人住民の申出により、通称を記載し、または削除します（履歴は残ります）。",
)


def special_move_in(notice: Mapping[str, Any]) -> Form:
    """転入 from a 転出証明書情報: the person as the certificate states them (the clerk
    checks them against the person's card), the address and the dates entered here."""
    fixed = {"move_out_notice_id": notice["notice_id"], "name": notice["name"],
             "name_kana": notice.get("name_kana") or "", "birth_date": notice["birth_date"],
             "sex": notice["sex"]}  # fmt: skip
    return Form(
        "転入（転出届の特例）",
        (
            *(Field(name, "", "hidden", value=str(value)) for name, value in fixed.items()),
            Field(
                "address",
                "住所",
                required=True,
                value=notice["next_address"],
                hint="転出届で届け出た転出先。実際の住所と違えば直す",
            ),
            Field("change_date", "異動年月日（転入した日）", "date", required=True),
            Field("notified_on", "届出年月日", "date", required=True),
            *REGISTER_HOUSEHOLD,
        ),
        "転入を記録する",
        intro=f"{notice['name']}（{notice['birth_date']}生）: {notice['previous_address']}"
        f"（{notice['from_municipality']}）から。転出予定日 {notice['planned_on']}、"
        f"期限 {notice['valid_until']}。"
        "住民票コード・個人番号・前住所は転出証明書情報のとおり記録されます。",
    )


CODE = Form(
    "住民票コードの変更",
    DATES,
    "新しいコードを記載する",
    confirm="住民票コードを変更します。よろしいですか？",
    intro="本人の請求により、新しい住民票コードを記載します（旧コードは使えなくなります）。",
)


def _body(form: Form, data: Mapping[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    """The API body: the entered values (blank ones left out) and the form's fixed ones."""
    body: dict[str, Any] = {}
    for f in form.fields:
        if f.kind == "checkbox":
            body[f.name] = data.get(f.name) == "1"
        elif (value := str(data.get(f.name, "")).strip()) != "":
            body[f.name] = value
    return {**body, **fixed}


def _household_fields(person: dict[str, Any], household: dict[str, Any] | None,
                      *, verb: str | None) -> tuple[Field, ...]:  # fmt: skip
    """Who else goes (``verb``: 転居 or 転出; None for a deletion) and — when the head
    leaves members behind — the new head and each remaining member's relation to them.
    On a 転居, those who go along live in a household the resident heads: each needs
    their relation to the resident."""
    others = [m for m in (household or {}).get("members", []) if m["id"] != person["id"]]
    if not others:
        return ()
    fields: list[Field] = []
    if verb is not None:
        fields += [Field("whole_household", f"世帯全員で{verb}する", "checkbox"),
                   Field("members", f"一緒に{verb}する世帯員", "checkboxes",
                         tuple((m["id"], m["name"]) for m in others))]  # fmt: skip
    if verb == "転居":
        fields += [Field(f"moving:{m['id']}", f"{m['name']} の届出人との続柄（一緒に転居する場合）")
                   for m in others]  # fmt: skip
    if household and household.get("head_id") == person["id"]:
        fields.append(Field("new_head", "新しい世帯主（世帯主変更）", "select",
                            (("", "（世帯員が残らない場合は不要）"),
                             *((m["id"], m["name"]) for m in others))))  # fmt: skip
        fields += [Field(f"relation:{m['id']}", f"{m['name']} の新しい世帯主との続柄",
                         value="") for m in others]  # fmt: skip
    return tuple(fields)


def _new_head(data: Mapping[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
    head = str(data.get("new_head", "")).strip()
    if not head:
        return None
    relations = {
        key.partition(":")[2]: str(value).strip()
        for key, value in data.items()
        if key.startswith("relation:") and str(value).strip() and key != f"relation:{head}"
    }
    return {"resident_id": head, "change_date": body.get("change_date"),
            "notified_on": body.get("notified_on"), "relations": relations}  # fmt: skip


def _leaving_body(form: Form, data: Any, fixed: dict[str, Any]) -> dict[str, Any]:
    body = _body(form, data, fixed)
    for key in ("members", "new_head"):
        body.pop(key, None)
    body = {k: v for k, v in body.items() if not k.startswith(("relation:", "moving:"))}
    members = list(data.getlist("members"))
    if members and not body.get("whole_household"):
        body["members"] = members
        if body.get("reason") == "in_town_move":
            body["relations"] = {m: str(data.get(f"moving:{m}", "")).strip() for m in members}
    head = _new_head(data, body)
    if head is not None:
        body["new_head"] = head
    return body


async def subject(
    request: Request, resident_id: str
) -> tuple[dict[str, Any], dict[str, Any] | None] | Response:
    r = await call(request, "GET", f"/residents/{resident_id}")
    if r.status_code != 200:
        return refused(request, r.status_code, "住民票", r)
    person = r.json()
    household = None
    if person.get("household_id"):
        h = await call(request, "GET", f"/households/{person['household_id']}")
        household = h.json() if h.status_code == 200 else None
    return person, household


def _json(r: Any) -> dict[str, Any]:
    try:
        data = r.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


Builder = Callable[[Form, Any], dict[str, Any]]


Done = Callable[[httpx.Response], Response | None]


async def _form_flow(
    request: Request, form: Form, action: str, api_path: str, build: Builder, done: Done,
    **context: Any,
) -> Response:  # fmt: skip
    """Show the form (GET), or send it (POST): ``done`` answers a success, else the form
    comes back with the API's messages beside the fields."""
    if request.method == "GET":
        # only an opaque id may come in the URL (a household to record into): never a
        # name or a date, which would be personal data in a URL
        values = {f.name: f.value for f in form.fields}
        if _OPAQUE_ID.fullmatch(household := request.query_params.get("household_id", "")):
            values["household_id"] = household
        return page(request, "form.html", title=form.title, form=form, action=action,
                    values=values, errors={}, **context)  # fmt: skip
    check_same_origin(request)
    data = await request.form()
    r = await call(request, "POST", api_path, build(form, data))
    answered = done(r) if r.status_code < 300 else None
    if answered is not None:
        return answered
    errors = field_errors(_json(r)) if r.status_code == 422 else {}
    problem = None if errors else problem_ja(r.status_code, _json(r))
    return page(request, "form.html", status=r.status_code, title=form.title, form=form,
                action=action, values=form.values(data), errors=errors, problem=problem,
                **context)  # fmt: skip


async def handle(
    request: Request, form: Form, action: str, api_path: str, build: Builder,
    then: Callable[[dict[str, Any]], str], **context: Any,
) -> Response:  # fmt: skip
    """A form whose success goes on to the page ``then`` names."""

    def done(r: httpx.Response) -> Response:
        return RedirectResponse(then(_json(r)), status_code=303)

    return await _form_flow(request, form, action, api_path, build, done, **context)


async def handle_pdf(
    request: Request, form: Form, action: str, api_path: str, build: Builder, **context: Any
) -> Response:
    """A form whose success is a PDF, handed to the browser as a file to print."""

    def done(r: httpx.Response) -> Response | None:
        if not r.headers.get("content-type", "").startswith("application/pdf"):
            return None
        headers = {"Content-Disposition": as_attachment(r.headers.get("content-disposition", ""))}
        return Response(r.content, media_type="application/pdf", headers=headers)

    return await _form_flow(request, form, action, api_path, build, done, **context)


def action_routes(router: APIRouter) -> None:
    methods = ["GET", "POST"]

    @router.api_route("/register", methods=methods)
    @signed_in
    async def register(request: Request) -> Response:
        return await handle(request, REGISTER, "/ui/register", "/residents",
                            lambda f, d: _body(f, d, {}),
                            lambda out: f"/ui/residents/{out['id']}")  # fmt: skip

    @router.get("/move-ins")
    @signed_in
    async def move_ins(request: Request) -> Response:
        r = await call(request, "GET", "/move-outs/incoming")
        if r.status_code != 200:
            return refused(request, r.status_code, "特例転入", r)
        title = "特例転入（転出証明書情報）"
        return page(request, "move_ins.html", title=title, notices=r.json())

    @router.api_route("/move-ins/{notice_id}", methods=methods)
    @signed_in
    async def move_in(request: Request, notice_id: OpaqueId) -> Response:
        r = await call(request, "GET", "/move-outs/incoming")
        notice = next((n for n in r.json() if n["notice_id"] == notice_id), None) if (
            r.status_code == 200) else None  # fmt: skip
        if notice is None:
            return refused(
                request, 404, "特例転入", "この転出証明書情報は未処理のものにありません。"
            )
        return await handle(request, special_move_in(notice), f"/ui/move-ins/{notice_id}",
                            "/residents", lambda f, d: _body(f, d, {"reason": "move_in"}),
                            lambda out: f"/ui/residents/{out['id']}")  # fmt: skip

    @router.api_route("/residents/{resident_id}/move", methods=methods)
    @signed_in
    async def move(request: Request, resident_id: OpaqueId) -> Response:
        return await _leaving(request, resident_id, "move")

    @router.api_route("/residents/{resident_id}/correct", methods=methods)
    @signed_in
    async def correct(request: Request, resident_id: OpaqueId) -> Response:
        return await _change(request, resident_id, CORRECT, "correct", {})

    @router.api_route("/residents/{resident_id}/former-surname", methods=methods)
    @signed_in
    async def former_surname(request: Request, resident_id: OpaqueId) -> Response:
        return await _change(request, resident_id, FORMER_SURNAME, "former-surname", {})

    @router.api_route("/residents/{resident_id}/alias", methods=methods)
    @signed_in
    async def alias(request: Request, resident_id: OpaqueId) -> Response:
        return await _change(request, resident_id, ALIAS, "alias", {})

    @router.api_route("/residents/{resident_id}/code", methods=methods)
    @signed_in
    async def code(request: Request, resident_id: OpaqueId) -> Response:
        return await _change(request, resident_id, CODE, "code", {"reason": "code_change"})

    @router.api_route("/residents/{resident_id}/move-out", methods=methods)
    @signed_in
    async def move_out(request: Request, resident_id: OpaqueId) -> Response:
        return await _leaving(request, resident_id, "move-out")

    @router.api_route("/residents/{resident_id}/delete", methods=methods)
    @signed_in
    async def delete(request: Request, resident_id: OpaqueId) -> Response:
        return await _leaving(request, resident_id, "delete")

    @router.api_route("/households/{household_id}/head", methods=methods)
    @signed_in
    async def head(request: Request, household_id: OpaqueId) -> Response:
        return await _head(request, household_id)


async def _change(request: Request, resident_id: str, form: Form, slug: str,
                  fixed: dict[str, Any]) -> Response:  # fmt: skip
    found = await subject(request, resident_id)
    if isinstance(found, Response):
        return found
    person, _ = found
    return await handle(request, form, f"/ui/residents/{resident_id}/{slug}",
                        f"/residents/{resident_id}/changes", lambda f, d: _body(f, d, fixed),
                        lambda _: f"/ui/residents/{resident_id}", subject=person)  # fmt: skip


_LEAVING = {  # kind: title, submit, confirmation
    "move": ("転居届", "転居を記録する", None),
    "move-out": ("転出届", "転出を記録する", "転出を記録します。よろしいですか？"),
    "delete": ("住民票の消除", "消除する", "住民票を消除します。元に戻せません。よろしいですか？"),
}
_FIRST = {
    "move": (Field("address", "新しい住所", required=True),),
    "move-out": (Field("next_address", "転出先の住所", required=True),
                 Field("next_municipality", "転出先の団体コード", hint="国外への転出は空欄")),
    "delete": (Field("reason", "異動事由", "select", (("death", "死亡"),
               ("ex_officio_deletion", "職権消除")), required=True),),
}  # fmt: skip
_FIXED = {"move": {"reason": "in_town_move"}, "move-out": {"reason": "move_out"}, "delete": {}}
_VERB = {"move": "転居", "move-out": "転出", "delete": None}


async def _leaving(request: Request, resident_id: str, kind: str) -> Response:
    """転居, 転出 or a deletion: the resident, whoever goes along, and the new head of
    those who stay when the head goes."""
    found = await subject(request, resident_id)
    if isinstance(found, Response):
        return found
    person, household = found
    title, submit, confirm = _LEAVING[kind]
    form = Form(title, (*_FIRST[kind], *DATES), submit, confirm=confirm,
                extra=_household_fields(person, household, verb=_VERB[kind]))  # fmt: skip
    return await handle(request, form, f"/ui/residents/{resident_id}/{kind}",
                        f"/residents/{resident_id}/changes",
                        lambda f, d: _leaving_body(_with_extra(f), d, _FIXED[kind]),
                        lambda _: f"/ui/residents/{resident_id}", subject=person)  # fmt: skip


def _with_extra(form: Form) -> Form:
    return Form(form.title, (*form.fields, *form.extra), form.submit)


async def _head(request: Request, household_id: str) -> Response:
    h = await call(request, "GET", f"/households/{household_id}")
    if h.status_code != 200:
        return refused(request, h.status_code, "世帯主変更", h)
    household = h.json()
    members = household["members"]
    form = Form(
        "世帯主変更",
        (Field("resident_id", "新しい世帯主", "select",
               tuple((m["id"], m["name"]) for m in members if m["id"] != household["head_id"]),
               required=True),
         *DATES),
        "世帯主を変更する",
        confirm="世帯主を変更します。よろしいですか？",
        extra=tuple(Field(f"relation:{m['id']}", f"{m['name']} の新しい世帯主との続柄")
                    for m in members),
    )  # fmt: skip

    def build(f: Form, data: Any) -> dict[str, Any]:
        body = _body(f, data, {})
        relations = {k.partition(":")[2]: str(v).strip() for k, v in data.items()
                     if k.startswith("relation:") and str(v).strip()
                     and k != f"relation:{body.get('resident_id')}"}  # fmt: skip
        return {**body, "relations": relations}

    if not members:
        return refused(request, 409, "世帯主変更", "この世帯には住民がいません。")
    first = next((m for m in members if m["id"] == household["head_id"]), members[0])
    return await handle(request, form, f"/ui/households/{household_id}/head",
                        f"/households/{household_id}/head", build,
                        lambda _: f"/ui/residents/{first['id']}")  # fmt: skip


Handler = Callable[..., Awaitable[Response]]
