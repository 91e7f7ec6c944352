"""Business hours in Asia/Seoul across a weekend, a Korean public holiday, overrides and midnight."""

from __future__ import annotations

import datetime as dt

import pytest

from policy.hours import SEOUL, Calendar, HoursSpecError, kr_holiday_name, load_calendar, parse_hours_spec
from policy.models import BusinessDayOverride

NINE_SIX = ((dt.time(9), dt.time(18)),)
WEEKDAYS = {d: NINE_SIX for d in range(5)}


def cal(**kw):
    return Calendar(enabled=True, weekly=kw.pop("weekly", WEEKDAYS), overrides=kw.pop("overrides", {}), **kw)


def seoul(*args):
    return dt.datetime(*args, tzinfo=SEOUL)


def test_weekday_inside_and_edges():
    c = cal()
    assert c.is_open(seoul(2026, 11, 25, 9, 0))
    assert c.is_open(seoul(2026, 11, 25, 17, 59))
    assert not c.is_open(seoul(2026, 11, 25, 18, 0))
    assert not c.is_open(seoul(2026, 11, 25, 8, 59))


def test_friday_evening__deferred_over_the_weekend_to_monday():
    c = cal()
    assert c.next_opening(seoul(2026, 11, 27, 18, 30)) == seoul(2026, 11, 30, 9, 0)


def test_korean_holiday__closed_and_skipped():
    # 2026-09-24..26 is Chuseok; 2026-10-03 National Foundation Day (Saturday), 2026-10-05 substitute?
    assert kr_holiday_name(dt.date(2026, 9, 25))
    c = cal()
    assert not c.is_open(seoul(2026, 9, 25, 10, 0))
    opening = c.next_opening(seoul(2026, 9, 23, 19, 0))
    assert opening.date() not in {dt.date(2026, 9, 24), dt.date(2026, 9, 25), dt.date(2026, 9, 26)}
    assert opening == seoul(2026, 9, 28, 9, 0)


def test_holidays_not_observed__open():
    assert cal(observe_holidays=False).is_open(seoul(2026, 9, 25, 10, 0))


def test_override__extra_day_off_and_special_hours():
    c = cal(overrides={dt.date(2026, 12, 31): (), dt.date(2026, 11, 28): ((dt.time(10), dt.time(12)),)})
    assert not c.is_open(seoul(2026, 12, 31, 10, 0))
    assert c.is_open(seoul(2026, 11, 28, 11, 0))  # a Saturday opened by override
    assert c.next_opening(seoul(2026, 11, 27, 20, 0)) == seoul(2026, 11, 28, 10, 0)


def test_midnight__utc_vs_seoul():
    c = cal(weekly={d: ((dt.time(0), dt.time(9)),) for d in range(7)})
    # 2026-11-25 23:30 UTC is 2026-11-26 08:30 in Seoul: open
    assert c.is_open(dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC))
    # 00:00 Seoul exactly is open, 09:00 is closed
    assert c.is_open(seoul(2026, 11, 26, 0, 0))
    assert not c.is_open(seoul(2026, 11, 26, 9, 0))
    assert c.next_opening(seoul(2026, 11, 26, 23, 59)) == seoul(2026, 11, 27, 0, 0)


def test_parse_hours_spec():
    assert parse_hours_spec("always") is None
    spec = parse_hours_spec("mon-fri 09:00-18:00; sat 10:00-13:00")
    assert spec[0] == (dt.time(9), dt.time(18)) and spec[5] == (dt.time(10), dt.time(13)) and 6 not in spec
    for bad in ["", "mon-fri", "funday 09:00-18:00", "mon 18:00-09:00", "mon 9-6"]:
        with pytest.raises(HoursSpecError):
            parse_hours_spec(bad)


@pytest.mark.django_db
def test_load_calendar__reads_the_database():
    BusinessDayOverride.objects.create(date=dt.date(2026, 12, 31), is_open=False, note="종무식")
    c = load_calendar()
    assert c.enabled and c.weekly[0] == ((dt.time(9), dt.time(18)),) and 5 not in c.weekly
    assert not c.is_open(seoul(2026, 12, 31, 10, 0))
