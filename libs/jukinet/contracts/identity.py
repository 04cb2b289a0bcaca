"""The identity record (本人確認情報): the only personal data that crosses tiers.

Name (with kana reading), address, birth date and sex, plus the resident code and the
change information (reason and date). These models are the wire contract between the
municipal, prefecture and agency services; every field is validated on receipt.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from enum import StrEnum
from typing import Annotated, Any

import jntajis
import joyokanji
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from jukinet.contracts.ids import InvalidCode, explain_resident_code, parse_local_government_code
from jukinet.contracts.residency import Nationality, check_residency, residency_of

__all__ = [
    "CHANGE_MESSAGE_TYPE",
    "ChangeCategory",
    "ChangeReason",
    "IdentityChange",
    "IdentityRecord",
    "InvalidChanges",
    "LgCode",
    "PersonNames",
    "ResidentCode",
    "Sex",
    "address_key",
    "canonical_name",
    "check_possible_dates",
    "explain",
    "kana_key",
    "name_key",
    "parse_changes",
    "summarize",
]

CHANGE_MESSAGE_TYPE = "identity.change"
EARLIEST_BIRTH = dt.date(1868, 1, 1)  # the Meiji era; no living resident is older
MAX_NAME = 100
MAX_KANA = 200
MAX_ADDRESS = 300
MOVE_OUT_AHEAD = dt.timedelta(days=14)  # a 転出届 is filed before the move, with its date


class ChangeCategory(StrEnum):
    RECORD = "record"  # 記載
    MODIFY = "modify"  # 修正
    DELETE = "delete"  # 消除


class ChangeReason(StrEnum):
    """異動事由. The value is the wire code; ``label`` is the Japanese term."""

    MOVE_IN = "move_in"
    BIRTH = "birth"
    EX_OFFICIO_RECORD = "ex_officio_record"
    NATURALISATION = "naturalisation"
    NATIONALITY_ACQUIRED = "nationality_acquired"
    RESTORATION = "restoration"
    MOVE_OUT = "move_out"
    DEATH = "death"
    EX_OFFICIO_DELETION = "ex_officio_deletion"
    NATIONALITY_LOST = "nationality_lost"
    DECLARED_MISSING = "declared_missing"
    IN_TOWN_MOVE = "in_town_move"
    NAME_CHANGE = "name_change"
    EX_OFFICIO_CORRECTION = "ex_officio_correction"
    CODE_CHANGE = "code_change"
    FORMER_SURNAME_RECORD = "former_surname_record"
    FORMER_SURNAME_DELETE = "former_surname_delete"
    ALIAS_RECORD = "alias_record"
    ALIAS_DELETE = "alias_delete"

    @property
    def category(self) -> ChangeCategory:
        return _CATEGORY[self]

    @property
    def label(self) -> str:
        return _LABEL[self]


_CATEGORY = {
    **dict.fromkeys(
        (
            ChangeReason.MOVE_IN,
            ChangeReason.BIRTH,
            ChangeReason.EX_OFFICIO_RECORD,
            ChangeReason.NATURALISATION,
            ChangeReason.NATIONALITY_ACQUIRED,
            ChangeReason.RESTORATION,
        ),
        ChangeCategory.RECORD,
    ),
    **dict.fromkeys(
        (
            ChangeReason.MOVE_OUT,
            ChangeReason.DEATH,
            ChangeReason.EX_OFFICIO_DELETION,
            ChangeReason.NATIONALITY_LOST,
            ChangeReason.DECLARED_MISSING,
        ),
        ChangeCategory.DELETE,
    ),
    **dict.fromkeys(
        (
            ChangeReason.IN_TOWN_MOVE,
            ChangeReason.NAME_CHANGE,
            ChangeReason.EX_OFFICIO_CORRECTION,
            ChangeReason.CODE_CHANGE,
            ChangeReason.FORMER_SURNAME_RECORD,
            ChangeReason.FORMER_SURNAME_DELETE,
            ChangeReason.ALIAS_RECORD,
            ChangeReason.ALIAS_DELETE,
        ),
        ChangeCategory.MODIFY,
    ),
}

_LABEL = {
    ChangeReason.MOVE_IN: "転入",
    ChangeReason.BIRTH: "出生",
    ChangeReason.EX_OFFICIO_RECORD: "職権記載",
    ChangeReason.NATURALISATION: "帰化",
    ChangeReason.NATIONALITY_ACQUIRED: "国籍取得",
    ChangeReason.RESTORATION: "回復",
    ChangeReason.MOVE_OUT: "転出",
    ChangeReason.DEATH: "死亡",
    ChangeReason.EX_OFFICIO_DELETION: "職権消除",
    ChangeReason.NATIONALITY_LOST: "国籍喪失",
    ChangeReason.DECLARED_MISSING: "失踪",
    ChangeReason.IN_TOWN_MOVE: "転居",
    ChangeReason.NAME_CHANGE: "氏名変更",
    ChangeReason.EX_OFFICIO_CORRECTION: "職権修正",
    ChangeReason.CODE_CHANGE: "住民票コード変更",
    ChangeReason.FORMER_SURNAME_RECORD: "旧氏記載",
    ChangeReason.FORMER_SURNAME_DELETE: "旧氏削除",
    ChangeReason.ALIAS_RECORD: "通称記載",
    ChangeReason.ALIAS_DELETE: "通称削除",
}


class Sex(StrEnum):
    """Sex as registered: male (男) or female (女)."""

    MALE = "male"  # 男
    FEMALE = "female"  # 女


def _resident_code(value: str) -> str:
    problem = explain_resident_code(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _municipality_code(value: str) -> str:
    try:
        code = parse_local_government_code(value)
    except InvalidCode as exc:
        raise ValueError(exc.reason) from None
    if code.is_prefecture:
        raise ValueError("a municipality code is required, not a prefecture code")
    return value


def _text(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise ValueError("must not be blank")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") for ch in value):
        raise ValueError("must not contain control or private-use characters")
    return value


def canonical_name(value: str) -> str:
    """Names compare in one form: NFC, ideographic spaces as ASCII, single spaces."""
    value = unicodedata.normalize("NFC", value).replace("\u3000", " ")
    return " ".join(value.split())


def name_key(value: str) -> str:
    """A name as a search compares it: width-folded (NFKC), without spaces, variant
    kanji in their common form by the MJ shrink map (MJ縮退マップ, the table of the
    character information infrastructure that resident-register systems use to carry
    MJ characters into JIS: 髙→高, 﨑→崎, 齋→斎, 邊→辺, 邉→辺, 𠮷→吉), then the Jōyō kanji
    table's old forms (``joyokanji``); letters of the alphabet in one case (a foreign
    resident's SMITH is found as Smith). Nothing beyond what those tables pair: 齊 folds to
    斉 as the MJ map has it (not to 斎, a character of its own), and 埼 stays apart from
    崎, so a by-facts lookup refuses rather than matches another person."""
    folded = "".join(unicodedata.normalize("NFKC", value).casefold().split())
    shrunk = "".join(_mj_shrunk(ch) for ch in folded)
    return str(joyokanji.convert(shrunk, variants=True))


@functools.lru_cache(maxsize=65536)
def _mj_shrunk(ch: str) -> str:
    """One character through every scheme of the MJ shrink map: its first candidate is
    the fully shrunk form (the character itself when the map has nothing for it)."""
    candidates = jntajis.mj_shrink_candidates(ch, _MJ_SCHEMES)
    return str(candidates[0]) if candidates else ch


_MJ_SCHEMES = (
    jntajis.MJShrinkSchemeCombo.JIS_INCORPORATION_UCS_UNIFICATION_RULE
    | jntajis.MJShrinkSchemeCombo.INFERENCE_BY_READING_AND_GLYPH
    | jntajis.MJShrinkSchemeCombo.MOJ_NOTICE_582
    | jntajis.MJShrinkSchemeCombo.MOJ_FAMILY_REGISTER_ACT_RELATED_NOTICE
)


def kana_key(value: str) -> str:
    """A katakana reading as a search compares it: width-folded, without spaces, and
    with hiragana read as katakana (やまだ finds ヤマダ)."""
    folded = "".join(unicodedata.normalize("NFKC", value).split())
    return folded.translate(_HIRAGANA_TO_KATAKANA)


_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}


def address_key(value: str) -> str:
    """An address as written on paper: full- and half-width alike, spaces ignored."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def _name(value: str) -> str:
    return canonical_name(_text(value))


