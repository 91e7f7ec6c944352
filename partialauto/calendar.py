"""Asia/Seoul time and Korean public holidays: one definition for every app (pure, no Django)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

SEOUL = ZoneInfo("Asia/Seoul")
WEEKDAYS_KO = ("월", "화", "수", "목", "금", "토", "일")


@lru_cache(maxsize=16)
def _kr_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("KR", years=year, language="ko")


def kr_holiday_name(day: dt.date) -> str | None:
    """The Korean public holiday on ``day`` (its Korean name), or None."""
    return _kr_holidays(day.year).get(day)


def seoul_date(at: dt.datetime) -> dt.date:
    return at.astimezone(SEOUL).date()
