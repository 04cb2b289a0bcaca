"""The certified copy (住民票の写し) in the unified format, rendered as an A4 PDF: issued
nationwide (広域交付) or from the municipality's own register.

Pure: a :class:`CertifiedCopy` goes in, PDF bytes come out; no I/O besides reading the
font that a dependency ships. The nationwide-copy flow builds the model from the home
municipality's reply and serves the bytes.

What the model cannot say. There is no field for 本籍 (registered domicile) or 筆頭者
(head of the family register): a copy issued at another municipality always leaves them
off, and the home municipality never sends them over the network, so the type makes it
impossible to print them by mistake rather than relying on a flag. The resident code
(住民票コード) and the relation to the household head (続柄) are left off unless the
applicant specially asked for them; the flow expresses that by passing None, and
nothing is printed for None — not even an empty row.

Library: fpdf2, pure Python, embeds and subsets the font (only the glyphs used end up in
the file: a copy is about 20 KB rather than the font's 6 MB). ReportLab was the other
candidate but embeds only TrueType outlines, and the Japanese font available as a wheel
is OpenType/CFF, which fpdf2 embeds as a CID-keyed CFF (FontFile3) with an explicit
code-to-CID CMap.

Font: Noto Serif JP (明朝 style, SIL OFL 1.1), the Japanese subset from the upstream
noto-cjk project, as shipped by the data-only wheel ``pylopdf-fonts-jp``. It is located
with importlib.resources; when it is missing, :class:`FontUnavailable` says which
package to install. A character the font lacks raises :class:`MissingGlyph` instead of
printing a blank box on a certificate.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.enums import Align, MethodReturnValue, WrapMode, XPos, YPos
from fpdf.fonts import TTFFont

from jukinet.contracts.era import to_era
from jukinet.contracts.ids import explain_resident_code, parse_local_government_code
from jukinet.contracts.mynumber import is_individual_number
from jukinet.contracts.prefectures import prefecture_name
from jukinet.contracts.residency import nationality_label

__all__ = [
    "CERTIFICATION",
    "FONT_FILE",
    "FONT_PACKAGE",
    "OWN_TITLE",
    "SEAL",
    "TITLE",
    "CertifiedCopy",
    "CopyEntry",
    "CopyKind",
    "FontUnavailable",
    "MissingGlyph",
    "OwnCopyEntry",
    "Sex",
    "japanese_pdf",
    "render_pdf",
]

TITLE = "住民票の写し（広域交付）"
OWN_TITLE = "住民票の写し"  # issued from the municipality's own register
SEAL = "公印"
CERTIFICATION = "この写しは、住民票の原本と相違ないことを証明する。"
FONT_PACKAGE = "pylopdf_fonts_jp"
FONT_FILE = "NotoSerifJP-Regular.otf"

Sex = Literal["male", "female"]
CopyKind = Literal["nationwide", "own"]
_SEAL_MM = 24.0  # the square left free for the official seal, beside the mayor
_SEX_LABELS: dict[str, str] = {"male": "男", "female": "女"}
_JST = dt.timezone(dt.timedelta(hours=9), "JST")
_FONT = "NotoSerifJP"
# Control, format, surrogate, private-use and unassigned characters, and line breaks.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

# Layout in millimetres (A4 is 210 x 297).
_MARGIN = 15.0
_FOOTER_HEIGHT = 12.0
_LABEL_WIDTH = 42.0
_LINE = 6.0
_PAD = 1.5
_BODY_PT = 10.5


class FontUnavailable(RuntimeError):
    """The Japanese font is not installed; the message names the package that ships it."""


class MissingGlyph(ValueError):
    """Some text has characters the font cannot draw.

    ``codepoints`` lists them as ``U+XXXX`` only, so logs do not repeat personal data.
    """

    def __init__(self, codepoints: Sequence[str]) -> None:
        super().__init__(f"the font has no glyph for {', '.join(codepoints)}")
        self.codepoints = tuple(codepoints)


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyEntry:
    """One person on the copy, as the home municipality reported them.

    ``resident_code`` and ``relation`` (続柄, e.g. 世帯主, 妻, 子) are printed only when
    not None: they are on the copy only at the applicant's special request.
    """

    name: str
    name_kana: str | None
    birth_date: dt.date
    sex: Sex
    address: str
    became_resident_date: dt.date | None
    change_reason_label: str
    change_date: dt.date
    previous_address: str | None
    household_head: str | None
    resident_code: str | None = None
    relation: str | None = None
    former_surname: str | None = None  # 旧氏: on the copy whenever recorded
    former_surname_kana: str | None = None
    nationality: str | None = None  # a foreign resident's, as an ISO 3166-1 code
    alias: str | None = None  # 通称
    alias_kana: str | None = None

    def __post_init__(self) -> None:
        for label, value in (
            ("name", self.name),
            ("address", self.address),
            ("change_reason_label", self.change_reason_label),
        ):
            _require_text(label, value)
        for label, optional in (
            ("name_kana", self.name_kana),
            ("previous_address", self.previous_address),
            ("household_head", self.household_head),
            ("relation", self.relation),
            ("former_surname", self.former_surname),
            ("alias", self.alias),
        ):
            if optional is not None:
                _require_text(label, optional)
        if self.sex not in _SEX_LABELS:
            raise ValueError(f"sex must be 'male' or 'female', got {self.sex!r}")
        if self.resident_code is not None and (reason := explain_resident_code(self.resident_code)):
            raise ValueError(f"resident_code: {reason}")
        self._check_dates()

    def _check_dates(self) -> None:
        """No event of a person's record precedes their birth; catch swapped fields early."""
        for label, day in (
            ("change_date", self.change_date),
            ("became_resident_date", self.became_resident_date),
        ):
            if day is not None and day < self.birth_date:
                raise ValueError(f"{label} is before birth_date")


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnCopyEntry(CopyEntry):
    """A person on a copy issued from the municipality's own register (本庁交付), which
    may also show 本籍 and 筆頭者 — printed only when the applicant specially asked for
    them (住民基本台帳法第12条第5項), so None means "not asked"; so is 個人番号. A
    nationwide copy refuses entries of this type: those items never leave the home
    municipality."""

    registered_domicile: str | None = None
    family_register_head: str | None = None
    individual_number: str | None = None  # 個人番号, likewise only when specially asked

    def __post_init__(self) -> None:
        CopyEntry.__post_init__(self)
        if self.individual_number is not None and not is_individual_number(self.individual_number):
            raise ValueError("individual_number is not a valid individual number")
        for label, value in (
            ("registered_domicile", self.registered_domicile),
            ("family_register_head", self.family_register_head),
        ):
            if value is not None:
                _require_text(label, value)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertifiedCopy:
    """A whole certificate: who issues it, for which home municipality, and the people on it.

    ``mayor`` is the title and name as printed, e.g. ``平塚市長　山田太郎``. ``entries``
    may be given as any sequence and is stored as a tuple.
    """

    issuer_name: str
    issuer_code: str
    mayor: str
    issue_date: dt.date
    home_name: str
    home_code: str
    serial: str
    entries: Sequence[CopyEntry]
    kind: CopyKind = "nationwide"

    @property
    def title(self) -> str:
        return OWN_TITLE if self.kind == "own" else TITLE

    def __post_init__(self) -> None:
        for label, value in (
            ("issuer_name", self.issuer_name),
            ("mayor", self.mayor),
            ("home_name", self.home_name),
            ("serial", self.serial),
        ):
            _require_text(label, value)
        _require_municipality("issuer_code", self.issuer_code)
        _require_municipality("home_code", self.home_code)
        entries = tuple(self.entries)
        if not entries:
            raise ValueError("a certified copy needs at least one entry")
        if not all(isinstance(entry, CopyEntry) for entry in entries):
            raise TypeError("entries must be CopyEntry instances")
        if self.kind == "nationwide" and any(isinstance(e, OwnCopyEntry) for e in entries):
            raise TypeError("a nationwide copy cannot carry 本籍 or 筆頭者")
        if self.kind == "own" and self.issuer_code != self.home_code:
            raise ValueError("a copy from the own register is issued by the home municipality")
        object.__setattr__(self, "entries", entries)