def _kana(value: str) -> str:
    value = _text(value)
    allowed = {" ", "　", "ー", "・"}
    if not all("\u30a0" <= ch <= "\u30ff" or ch in allowed for ch in value):
        raise ValueError("kana reading is written in katakana")
    return value


ResidentCode = Annotated[str, Field(min_length=11, max_length=11), AfterValidator(_resident_code)]
LgCode = Annotated[str, Field(min_length=6, max_length=6), AfterValidator(_municipality_code)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_name)]
Kana = Annotated[str, Field(min_length=1, max_length=MAX_KANA), AfterValidator(_kana)]
Address = Annotated[str, Field(min_length=1, max_length=MAX_ADDRESS), AfterValidator(_text)]


def check_possible_dates(
    birth_date: dt.date, change_date: dt.date, reason: ChangeReason | None = None
) -> None:
    """Raise ValueError unless the birth is possible (not before EARLIEST_BIRTH, not in
    the future) and the change falls between the birth and today (JST runs ahead of UTC,
    so "today" allows tomorrow's UTC date) — or, for a move-out filed before the move,
    its planned date (転出予定年月日), at most MOVE_OUT_AHEAD days ahead."""
    today = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    if not EARLIEST_BIRTH <= birth_date <= today:
        raise ValueError("birth date is outside the possible range")
    if reason is ChangeReason.MOVE_OUT:
        if not birth_date <= change_date <= today + MOVE_OUT_AHEAD:
            raise ValueError("a move-out's planned date falls between birth and 14 days ahead")
    elif not birth_date <= change_date <= today:
        raise ValueError("change date must fall between birth and today")


