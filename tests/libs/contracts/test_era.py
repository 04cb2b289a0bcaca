"""Japanese era dates: the boundaries, 元年, and what is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jukinet.contracts.era import ERAS, GREGORIAN_ADOPTED, to_era


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 11, 26), "令和8年11月26日"),
        (dt.date(2019, 4, 30), "平成31年4月30日"),
        (dt.date(2019, 5, 1), "令和元年5月1日"),
        (dt.date(2019, 12, 31), "令和元年12月31日"),
        (dt.date(2020, 1, 1), "令和2年1月1日"),
        (dt.date(1989, 1, 7), "昭和64年1月7日"),
        (dt.date(1989, 1, 8), "平成元年1月8日"),
        (dt.date(1926, 12, 24), "大正15年12月24日"),
        (dt.date(1926, 12, 25), "昭和元年12月25日"),
        (dt.date(1912, 7, 29), "明治45年7月29日"),
        (dt.date(1912, 7, 30), "大正元年7月30日"),
        (dt.date(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_boundaries_and_first_years(day: dt.date, expected: str) -> None:
    assert to_era(day) == expected


def test_day_before_meiji_is_refused_as_before_meiji() -> None:
    with pytest.raises(ValueError, match="before the Meiji era"):
        to_era(dt.date(1868, 1, 24))


@pytest.mark.parametrize(
    "day", [dt.date(1868, 1, 25), dt.date(1868, 10, 23), dt.date(1872, 12, 31)]
)
def test_meiji_dates_before_the_gregorian_calendar_are_refused(day: dt.date) -> None:
    with pytest.raises(ValueError, match="adopted the Gregorian calendar"):
        to_era(day)


def test_datetime_is_refused_because_its_calendar_day_depends_on_the_zone() -> None:
    with pytest.raises(TypeError, match=r"datetime\.date"):
        to_era(dt.datetime(2019, 5, 1, tzinfo=dt.UTC))


def test_eras_are_newest_first() -> None:
    starts = [era.start for era in ERAS]
    assert starts == sorted(starts, reverse=True)


@given(st.dates(min_value=GREGORIAN_ADOPTED, max_value=dt.date(2200, 12, 31)))
def test_every_date_has_one_era_and_a_positive_year(day: dt.date) -> None:
    text = to_era(day)
    era = next(e for e in ERAS if day >= e.start)
    assert text.startswith(era.name)
    assert text.endswith(f"{day.month}月{day.day}日")
    year = text[len(era.name) : text.index("年")]
    assert year == "元" or int(year) >= 2