def _require_text(label: str, value: object) -> None:
    """Non-blank, one line, printable: anything else would corrupt the printed layout."""
    if not isinstance(value, str):
        raise TypeError(f"{label} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{label} must not be blank")
    if any(unicodedata.category(char) in _UNPRINTABLE for char in value):
        raise ValueError(f"{label} must not contain control characters or line breaks")


def _require_municipality(label: str, code: str) -> None:
    """A valid 6-digit local government code that names a municipality, not a prefecture."""
    try:
        parsed = parse_local_government_code(code)
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from exc
    if parsed.is_prefecture:
        raise ValueError(f"{label} names a prefecture; copies are issued by municipalities")


def render_pdf(copy: CertifiedCopy) -> bytes:
    """Render ``copy`` as an A4 PDF with the Japanese font embedded (subset).

    The output is a pure function of ``copy`` (and the font and fpdf2 versions): the
    creation date is the issue date at 00:00 JST and the file ID is a hash of the
    content. Raises :class:`MissingGlyph`, :class:`FontUnavailable`, or ValueError for a
    date that cannot be printed in era form.
    """
    with _font_path() as font_path:
        pdf = _new_document(copy, font_path)
        try:
            _check_glyphs(pdf, _texts(copy))
            pdf.add_page()
            _draw_heading(pdf, copy)
            for number, entry in enumerate(copy.entries, start=1):
                _draw_entry(pdf, number, entry)
            _draw_certification(pdf, copy)
            return bytes(pdf.output())
        finally:
            _close_fonts(pdf)