class PersonNames(BaseModel):
    """The person's names as the record (and a new entry at the counter) carries them: the
    name and its reading, a national's 旧氏, or a foreign resident's nationality and 通称 —
    checked together, since how the name is written depends on who the resident is
    (:func:`~jukinet.contracts.residency.check_residency`)."""

    name: Name = Field(description="Family and given name (氏名).", examples=["山田 太郎"])
    name_kana: Kana | None = Field(
        None, description="The name's reading, in katakana (フリガナ).", examples=["ヤマダ タロウ"]
    )
    former_surname: Name | None = Field(
        None,
        description="旧氏: a Japanese national's former surname, recorded at their request "
        "and shown beside the name.",
        examples=["鈴木"],
    )
    former_surname_kana: Kana | None = Field(
        None, description="The former surname's reading, in katakana.", examples=["スズキ"]
    )
    nationality: Nationality | None = Field(
        None,
        description="国籍・地域 of a foreign resident (外国人住民), as on the residence card: "
        "an ISO 3166-1 alpha-2 code (XX: stateless, 無国籍). None for a Japanese national.",
        examples=["VN"],
    )
    alias: Name | None = Field(
        None,
        description="通称: a foreign resident's alias, recorded on their application (with "
        "the papers that show it is used in society).",
        examples=["山田 太郎"],
    )
    alias_kana: Kana | None = Field(
        None, description="The alias's reading, in katakana.", examples=["ヤマダ タロウ"]
    )

    @model_validator(mode="after")
    def _fits_the_person(self) -> PersonNames:
        check_residency(name=self.name, **residency_of(self))
        return self


