"""The parts of the identity record that depend on who the resident is: a Japanese
national's 旧氏 (former surname), a foreign resident's name in the alphabet, 通称 (alias)
and nationality or region (国籍・地域).

Foreign residents have been in the Basic Resident Register since July 2012 and in the
network since July 2013; the 旧氏 of a Japanese national is recorded at the resident's
request since November 2019. The rules a record must keep, checked wherever a record is
made or received (:func:`check_residency`):

- a foreign resident (``nationality`` given) has the name in the Latin alphabet, as on
  the residence card (在留カード), and may have a 通称; never a 旧氏 (it comes from the
  family register, 戸籍, which only nationals have);
- a Japanese national (no ``nationality``) may have a 旧氏; never a 通称;
- a reading (kana) is given only beside what it reads.

Errors name the rule, never the value (it is personal data).
"""

from __future__ import annotations

import functools
import gettext
import unicodedata
from typing import Annotated

import pycountry
from pydantic import AfterValidator, Field

__all__ = [
    "RESIDENCY_FIELDS",
    "STATELESS",
    "Nationality",
    "check_residency",
    "is_alphabet_name",
    "nationality_label",
    "residency_of",
]

# What the record carries beside the 2002 facts, in the order certificates show them.
RESIDENCY_FIELDS = ("former_surname", "former_surname_kana", "nationality", "alias", "alias_kana")
STATELESS = "XX"  # ISO 3166-1 leaves XX to users; ICAO 9303 writes stateless as XXA
# The labels the residence card and the register use where they differ from the
# ISO 3166-1 Japanese names (入管: 国籍・地域).
_REGISTER_LABELS = {STATELESS: "無国籍", "TW": "台湾", "KR": "韓国", "KP": "朝鮮"}
_NAME_PUNCTUATION = frozenset(" ,.'-")


def _nationality(value: str) -> str:
    value = value.strip().upper()
    if value != STATELESS and pycountry.countries.get(alpha_2=value) is None:
        raise ValueError("nationality is an ISO 3166-1 alpha-2 code (or XX, stateless)")
    return value


Nationality = Annotated[
    str,
    Field(
        min_length=2,
        max_length=2,
        description="国籍・地域: an ISO 3166-1 alpha-2 code as on the residence card "
        "(XX: stateless, 無国籍); only for a foreign resident (外国人住民).",
        examples=["VN"],
    ),
    AfterValidator(_nationality),
]


@functools.cache
def nationality_label(code: str) -> str:
    """The nationality or region as the register writes it (中国, 韓国, 台湾, 無国籍…)."""
    if code in _REGISTER_LABELS:
        return _REGISTER_LABELS[code]
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(_japanese().gettext(country.name))


@functools.cache
def _japanese() -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ja"], fallback=True)


def residency_of(holder: object) -> dict[str, str | None]:
    """The 旧氏, nationality and 通称 fields of a record, a row or a resident, by name."""
    return {field: getattr(holder, field) for field in RESIDENCY_FIELDS}


def is_alphabet_name(value: str) -> bool:
    """A name as a residence card writes it: Latin letters (accents allowed), spaces and
    the punctuation of names (, . ' -), with at least one letter."""
    letters = [ch for ch in value if ch not in _NAME_PUNCTUATION]
    return bool(letters) and all(_is_latin_letter(ch) for ch in letters)


def _is_latin_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L") and "LATIN" in unicodedata.name(ch, "")


def check_residency(
    *,
    name: str,
    nationality: str | None,
    former_surname: str | None,
    former_surname_kana: str | None,
    alias: str | None,
    alias_kana: str | None,
) -> None:
    """Raise ValueError unless the fields fit a national's or a foreign resident's record."""
    if former_surname_kana is not None and former_surname is None:
        raise ValueError("former_surname_kana reads a former_surname")
    if alias_kana is not None and alias is None:
        raise ValueError("alias_kana reads an alias")
    if nationality is None:
        if alias is not None:
            raise ValueError("an alias (通称) is recorded for a foreign resident only")
        return
    if former_surname is not None:
        raise ValueError("a former surname (旧氏) is recorded for a Japanese national only")
    if not is_alphabet_name(name):
        raise ValueError("a foreign resident's name is written in the Latin alphabet")
