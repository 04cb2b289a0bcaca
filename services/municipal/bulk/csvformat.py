"""The documented CSV format of a municipal register import (header row; UTF-8, or the
Shift_JIS/CP932 that existing register systems export — see :func:`decode_register`).

Columns: name, name_kana, birth_date (YYYY-MM-DD), sex (male|female, or 1|2 as on the
resident record), address, reason (a recording reason; default ex_officio_record),
change_date (YYYY-MM-DD; default the birth date for births, otherwise required),
resident_code; optional: former_surname, former_surname_kana (旧氏), nationality (a
foreign resident's, ISO 3166-1 alpha-2), alias, alias_kana (通称).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pydantic import ValidationError

from jukinet.contracts.identity import explain
from jukinet.contracts.residency import RESIDENCY_FIELDS
from municipal.residents.schemas import MigratedResident

__all__ = ["COLUMNS", "RowError", "UnreadableRegister", "decode_register", "parse_register"]

COLUMNS = (
    "name", "name_kana", "birth_date", "sex", "address", "reason", "change_date", "resident_code",
    "former_surname", "former_surname_kana", "nationality", "alias", "alias_kana",
)  # fmt: skip
REQUIRED = ("name", "birth_date", "sex", "address")
MAX_ROWS = 2_000_000
_SEX = {"1": "male", "2": "female"}


# the charset names a Shift_JIS export may carry; CP932 (Windows-31J) is the superset
# existing register systems write, with the NEC and IBM extensions
_SHIFT_JIS = {"shift_jis", "shift-jis", "sjis", "x-sjis", "cp932", "windows-31j", "ms932"}


class UnreadableRegister(ValueError):
    """The file is not text in an encoding the import reads."""


def decode_register(raw: bytes, content_type: str = "") -> str:
    """The file as text: in the charset the Content-Type names (UTF-8 or Shift_JIS/CP932),
    or, with none named, UTF-8 (a byte-order mark allowed) and otherwise CP932 — a
    Japanese file in CP932 is practically never valid UTF-8."""
    charset = _charset(content_type)
    try:
        if charset in _SHIFT_JIS:
            return raw.decode("cp932")
        if charset in ("utf-8", "utf8"):
            return raw.decode("utf-8-sig")
        if charset:
            raise UnreadableRegister(f"charset {charset} is not read: use utf-8 or shift_jis")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return raw.decode("cp932")
    except UnicodeDecodeError as exc:
        named = charset or "UTF-8 or Shift_JIS (CP932)"
        raise UnreadableRegister(f"the file is not {named} text (byte {exc.start})") from None


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return ""


@dataclass(frozen=True)
class RowError:
    """Where a row is wrong: its line number and the fields and kinds — never values."""

    line: int
    problem: str


def parse_register(text: str) -> tuple[list[MigratedResident], list[RowError]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing or any(c not in COLUMNS for c in header):
        return [], [RowError(1, f"header must hold {', '.join(COLUMNS)}; missing {missing}")]
    rows: list[MigratedResident] = []
    errors: list[RowError] = []
    codes: set[str] = set()
    for index, raw in enumerate(reader):
        line = index + 2  # the header is line 1
        if line > MAX_ROWS + 1:
            errors.append(RowError(line, f"more than {MAX_ROWS} rows"))
            break
        try:
            row = MigratedResident.model_validate(_body(raw))
        except ValidationError as exc:
            errors.append(RowError(line, explain(exc)))
            continue
        if row.resident_code is not None and row.resident_code in codes:
            errors.append(RowError(line, "resident_code: repeats an earlier row's"))
        codes.add(row.resident_code or "")
        rows.append(row)
    return rows, errors


def _body(raw: dict[str, str | None]) -> dict[str, object]:
    value = {k: (v or "").strip() for k, v in raw.items() if k is not None}
    reason = value.get("reason") or "ex_officio_record"
    change = value.get("change_date") or (value.get("birth_date") if reason == "birth" else "")
    return {
        "name": value.get("name", ""),
        "name_kana": value.get("name_kana") or None,
        "birth_date": value.get("birth_date", ""),
        "sex": _SEX.get(value.get("sex", ""), value.get("sex", "")),
        "address": value.get("address", ""),
        "reason": reason,
        "change_date": change or None,
        "resident_code": value.get("resident_code") or None,
        **{field: value.get(field) or None for field in RESIDENCY_FIELDS},
    }