class IdentityRecord(PersonNames):
    """One version of a resident's identity record as it travels between tiers."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    resident_code: ResidentCode = Field(
        description="The resident code (住民票コード): 11 digits, the last a check digit.",
        examples=["12345678903"],
    )
    municipality: LgCode = Field(
        description="The municipality that holds the record: its 6-digit local government "
        "code (全国地方公共団体コード), with its check digit.",
        examples=["142034"],
    )
    birth_date: dt.date = Field(description="Date of birth (生年月日).", examples=["1980-04-01"])
    sex: Sex
    address: Address = Field(
        description="The registered address (住所).", examples=["神奈川県平塚市浅間町9-9"]
    )
    change_reason: ChangeReason
    change_date: dt.date = Field(
        description="The date of the change (異動年月日).", examples=["2024-04-01"]
    )

    @model_validator(mode="after")
    def _dates_are_possible(self) -> IdentityRecord:
        check_possible_dates(self.birth_date, self.change_date, self.change_reason)
        return self

    @property
    def is_deleted(self) -> bool:
        return self.change_reason.category is ChangeCategory.DELETE


class IdentityChange(BaseModel):
    """The payload of an ``identity.change`` message: one new version of one record.

    ``version`` counts the resident's changes at the municipality (1 for the first);
    ``previous_code`` is set only for a 住民票コード変更; ``previous_municipality`` only
    for a 転入 from another municipality (the person keeps their code, and the tiers hand
    the record over from that municipality to this one).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    record: IdentityRecord
    version: int = Field(ge=1, le=1_000_000)
    previous_code: ResidentCode | None = None
    previous_municipality: LgCode | None = None
    correlation_id: str = Field(min_length=8, max_length=64, pattern=r"^[0-9a-f]+$")

    @model_validator(mode="after")
    def _code_change_names_the_old_code(self) -> IdentityChange:
        is_code_change = self.record.change_reason is ChangeReason.CODE_CHANGE
        if is_code_change != (self.previous_code is not None):
            raise ValueError("previous_code is given exactly for a code change")
        if self.previous_code == self.record.resident_code:
            raise ValueError("a code change must change the code")
        if self.previous_municipality is not None:
            if self.record.change_reason is not ChangeReason.MOVE_IN:
                raise ValueError("previous_municipality is given only for a move-in")
            if self.previous_municipality == self.record.municipality:
                raise ValueError("a move-in comes from another municipality")
        return self


MAX_CHANGES_PER_MESSAGE = 10_000


def parse_changes(payload: dict[str, Any]) -> list[IdentityChange]:
    """The changes of a batch payload ``{"items": [...]}``.

    Raises :class:`InvalidChanges` whose ``summary`` names positions, fields and error
    kinds only — never the offending values, which may be personal data.
    """
    items = payload.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_CHANGES_PER_MESSAGE:
        raise InvalidChanges("items must be a list of 1 to 10000 changes")
    try:
        return _CHANGES.validate_python(items)
    except ValidationError as exc:
        raise InvalidChanges(summarize(exc)) from None


class InvalidChanges(ValueError):
    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


def summarize(exc: ValidationError) -> str:
    """Where and what kind of error, for dead letters and logs — never the values."""
    kinds = sorted({_where(err) for err in exc.errors(include_input=False)})
    return "; ".join(kinds[:10])


def explain(exc: ValidationError) -> str:
    """Where and what is wrong, in words a person can act on (Pydantic's messages and the
    validators' own, which name rules, never values) — for a row of an import."""
    said = []
    for err in exc.errors(include_input=False, include_context=False):
        loc = ".".join(str(part) for part in err.get("loc", ()) if not isinstance(part, int))
        message = str(err.get("msg", err.get("type", "invalid"))).removeprefix("Value error, ")
        said.append(f"{loc}: {message}" if loc else message)
    return "; ".join(sorted(set(said))[:10])


def _where(err: Any) -> str:
    loc = ".".join(str(part) for part in err.get("loc", ()) if not isinstance(part, int))
    return f"{loc or 'item'}: {err.get('type', 'invalid')}"


_CHANGES = TypeAdapter(list[IdentityChange])
