"""Japanese era dates (和暦): ``date(2026, 11, 26)`` → ``"令和8年11月26日"``.

Certificates print every date in era form, birth dates included, so this lives in the
shared library rather than in the one service that prints copies today.

Era boundaries are the first Gregorian day of each era: 大正 1912-07-30, 昭和
1926-12-25, 平成 1989-01-08, 令和 2019-05-01. The first year of an era is 元年.

明治 is the one era with a judgement call. The proclamation (1868-10-23) made the era
retroactive to the first day of 慶応4年, which is 1868-01-25 in the Gregorian calendar, so
明治元年 is counted from 1868-01-25 (common practice). But Japan kept its lunisolar calendar
until 明治5年12月2日 and adopted the Gregorian one on 明治6年1月1日 (1873-01-01): a
Gregorian month and day before that is not the month and day a Japanese document of the
time would carry (1868-10-23 was 明治元年9月8日). Printing such a date on a certificate
would be wrong, so :func:`to_era` refuses dates before 1873-01-01 with a ValueError that
says why, and dates before 1868-01-25 with one that says they precede 明治. No living
resident is affected: the register holds nobody born before 1873.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["ERAS", "GREGORIAN_ADOPTED", "MEIJI_START", "Era", "to_era"]


@dataclass(frozen=True, slots=True)
class Era:
    """An era name and the Gregorian date of its first day."""

    name: str
    start: dt.date


MEIJI_START = dt.date(1868, 1, 25)
"""明治元年1月1日 in the Gregorian calendar; the era was proclaimed retroactive to it."""

GREGORIAN_ADOPTED = dt.date(1873, 1, 1)
"""明治6年1月1日: the first day Japan dated by the Gregorian calendar."""

ERAS: tuple[Era, ...] = (
    Era("令和", dt.date(2019, 5, 1)),
    Era("平成", dt.date(1989, 1, 8)),
    Era("昭和", dt.date(1926, 12, 25)),
    Era("大正", dt.date(1912, 7, 30)),
    Era("明治", MEIJI_START),
)
"""Newest first, so the first era whose start is not after a date is the date's era."""


def to_era(day: dt.date) -> str:
    """Format ``day`` as a Japanese era date, e.g. ``令和元年5月1日`` or ``平成31年4月30日``.

    Digits are ASCII. Raises TypeError for a datetime (which calendar day a timestamp
    falls on depends on its time zone, so the caller must decide) and ValueError for a
    date this module cannot print truthfully (see the module docstring).
    """
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(f"to_era takes a datetime.date, not {type(day).__name__}")
    era = _era_of(day)
    if day < GREGORIAN_ADOPTED:
        raise ValueError(
            f"{day.isoformat()} is before 1873-01-01, when Japan adopted the Gregorian"
            " calendar; its Japanese month and day differ from the Gregorian ones"
        )
    year = day.year - era.start.year + 1
    year_text = "元" if year == 1 else str(year)
    return f"{era.name}{year_text}年{day.month}月{day.day}日"


def _era_of(day: dt.date) -> Era:
    """The era ``day`` falls in; ValueError before 明治."""
    for era in ERAS:
        if day >= era.start:
            return era
    raise ValueError(
        f"{day.isoformat()} is before the Meiji era (明治, from {MEIJI_START.isoformat()});"
        " earlier eras are not supported"
    )