@contextmanager
def japanese_pdf(title: str, day: dt.date, texts: Iterable[str]) -> Iterator[FPDF]:
    """An A4 document in the certificates' font and layout conventions (page numbers,
    fixed metadata for ``day``), for other municipal documents; ``texts`` are checked
    for glyphs the font lacks before anything is drawn. Font files are closed after."""
    with _font_path() as font_path:
        pdf = _CopyPDF(orientation="P", unit="mm", format="A4")
        pdf.add_font(_FONT, fname=font_path)
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        pdf.set_auto_page_break(auto=True, margin=_MARGIN + _FOOTER_HEIGHT)
        pdf.set_creation_date(dt.datetime.combine(day, dt.time(0), tzinfo=_JST))
        pdf.set_title(title)
        pdf.set_creator("jukinet")
        pdf.set_producer("jukinet")
        pdf.set_lang("ja")
        try:
            _check_glyphs(pdf, [title, *texts])
            pdf.set_font(_FONT, size=_BODY_PT)
            yield pdf
        finally:
            _close_fonts(pdf)


def _close_fonts(pdf: FPDF) -> None:
    """Close the font files fontTools keeps open (lazily read) instead of leaving them
    to the garbage collector, which warns about each."""
    for font in pdf.fonts.values():
        if isinstance(font, TTFFont):
            font.ttfont.close()


@contextmanager
def _font_path() -> Iterator[Path]:
    """A filesystem path to the font for as long as the PDF is being built.

    fpdf2 wants a path and fontTools may read it lazily, so the whole render runs inside
    this context (``as_file`` only copies when the package is installed zipped).
    """
    try:
        resource = files(FONT_PACKAGE).joinpath(FONT_FILE)
    except ModuleNotFoundError as exc:
        raise FontUnavailable(
            f"the Japanese font package is not installed: install 'pylopdf-fonts-jp' "
            f"(it ships {FONT_FILE})"
        ) from exc
    if not resource.is_file():
        raise FontUnavailable(f"{FONT_PACKAGE} is installed but has no {FONT_FILE}")
    with as_file(resource) as path:
        yield path


class _CopyPDF(FPDF):
    """FPDF with a page-number footer ("1/2"): a multi-page copy must show it is whole."""

    def footer(self) -> None:
        self.set_y(-_FOOTER_HEIGHT + 2)
        self.set_font(_FONT, size=9)
        self.cell(0, 5, f"{self.page_no()}/{{nb}}", align=Align.C)


def _new_document(copy: CertifiedCopy, font_path: Path) -> FPDF:
    """A4 document with fixed metadata, so equal copies give equal bytes."""
    pdf = _CopyPDF(orientation="P", unit="mm", format="A4")
    pdf.add_font(_FONT, fname=font_path)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    # Page breaks are decided per block by _ensure_room, never in the middle of a row.
    pdf.set_auto_page_break(auto=False)
    pdf.set_creation_date(dt.datetime.combine(copy.issue_date, dt.time(0), tzinfo=_JST))
    pdf.set_title(copy.title)
    pdf.set_subject(f"{copy.issuer_name} {copy.serial}")
    pdf.set_creator("jukinet")
    pdf.set_producer("jukinet")
    pdf.set_lang("ja")
    return pdf


