"""The record's rules for a national's 旧氏 and a foreign resident's alphabet name, 通称
and nationality, as every tier checks them on receipt; errors name rules, never values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from jukinet.contracts.identity import IdentityRecord, name_key
from jukinet.contracts.residency import is_alphabet_name, nationality_label

BASE = {"resident_code": "12345678903", "municipality": "142034", "birth_date": "1990-01-01",
        "sex": "female", "address": "神奈川県平塚市浅間町9-9", "change_reason": "move_in",
        "change_date": "2024-04-01"}  # fmt: skip


def _record(**fields: Any) -> IdentityRecord:
    return IdentityRecord.model_validate(BASE | fields)


def test_a_foreign_resident_has_an_alphabet_name_a_nationality_and_may_have_an_alias() -> None:
    record = _record(name="GARCÍA O'NEILL, MARÍA-JOSÉ", nationality="ph", alias="山田 花子",
                     alias_kana="ヤマダ ハナコ")  # fmt: skip
    assert record.nationality == "PH"  # one spelling of the code
    assert _record(name="ABDUL", nationality="XX").nationality == "XX"  # stateless


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"name": "グエン ヴァン アン", "nationality": "VN"}, "Latin alphabet"),
        ({"name": "阮 文安", "nationality": "VN"}, "Latin alphabet"),
        ({"name": "NGUYEN", "nationality": "ZZ"}, "ISO 3166-1"),
        ({"name": "NGUYEN", "nationality": "VNM"}, "at most 2"),
        ({"name": "山田 花子", "alias": "花"}, "foreign resident only"),
        ({"name": "NGUYEN", "nationality": "VN", "former_surname": "グエン"}, "national only"),
        ({"name": "山田 花子", "former_surname_kana": "スズキ"}, "reads a former_surname"),
        ({"name": "NGUYEN", "nationality": "VN", "alias_kana": "ナ"}, "reads an alias"),
        ({"name": "山田 花子", "former_surname": "鈴木", "former_surname_kana": "すずき"},
         "katakana"),
    ],
)  # fmt: skip
def test_each_kind_of_resident_keeps_its_rules(fields: dict[str, Any], rule: str) -> None:
    with pytest.raises(ValidationError, match=rule) as caught:
        _record(**fields)
    for value in fields.values():
        assert str(caught.value.errors(include_input=False)).count(value) == 0


def test_a_national_may_have_a_former_surname() -> None:
    record = _record(name="山田 花子", former_surname="鈴木", former_surname_kana="スズキ")
    assert (record.former_surname, record.nationality, record.alias) == ("鈴木", None, None)


def test_the_register_writes_nationalities_as_the_residence_card_does() -> None:
    assert [nationality_label(c) for c in ("VN", "TW", "KR", "XX", "BR")] == [
        "ベトナム", "台湾", "韓国", "無国籍", "ブラジル",
    ]  # fmt: skip


def test_alphabet_names_and_their_search_key() -> None:
    assert is_alphabet_name("DE LA CRUZ, JUAN")
    assert not is_alphabet_name("-,.")
    assert not is_alphabet_name("ΑΛΕΞΑΝΔΡΟΣ")  # Greek is not the residence card's alphabet
    assert name_key("SMITH JOHN") == name_key("Smith John") == name_key("ＳＭＩＴＨ　ＪＯＨＮ")
