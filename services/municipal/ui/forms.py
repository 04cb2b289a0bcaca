"""The counter's forms: each is a list of labelled fields rendered by one template, sent
to one API call; the API's messages come back in Japanese beside the field they name
(or above the form when they concern it as a whole)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Field", "Form", "as_attachment", "problem_ja"]


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, date, select, checkbox, checkboxes, hidden
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    required: bool = False
    hint: str = ""
    value: str = ""  # a preset value (hidden fields, defaults)


@dataclass(frozen=True)
class Form:
    title: str
    fields: tuple[Field, ...]
    submit: str
    confirm: str | None = None  # asked before sending (destructive actions)
    intro: str = ""
    extra: tuple[Field, ...] = field(default=())

    def values(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """What the clerk entered, by field, for showing the form again."""
        shown: dict[str, Any] = {}
        for f in (*self.fields, *self.extra):
            if f.kind == "checkboxes":
                shown[f.name] = list(data.getlist(f.name)) if hasattr(data, "getlist") else []
            else:
                shown[f.name] = data.get(f.name, f.value)
        return shown


# what the API's problem types mean at the counter
_PROBLEMS_JA = {
    "head-leaves": "世帯主が世帯を離れ、世帯員が残ります。"
    "同じ届出で新しい世帯主と続柄を指定してください。",
    "resident-deleted": "この住民票は消除されています。",
    "household-change-invalid": "世帯の変更として正しくありません。",
    "already-registered": "この住民票コードの住民はすでに記録されています。",
    "own-municipality": "転入は他の市区町村からのものです（市内の移動は転居で届け出てください）。",
    "code-mismatch": "住民票コードが転出証明書の内容と一致しません。",
    "copy-refused": "住所地の市区町村が写しの交付を認めませんでした。",
    "copy-person-not-found": "住所地の市区町村に、本人確認書類と一致する住民がいません。",
    "copy-not-issued": "指定された内容では写しを交付できません。",
    "copy-home-unavailable": "住所地の市区町村に接続できません。時間をおいてやり直してください。",
    "own-copy-refused": "この住民の写しは交付できません。",
    "own-copy-not-issued": "指定された内容では写しを交付できません。",
    "code-pool-exhausted": "住民票コードの在庫がありません。機構からの補充を待ってください。",
    "notice-closed": "この転出証明書情報は使えません（処理済み、または期限切れ）。"
    "転出証明書による通常の転入届を受け付けてください。",
    "notice-mismatch": "本人の氏名・生年月日・性別または転入日が転出証明書情報と一致しません。",
    "residency-mismatch": "日本人住民と外国人住民の別に合わない記載です"
    "（通称は外国人住民、旧氏は日本人住民のみ）。",
    "nothing-recorded": "削除する旧氏・通称が記載されていません。",
    "forbidden": "この操作を行う権限がありません。",
    "not-found": "該当するものが見つかりません。",
    "unauthorized": "ログインし直してください。",
}
_BY_STATUS_JA = {
    401: _PROBLEMS_JA["unauthorized"],
    403: _PROBLEMS_JA["forbidden"],
    404: _PROBLEMS_JA["not-found"],
    409: "現在の記録と矛盾するため処理できません。",
    423: "この職員はロックされています。",
}


def problem_ja(status: int, problem: Mapping[str, Any]) -> str:
    """The Japanese for a problem document the API answered."""
    kind = str(problem.get("type", "")).rsplit("/", 1)[-1]
    known = _PROBLEMS_JA.get(kind) or _BY_STATUS_JA.get(status)
    if known:
        return known
    return "処理できませんでした。内容を確認してやり直してください。"


def as_attachment(disposition: str) -> str:
    """A PDF the counter hands over is saved, named as the API names it, then opened and
    printed (the browser's viewer would otherwise hold it in the tab)."""
    name = disposition.partition("filename=")[2] or '"document.pdf"'
    return f"attachment; filename={name}"
