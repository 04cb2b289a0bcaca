"""Validation errors a person can act on: for each error, the field path, what kind of
error it is, and a message in English and in Japanese — never the value submitted (it
may be a name or a resident code).

English is Pydantic's message or the validator's own (without Pydantic's "Value error, "
prefix); neither contains the input: Pydantic keeps the input apart, and jukinet's
validators name the rule, not the value. Japanese comes from the tables below — by the
validator's message where it is known, by Pydantic's error type otherwise — prefixed
with the field's Japanese name where there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["describe_errors"]

FIELDS_JA: dict[str, str] = {
    "name": "氏名", "name_kana": "ふりがな", "birth_date": "生年月日", "sex": "性別",
    "address": "住所", "resident_code": "住民票コード", "resident_codes": "住民票コード",
    "reason": "異動事由", "change_date": "異動年月日", "notified_on": "届出年月日",
    "previous_address": "前住所", "previous_municipality": "前住所地の市区町村",
    "next_address": "転出先", "next_municipality": "転出先の市区町村",
    "household_id": "世帯", "relation": "続柄", "registered_domicile": "本籍",
    "family_register_head": "筆頭者", "municipality": "市区町村", "affair": "事務",
    "purpose": "目的", "id_checked": "本人確認", "home_municipality": "住所地の市区町村",
    "members": "世帯員", "password": "パスワード", "individual_number": "個人番号",
    "add": "登録する住民票コード", "remove": "登録を外す住民票コード", "cursor": "カーソル",
    "limit": "件数", "former_surname": "旧氏", "former_surname_kana": "旧氏のふりがな",
    "nationality": "国籍・地域", "alias": "通称", "alias_kana": "通称のふりがな",
}  # fmt: skip

BY_TYPE_JA: dict[str, str] = {
    "missing": "必須項目です",
    "extra_forbidden": "この項目は指定できません",
    "string_type": "文字列で指定してください",
    "string_too_short": "入力が短すぎます",
    "string_too_long": "入力が長すぎます",
    "string_pattern_mismatch": "形式が正しくありません",
    "int_type": "整数で指定してください",
    "int_parsing": "整数で指定してください",
    "bool_type": "真偽値（true / false）で指定してください",
    "bool_parsing": "真偽値（true / false）で指定してください",
    "date_type": "日付（YYYY-MM-DD）で指定してください",
    "date_parsing": "日付（YYYY-MM-DD）で指定してください",
    "date_from_datetime_parsing": "日付（YYYY-MM-DD）で指定してください",
    "date_from_datetime_inexact": "日付（YYYY-MM-DD）で指定してください",
    "enum": "選択肢のいずれかを指定してください",
    "literal_error": "選択肢のいずれかを指定してください",
    "list_type": "配列で指定してください",
    "too_short": "件数が少なすぎます",
    "too_long": "件数が多すぎます",
    "greater_than_equal": "値が小さすぎます",
    "less_than_equal": "値が大きすぎます",
    "json_invalid": "JSONとして読み取れません",
    "model_attributes_type": "オブジェクトで指定してください",
    "dict_type": "オブジェクトで指定してください",
    "value_error": "入力内容に誤りがあります",
}

_MESSAGES_JA: tuple[tuple[str, str], ...] = (
    ("must not be blank", "空欄にはできません"),
    ("must not contain control or private-use characters", "制御文字や外字領域の文字は使えません"),
    ("kana reading is written in katakana", "ふりがなはカタカナで入力してください"),
    ("birth date is outside the possible range", "生年月日が有効な範囲にありません"),
    ("change date must fall between birth and today", "異動年月日は生年月日から今日までの日付です"),
    ("change_date cannot come before the birth date", "異動年月日は生年月日より前にできません"),
    ("notified_on cannot be in the future", "届出年月日に未来の日付は入力できません"),
    (
        "notified_on cannot come before the event (change_date)",
        "届出年月日は異動年月日より前にできません",
    ),
    ("a resident code has 11 digits", "住民票コードは11桁です"),
    ("a resident code contains only the ASCII digits 0-9", "住民票コードは半角数字のみです"),
    ("the check digit does not match", "検査数字が一致しません"),
    ("a local government code is 6 ASCII digits", "地方公共団体コードは半角数字6桁です"),
    (
        "the first two digits must name one of the 47 prefectures",
        "先頭2桁が都道府県を表していません",
    ),
    (
        "the check digit of the local government code does not match",
        "地方公共団体コードの検査数字が一致しません",
    ),
    (
        "a municipality code is required, not a prefecture code",
        "都道府県ではなく市区町村のコードを指定してください",
    ),
    ("a move-in needs previous_address (前住所)", "転入には前住所が必要です"),
    ("a move-out needs next_address (転出先)", "転出には転出先が必要です"),
    ("a move-in comes from another municipality", "転入は他の市区町村からのものです"),
    ("a birth is recorded with the birth date as change_date", "出生の異動年月日は生年月日です"),
    (
        "joining a household needs the relation to its head",
        "世帯に加えるには世帯主との続柄が必要です",
    ),
    ("a new household is headed by the resident (relation 世帯主)", "新しい世帯の世帯主は本人です"),
    (
        "a resident without household_id heads a new household",
        "世帯を指定しない住民は新しい世帯の世帯主です",
    ),
    (
        "a relation (続柄) is written in kanji or kana, e.g. 妻, 子, 同居人",
        "続柄は漢字かかなで入力してください（例：妻、子、同居人）",
    ),
    (
        "give name and birth_date (as on the ID), or the resident_code",
        "氏名と生年月日（本人確認書類のとおり）か住民票コードを指定してください",
    ),
    ("name and birth_date are given together", "氏名と生年月日は併せて指定してください"),
)
BY_MESSAGE_JA: dict[str, str] = dict(_MESSAGES_JA)

_PREFIXES = ("Value error, ", "Assertion failed, ")


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors as the problem document lists them (input and context dropped)."""
    return [_describe(error) for error in errors]


def _describe(error: Mapping[str, Any]) -> dict[str, Any]:
    loc = [str(part) for part in error.get("loc", ())]
    kind = str(error.get("type", "invalid"))
    message = str(error.get("msg", "")) or "invalid"
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    japanese = BY_MESSAGE_JA.get(message) or _by_start(message) or BY_TYPE_JA.get(kind)
    japanese = japanese or "入力内容に誤りがあります"
    field = next((FIELDS_JA[p] for p in reversed(loc) if p in FIELDS_JA), None)
    return {
        "loc": loc,
        "type": kind,
        "message": message,
        "message_ja": f"{field}: {japanese}" if field else japanese,
    }


def _by_start(message: str) -> str | None:
    """Messages that go on with detail (a count, a list of fields) match by their start."""
    for english, japanese in BY_MESSAGE_JA.items():
        if message.startswith(english):
            return japanese
    return None
