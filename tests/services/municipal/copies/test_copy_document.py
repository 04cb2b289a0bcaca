"""The certified copy PDF: what it says, what it leaves off, and that its font is embedded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from jukinet.contracts.ids import resident_code_check_digit
from municipal.copies import document
from municipal.copies.document import (
    CERTIFICATION,
    OWN_TITLE,
    TITLE,
    CertifiedCopy,
    CopyEntry,
    FontUnavailable,
    MissingGlyph,
    OwnCopyEntry,
    render_pdf,
)
from tests.pdftext import fonts_of, page_lines, read, text_of

BODY = "1234567890"
RESIDENT_CODE = BODY + str(resident_code_check_digit(BODY))

HEAD = CopyEntry(
    name="山田　太郎",
    name_kana="やまだ　たろう",
    birth_date=dt.date(1989, 1, 7),
    sex="male",
    address="神奈川県平塚市浅間町1番1号",
    became_resident_date=dt.date(2019, 5, 1),
    change_reason_label="転入",
    change_date=dt.date(2019, 5, 1),
    previous_address="東京都千代田区霞が関二丁目1番2号",
    household_head="山田　太郎",
    resident_code=RESIDENT_CODE,
    relation="世帯主",
)
SPOUSE = CopyEntry(
    name="山田　髙子",
    name_kana=None,
    birth_date=dt.date(1989, 1, 8),
    sex="female",
    address="神奈川県平塚市浅間町1番1号",
    became_resident_date=None,
    change_reason_label="転入",
    change_date=dt.date(2019, 4, 30),
    previous_address=None,
    household_head="山田　太郎",
)
COPY = CertifiedCopy(
    issuer_name="平塚市",
    issuer_code="142034",
    mayor="平塚市長　山田太郎",
    issue_date=dt.date(2026, 11, 26),
    home_name="横浜市",
    home_code="141003",
    serial="第2026-000123号",
    entries=[HEAD, SPOUSE],
)


@pytest.fixture(scope="module")
def rendered() -> bytes:
    return render_pdf(COPY)


@pytest.fixture(scope="module")
def text(rendered: bytes) -> str:
    return text_of(rendered)


def test_is_an_a4_pdf(rendered: bytes) -> None:
    assert rendered.startswith(b"%PDF-")
    box = read(rendered).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_has_title_names_and_addresses(text: str) -> None:
    for expected in (
        TITLE,
        "山田　太郎",
        "やまだ　たろう",
        "山田　髙子",
        "神奈川県平塚市浅間町1番1号",
    ):
        assert expected in text
    assert "東京都千代田区霞が関二丁目1番2号" in text  # 前住所, given for the head only
    assert "神奈川県横浜市（141003）" in text  # the home municipality, with its prefecture
    assert "第2026-000123号" in text


def test_dates_are_in_era_form(text: str) -> None:
    assert "昭和64年1月7日" in text  # birth dates
    assert "平成元年1月8日" in text
    assert "令和元年5月1日" in text  # became resident
    assert "平成31年4月30日　転入" in text  # change date and reason
    assert "令和8年11月26日" in text  # issue date
    assert "1989" not in text
    assert "2019" not in text


def test_sex_is_printed_in_kanji(text: str) -> None:
    lines = text.splitlines()
    assert [lines[i + 1] for i, line in enumerate(lines) if line == "性別"] == ["男", "女"]


def test_certification_issuer_mayor_and_the_seal_space_close_the_document(text: str) -> None:
    tail = text.splitlines()[-7:]
    assert tail[:6] == [
        "以下余白",
        CERTIFICATION,
        "令和8年11月26日",
        "交付市区町村　平塚市（142034）",
        "平塚市長　山田太郎",
        "公印",  # the square left for the official seal
    ]
    assert tail[6] == "1/1"


def test_resident_code_and_relation_are_printed_only_for_the_entry_that_has_them(
    text: str,
) -> None:
    head, spouse = text.split("（2）")
    assert "住民票コード" in head
    assert RESIDENT_CODE in head
    assert "続柄\n世帯主" in head
    assert "住民票コード" not in spouse
    assert "続柄" not in spouse
    assert "ふりがな" not in spouse  # likewise for any field that is None
    assert "前住所" not in spouse


def test_without_special_request_neither_code_nor_relation_appears() -> None:
    plain = dataclasses.replace(HEAD, resident_code=None, relation=None)
    text = text_of(render_pdf(dataclasses.replace(COPY, entries=[plain])))
    assert "住民票コード" not in text
    assert RESIDENT_CODE not in text
    assert "続柄" not in text


def test_register_domicile_cannot_be_given() -> None:
    fields = {f.name for f in dataclasses.fields(CopyEntry)} | {
        f.name for f in dataclasses.fields(CertifiedCopy)
    }
    assert not fields & {"domicile", "honseki", "registered_domicile", "family_head", "hittousha"}
    with pytest.raises(TypeError):
        dataclasses.replace(HEAD, honseki="東京都千代田区千代田1番")  # type: ignore[call-arg]


def test_font_is_a_real_embedded_japanese_font(rendered: bytes) -> None:
    fonts = [ref.get_object() for page in read(rendered).pages for ref in fonts_of(page).values()]
    assert fonts
    for font in fonts:  # no font is left to the viewer, not even for the footer
        assert font["/Subtype"] == "/Type0"
        assert re.fullmatch(r"/[A-Z]{6}\+Noto(Serif|Sans)JP", font["/BaseFont"])
        descendant = font["/DescendantFonts"][0].get_object()
        descriptor = descendant["/FontDescriptor"].get_object()
        program = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
        assert program is not None
        assert len(program.get_object().get_data()) > 1000  # glyph outlines, not a stub
    assert len(rendered) < 200_000  # subset: not the whole 6 MB font


def test_same_copy_gives_the_same_bytes(rendered: bytes) -> None:
    assert render_pdf(COPY) == rendered
    meta = read(rendered).metadata
    assert meta is not None
    assert meta.title == TITLE
    assert str(meta["/CreationDate"]).startswith("D:20261126000000+09")


def test_a_long_household_runs_onto_numbered_pages() -> None:
    entries = [dataclasses.replace(SPOUSE, name=f"山田　子{i}") for i in range(12)]
    pdf = render_pdf(dataclasses.replace(COPY, entries=entries))
    pages = [page_lines(page) for page in read(pdf).pages]
    count = len(pages)
    assert count > 1
    assert [lines[-1] for lines in pages] == [f"{n}/{count}" for n in range(1, count + 1)]
    all_lines = [line for lines in pages for line in lines]
    assert [f"山田　子{i}" for i in range(12)] == [n for n in all_lines if n.startswith("山田　子")]
    assert CERTIFICATION in pages[-1]
    assert "平塚市長　山田太郎" in pages[-1]


def test_no_entries_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        dataclasses.replace(COPY, entries=[])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "  "}, "name must not be blank"),
        ({"address": "平塚市\n浅間町"}, "line breaks"),
        ({"sex": "other"}, "sex must be"),
        ({"resident_code": "12345678901"}, "resident_code: the check digit"),
        ({"change_date": dt.date(1980, 1, 1)}, "change_date is before birth_date"),
        ({"relation": ""}, "relation must not be blank"),
    ],
)
def test_bad_entry_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(HEAD, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer_code": "142035"}, "issuer_code: the check digit"),
        ({"home_code": "140007"}, "home_code names a prefecture"),
        ({"mayor": ""}, "mayor must not be blank"),
    ],
)
def test_bad_copy_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(COPY, **changes)  # type: ignore[arg-type]


def test_entry_longer_than_a_page_is_refused_rather_than_run_off_the_paper() -> None:
    sprawling = dataclasses.replace(SPOUSE, address="平塚市浅間町" * 600)
    with pytest.raises(ValueError, match="too long to print on one page"):
        render_pdf(dataclasses.replace(COPY, entries=[sprawling]))


def test_date_before_the_gregorian_calendar_is_not_printed() -> None:
    old = dataclasses.replace(SPOUSE, birth_date=dt.date(1870, 1, 1))
    with pytest.raises(ValueError, match="Gregorian"):
        render_pdf(dataclasses.replace(COPY, entries=[old]))


def test_character_outside_the_font_is_refused_not_printed_as_a_box() -> None:
    korean = dataclasses.replace(SPOUSE, name="한국")
    with pytest.raises(MissingGlyph) as caught:
        render_pdf(dataclasses.replace(COPY, entries=[korean]))
    assert caught.value.codepoints == ("U+AD6D", "U+D55C")
    assert "한" not in str(caught.value)  # code points only: no personal data in logs


def test_missing_font_package_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document, "FONT_PACKAGE", "no_such_font_package")
    with pytest.raises(FontUnavailable, match="pylopdf-fonts-jp"):
        render_pdf(COPY)


def _own(**fields: object) -> CertifiedCopy:
    head = OwnCopyEntry(**{f.name: getattr(HEAD, f.name) for f in dataclasses.fields(HEAD)},
                        **fields)  # fmt: skip
    return dataclasses.replace(COPY, home_name="平塚市", home_code="142034", kind="own",
                               entries=[head])  # fmt: skip


def test_a_copy_from_the_own_register_shows_domicile_only_when_asked() -> None:
    plain = text_of(render_pdf(_own()))
    assert plain.splitlines()[0] == OWN_TITLE
    assert TITLE not in plain
    assert "本籍" not in plain
    assert "筆頭者" not in plain
    asked = text_of(render_pdf(_own(registered_domicile="神奈川県平塚市浅間町1番地",
                                    family_register_head="山田　一郎")))  # fmt: skip
    lines = asked.splitlines()
    assert lines[lines.index("本籍") + 1] == "神奈川県平塚市浅間町1番地"
    assert lines[lines.index("筆頭者") + 1] == "山田　一郎"
    assert "神奈川県平塚市（142034）" in asked


def test_a_nationwide_copy_cannot_carry_the_domicile() -> None:
    with pytest.raises(TypeError, match="本籍"):
        dataclasses.replace(_own(), kind="nationwide", home_name="横浜市", home_code="141003")


def test_a_copy_from_the_own_register_is_issued_by_the_home_town() -> None:
    with pytest.raises(ValueError, match="home municipality"):
        dataclasses.replace(_own(), home_code="141003")
