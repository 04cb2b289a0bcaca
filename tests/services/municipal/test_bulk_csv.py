"""A register file's rows are judged as every tier will judge them: a birth in the future
or a change before the birth is a line-numbered rejection naming the rule, never an
internal error later (it used to fail the whole import with a 500)."""

from __future__ import annotations

import pytest

from municipal.bulk.csvformat import RowError, UnreadableRegister, decode_register, parse_register

HEADER = "name,name_kana,birth_date,sex,address,reason,change_date\n"
ADDRESS = "神奈川県平塚市浅間町1-1"


def test_impossible_dates_are_rejected_with_their_line() -> None:
    text = HEADER + (
        f"山田 太郎,ヤマダ タロウ,1980-01-01,1,{ADDRESS},ex_officio_record,1980-01-01\n"
        f"山田 花子,ヤマダ ハナコ,2099-01-01,2,{ADDRESS},birth,\n"
        f"山田 次郎,ヤマダ ジロウ,1980-01-01,1,{ADDRESS},ex_officio_record,2099-01-01\n"
        f"山田 三郎,ヤマダ サブロウ,1850-01-01,1,{ADDRESS},ex_officio_record,1990-01-01\n"
    )
    rows, errors = parse_register(text)
    assert len(rows) == 1
    assert errors == [
        RowError(3, "birth date is outside the possible range"),
        RowError(4, "change date must fall between birth and today"),
        RowError(5, "birth date is outside the possible range"),
    ]
    for error in errors:
        assert "2099" not in error.problem  # rules, not values


def test_a_malformed_value_names_the_column() -> None:
    rows, errors = parse_register(HEADER + f"山田 太郎,やまだ,1980-13-01,1,{ADDRESS},,1980-01-01\n")
    assert rows == []
    [error] = errors
    assert error.line == 2
    assert "birth_date" in error.problem
    assert "name_kana: kana reading is written in katakana" in error.problem


def test_foreign_residents_and_former_surnames_keep_their_rules() -> None:
    header = HEADER.rstrip("\n") + ",former_surname,nationality,alias\n"
    rows, errors = parse_register(header + (
        f"SMITH JOHN,,1980-01-01,1,{ADDRESS},,1980-01-01,,US,須見 譲\n"
        f"山田 花子,ヤマダ ハナコ,1980-01-01,2,{ADDRESS},,1980-01-01,佐藤,,\n"
        f"スミス ジョン,,1980-01-01,1,{ADDRESS},,1980-01-01,,US,\n"
        f"山田 太郎,ヤマダ タロウ,1980-01-01,1,{ADDRESS},,1980-01-01,,,須見\n"
    ))  # fmt: skip
    assert [(r.nationality, r.alias, r.former_surname) for r in rows] == [
        ("US", "須見 譲", None), (None, None, "佐藤"),
    ]  # fmt: skip
    assert [(e.line, e.problem) for e in errors] == [
        (4, "a foreign resident's name is written in the Latin alphabet"),
        (5, "an alias (通称) is recorded for a foreign resident only"),
    ]


def test_the_encoding_is_the_one_named_or_found() -> None:
    text = HEADER + f"髙橋 﨑子,タカハシ サキコ,1980-01-01,2,{ADDRESS},,1980-01-01\n"
    assert decode_register(text.encode("cp932"), "text/csv; charset=Shift_JIS") == text
    assert decode_register(text.encode("cp932"), "text/csv") == text  # found by itself
    assert decode_register(b"\xef\xbb\xbf" + text.encode(), "text/csv") == text  # BOM dropped
    with pytest.raises(UnreadableRegister, match="not utf-8"):
        decode_register(text.encode("cp932"), 'text/csv; charset="utf-8"')
    with pytest.raises(UnreadableRegister, match="euc-jp is not read"):
        decode_register(HEADER.encode("euc-jp"), "text/csv; charset=euc-jp")
    with pytest.raises(UnreadableRegister, match="not UTF-8 or Shift_JIS"):
        decode_register(b"\x81\x39\xff\xfe", "text/csv")


def test_docs_import_md_documents_every_column_and_reason() -> None:
    """docs/import.md is the municipality's reference: its tables are the code's."""
    from pathlib import Path

    from jukinet.contracts.identity import ChangeCategory, ChangeReason
    from municipal.bulk.csvformat import COLUMNS, REQUIRED

    text = (Path(__file__).resolve().parents[3] / "docs" / "import.md").read_text()
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| `")]
    cells = {row[0].strip().strip("`"): [c.strip() for c in row[1:]] for row in rows}
    columns = [name for name in cells if cells[name][0] in ("yes", "no")]
    assert columns == list(COLUMNS)
    assert [c for c in columns if cells[c][0] == "yes"] == list(REQUIRED)
    recordings = [r.value for r in ChangeReason if r.category is ChangeCategory.RECORD]
    reasons = [name for name in cells if name not in COLUMNS]
    assert reasons == recordings
    assert all(cells[r][0] == ChangeReason(r).label for r in reasons)