def _texts(copy: CertifiedCopy) -> Iterator[str]:
    """Every string that will be drawn, so missing glyphs are found before drawing."""
    yield copy.title
    yield SEAL
    yield from (text for row in _heading_rows(copy) for text in row)
    yield from _certification_lines(copy)
    yield "以下余白"
    for entry in copy.entries:
        yield from (text for row in _entry_rows(entry) for text in row)


def _check_glyphs(pdf: FPDF, texts: Iterable[str]) -> None:
    font = pdf.fonts[_FONT.lower()]
    if not isinstance(font, TTFFont):  # pragma: no cover - add_font always makes a TTFFont
        raise TypeError("expected an embedded TrueType/OpenType font")
    missing = sorted({char for text in texts for char in text if ord(char) not in font.cmap})
    if missing:
        raise MissingGlyph([f"U+{ord(char):04X}" for char in missing])


def _heading_rows(copy: CertifiedCopy) -> list[tuple[str, str]]:
    home = _with_prefecture(copy.home_name, copy.home_code)
    return [("交付番号", copy.serial), ("住所地の市区町村", f"{home}（{copy.home_code}）")]


def _with_prefecture(name: str, code: str) -> str:
    """神奈川県平塚市, not 平塚市: two towns of one name exist in different prefectures."""
    prefecture = prefecture_name(code)
    return name if name.startswith(prefecture) else prefecture + name


def _entry_rows(entry: CopyEntry) -> list[tuple[str, str]]:
    """Label/value rows of one person, leaving out what is None."""
    rows: list[tuple[str, str | None]] = [
        ("氏名", entry.name),
        ("ふりがな", entry.name_kana),
        *_residency_rows(entry),
        ("生年月日", to_era(entry.birth_date)),
        ("性別", _SEX_LABELS[entry.sex]),
        ("続柄", entry.relation),
        ("世帯主", entry.household_head),
        ("住民票コード", entry.resident_code),
        ("住所", entry.address),
        ("住民となった年月日", _era_or_none(entry.became_resident_date)),
        *_domicile_rows(entry),
        ("前住所", entry.previous_address),
        ("異動年月日・事由", f"{to_era(entry.change_date)}　{entry.change_reason_label}"),
    ]
    return [(label, value) for label, value in rows if value is not None]


def _residency_rows(entry: CopyEntry) -> list[tuple[str, str | None]]:
    """旧氏 beside the name; a foreign resident's 通称 and 国籍・地域."""
    nationality = entry.nationality
    return [
        ("旧氏", entry.former_surname),
        ("旧氏のふりがな", entry.former_surname_kana),
        ("通称", entry.alias),
        ("通称のふりがな", entry.alias_kana),
        ("国籍・地域", nationality_label(nationality) if nationality is not None else None),
    ]


def _domicile_rows(entry: CopyEntry) -> list[tuple[str, str | None]]:
    if not isinstance(entry, OwnCopyEntry):
        return []
    return [
        ("個人番号", entry.individual_number),
        ("本籍", entry.registered_domicile),
        ("筆頭者", entry.family_register_head),
    ]


def _era_or_none(day: dt.date | None) -> str | None:
    return None if day is None else to_era(day)


def _certification_lines(copy: CertifiedCopy) -> list[str]:
    return [
        CERTIFICATION,
        to_era(copy.issue_date),
        f"交付市区町村　{copy.issuer_name}（{copy.issuer_code}）",
        copy.mayor,
    ]


