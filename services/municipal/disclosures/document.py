"""The printed disclosure (本人確認情報の提供状況の開示): for the resident, every provision
of their record each tier answered — when, to whom, for which affair, by which kind of
query, and which items — in the municipality's certificate font."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from fpdf.enums import XPos, YPos

from jukinet.contracts.era import to_era
from jukinet.contracts.prefectures import prefecture_name
from jukinet.contracts.principals import AGENCY, Principal
from municipal.copies.document import japanese_pdf

__all__ = ["TITLE", "render_disclosure"]

TITLE = "本人確認情報の提供状況の開示"
_JST = dt.timezone(dt.timedelta(hours=9), "JST")
_KINDS = {
    "by_code": "住民票コードによる照会",
    "by_facts": "四情報による照会",
    "batch": "一括照会",
    "changes": "異動情報の提供",
}
_FIELDS = {
    "status": "状態", "resident_code": "住民票コード", "name": "氏名", "name_kana": "ふりがな",
    "birth_date": "生年月日", "sex": "性別", "address": "住所", "change_reason": "異動事由",
    "change_date": "異動年月日", "municipality": "市区町村", "former_surname": "旧氏",
    "former_surname_kana": "旧氏のふりがな", "nationality": "国籍・地域", "alias": "通称",
    "alias_kana": "通称のふりがな", "individual_number": "個人番号",
}  # fmt: skip


def render_disclosure(
    *,
    issuer: str,
    resident_name: str,
    resident_code: str,
    issued_on: dt.date,
    answers: Mapping[str, Any],
) -> bytes:
    """The disclosure as an A4 PDF: a section per tier, a row per provision."""
    sections = [(_tier_name(uri), provisions) for uri, provisions in sorted(answers.items())]
    lines = [_line(p) for _, provisions in sections if isinstance(provisions, list)
             for p in provisions]  # fmt: skip
    texts = [issuer, resident_name, resident_code, *(name for name, _ in sections), *lines]
    with japanese_pdf(TITLE, issued_on, texts) as pdf:
        pdf.add_page()
        pdf.set_font_size(16)
        pdf.cell(0, 12, TITLE, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font_size(10.5)
        for text in (f"対象者　{resident_name}（住民票コード {resident_code}）",
                     f"交付　{to_era(issued_on)}　{issuer}"):  # fmt: skip
            pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for name, provisions in sections:
            pdf.ln(4)
            pdf.set_font_size(12)
            pdf.cell(0, 8, name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_font_size(9.5)
            for text in _section(provisions):
                pdf.multi_cell(0, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return bytes(pdf.output())


def _tier_name(uri: str) -> str:
    tier = Principal.parse(uri)
    if tier == AGENCY:
        return "地方公共団体情報システム機構（全国）"
    return f"{prefecture_name(tier.name)}（{tier.name}）"


def _section(provisions: Any) -> Sequence[str]:
    if not isinstance(provisions, list):
        return ["この機関はこの住民の本人確認情報を保存していません。"]
    if not provisions:
        return ["提供はありません。"]
    return [_line(p) for p in provisions]


def _line(p: Mapping[str, Any]) -> str:
    at = dt.datetime.fromisoformat(str(p["at"])).astimezone(_JST)
    to = p.get("organisation") or p.get("recipient", "")
    affair = p.get("title") or p.get("affair", "")
    kind = _KINDS.get(str(p.get("query_kind")), str(p.get("query_kind")))
    items = "・".join(_FIELDS.get(f, f) for f in p.get("fields", []))
    return f"{to_era(at.date())} {at:%H:%M}　{to}　{affair}（{kind}）　提供項目：{items or 'なし'}"