def _draw_heading(pdf: FPDF, copy: CertifiedCopy) -> None:
    pdf.set_font(_FONT, size=18)
    pdf.cell(0, 14, copy.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    _draw_rows(pdf, _heading_rows(copy))
    pdf.ln(4)


def _draw_entry(pdf: FPDF, number: int, entry: CopyEntry) -> None:
    """One person as a bordered two-column block, moved whole to a new page if needed."""
    rows = _entry_rows(entry)
    pdf.set_font(_FONT, size=_BODY_PT)
    _ensure_room(pdf, _LINE + _rows_height(pdf, rows))
    pdf.cell(0, _LINE, f"（{number}）", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _draw_rows(pdf, rows)
    pdf.ln(3)


def _draw_certification(pdf: FPDF, copy: CertifiedCopy) -> None:
    """「以下余白」, the statement, the date and the mayor, always together on one page."""
    statement, issued, issuer, mayor = _certification_lines(copy)
    pdf.set_font(_FONT, size=_BODY_PT)
    _ensure_room(pdf, 60 + _SEAL_MM)
    _right(pdf, _LINE, "以下余白")
    pdf.ln(8)
    pdf.set_font(_FONT, size=12)
    pdf.cell(0, 8, statement, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.cell(0, 8, issued, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _right(pdf, 8, issuer)
    pdf.set_font(_FONT, size=15)
    _right(pdf, 12, mayor)
    _draw_seal_space(pdf)


def _draw_seal_space(pdf: FPDF) -> None:
    """A square under the mayor's name, left empty for the official seal (公印)."""
    x, y = pdf.w - _MARGIN - _SEAL_MM, pdf.y + 2
    pdf.set_draw_color(160)
    pdf.set_dash_pattern(dash=1.5, gap=1.5)
    pdf.rect(x, y, _SEAL_MM, _SEAL_MM, style="D")
    pdf.set_dash_pattern()
    pdf.set_draw_color(0)
    pdf.set_font(_FONT, size=8)
    pdf.set_text_color(150)
    pdf.set_xy(x, y + _SEAL_MM - 5)
    pdf.cell(_SEAL_MM, 4, SEAL, align=Align.C)
    pdf.set_text_color(0)
    pdf.set_xy(pdf.l_margin, y + _SEAL_MM + 2)


def _right(pdf: FPDF, height: float, text: str) -> None:
    pdf.cell(0, height, text, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _value_width(pdf: FPDF) -> float:
    return pdf.epw - _LABEL_WIDTH


def _row_height(pdf: FPDF, label: str, value: str) -> float:
    """Height of a row: the taller of label and value once wrapped (Japanese wraps anywhere)."""
    return max(_text_height(pdf, _LABEL_WIDTH, label), _text_height(pdf, _value_width(pdf), value))


def _text_height(pdf: FPDF, width: float, text: str) -> float:
    height = pdf.multi_cell(
        width - 2 * _PAD,
        _LINE,
        text,
        dry_run=True,
        output=MethodReturnValue.HEIGHT,
        wrapmode=WrapMode.CHAR,
    )
    if not isinstance(height, float | int):  # pragma: no cover - output=HEIGHT gives a number
        raise TypeError(f"fpdf2 returned {type(height).__name__} for a height")
    return float(height)


def _rows_height(pdf: FPDF, rows: Sequence[tuple[str, str]]) -> float:
    return sum(_row_height(pdf, label, value) for label, value in rows)


def _draw_rows(pdf: FPDF, rows: Sequence[tuple[str, str]]) -> None:
    pdf.set_font(_FONT, size=_BODY_PT)
    for label, value in rows:
        _draw_row(pdf, label, value, _row_height(pdf, label, value))


def _draw_row(pdf: FPDF, label: str, value: str, height: float) -> None:
    """A shaded label cell and a value cell, both ``height`` tall, bordered."""
    x, y = pdf.l_margin, pdf.y
    pdf.set_fill_color(235)
    pdf.rect(x, y, _LABEL_WIDTH, height, style="DF")
    pdf.rect(x + _LABEL_WIDTH, y, _value_width(pdf), height, style="D")
    for left, width, text in (
        (x, _LABEL_WIDTH, label),
        (x + _LABEL_WIDTH, _value_width(pdf), value),
    ):
        pdf.set_xy(left + _PAD, y)
        pdf.multi_cell(width - 2 * _PAD, _LINE, text, align=Align.L, wrapmode=WrapMode.CHAR)
    pdf.set_xy(x, y + height)


def _ensure_room(pdf: FPDF, height: float) -> None:
    """Start a new page unless ``height`` millimetres still fit above the footer.

    A block taller than a whole page would run off the paper; refuse it instead.
    """
    bottom = pdf.h - _MARGIN - _FOOTER_HEIGHT
    if height > bottom - pdf.t_margin:
        raise ValueError("an entry is too long to print on one page")
    if pdf.y + height > bottom:
        pdf.add_page()
