"""Business hours in Asia/Seoul: weekly ranges, Korean public holidays and per-date overrides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from partialauto.calendar import SEOUL, kr_holiday_name

if TYPE_CHECKING:
    from policy.models import BusinessDayOverride

__all__ = ["SEOUL", "Calendar", "HoursSpecError", "kr_holiday_name", "load_calendar", "parse_hours_spec"]

_SEARCH_DAYS = 60  # how far ahead next_opening looks before giving up


@dataclass(frozen=True)
class Calendar:
    """A snapshot of the business-hours configuration; pure, so tests and the simulator can build one."""

    enabled: bool
    weekly: dict[int, tuple[tuple[dt.time, dt.time], ...]]
    overrides: dict[dt.date, tuple[tuple[dt.time, dt.time], ...]]  # empty tuple = closed
    observe_holidays: bool = True

    def ranges_on(self, day: dt.date) -> tuple[tuple[dt.time, dt.time], ...]:
        if day in self.overrides:
            return self.overrides[day]
        if self.observe_holidays and kr_holiday_name(day):
            return ()
        return self.weekly.get(day.weekday(), ())

    def is_open(self, at: dt.datetime) -> bool:
        if not self.enabled:
            return True
        local = at.astimezone(SEOUL)
        return any(start <= local.time() < end for start, end in self.ranges_on(local.date()))

    def open_seconds(self, start: dt.datetime, end: dt.datetime, *, ranges=None) -> float:
        """Seconds of [start, end) inside business hours (all of it when business hours are off).
        ``ranges``: :meth:`ranges_on`, or a cached copy of it when many spans are measured."""
        if end <= start:
            return 0.0
        if not self.enabled:
            return (end - start).total_seconds()
        ranges = ranges or self.ranges_on
        total = 0.0
        day, last = start.astimezone(SEOUL).date(), end.astimezone(SEOUL).date()
        while day <= last:
            for open_at, close_at in ranges(day):
                lo = max(start, dt.datetime.combine(day, open_at, tzinfo=SEOUL))
                hi = min(end, dt.datetime.combine(day, close_at, tzinfo=SEOUL))
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += dt.timedelta(days=1)
        return total

    def next_opening(self, at: dt.datetime) -> dt.datetime | None:
        """The first moment at or after ``at`` when sending is allowed (``at`` itself when open)."""
        if self.is_open(at):
            return at
        local = at.astimezone(SEOUL)
        for offset in range(_SEARCH_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for start, _end in sorted(self.ranges_on(day)):
                candidate = dt.datetime.combine(day, start, tzinfo=SEOUL)
                if candidate >= local:
                    return candidate
        return None

    def describe(self) -> str:
        from policy.models import BusinessHoursRange

        if not self.enabled:
            return str(_("항상"))
        names = dict(BusinessHoursRange.Weekday.choices)
        parts = [
            f"{names[d]} " + ",".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in r) for d, r in sorted(self.weekly.items()) if r
        ]
        return "; ".join(parts) or str(_("휴무"))


def _override_hours(override: BusinessDayOverride) -> tuple[tuple[dt.time, dt.time], ...]:
    if not override.is_open:
        return ()
    # The table's check constraint: an open day has both times.
    assert override.start is not None and override.end is not None
    return ((override.start, override.end),)


def load_calendar() -> Calendar:
    from policy.models import AutomationSettings, BusinessDayOverride, BusinessHoursRange

    conf = AutomationSettings.get_solo()
    weekly: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for r in BusinessHoursRange.objects.all():
        weekly.setdefault(r.weekday, []).append((r.start, r.end))
    overrides = {o.date: _override_hours(o) for o in BusinessDayOverride.objects.all()}
    return Calendar(
        enabled=conf.business_hours_enabled,
        weekly={d: tuple(v) for d, v in weekly.items()},
        overrides=overrides,
        observe_holidays=conf.observe_public_holidays,
    )


_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


class HoursSpecError(ValueError):
    pass


def parse_hours_spec(spec: str) -> dict[int, tuple[dt.time, dt.time]] | None:
    """Parse ``"mon-fri 09:00-18:00"`` (several groups separated by ``;``) or ``always`` (→ None)."""
    spec = spec.strip().lower()
    if spec == "always":
        return None
    result: dict[int, tuple[dt.time, dt.time]] = {}
    for group in filter(None, (g.strip() for g in spec.split(";"))):
        try:
            days_part, time_part = group.split()
            if "-" in days_part:
                first, last = days_part.split("-")
                days: Iterable[int] = range(_DAYS[first], _DAYS[last] + 1)
            else:
                days = [_DAYS[d] for d in days_part.split(",")]
            start_s, end_s = time_part.split("-")
            start, end = dt.time.fromisoformat(start_s), dt.time.fromisoformat(end_s)
        except (ValueError, KeyError) as exc:
            raise HoursSpecError(
                _('영업시간 "%(group)s"을(를) 읽을 수 없습니다: 예) "mon-fri 09:00-18:00" 또는 "always"')
                % {"group": group}
            ) from exc
        if not start < end or not days:
            raise HoursSpecError(_('영업시간 "%(group)s": 시작이 종료보다 빨라야 합니다') % {"group": group})
        for d in days:
            result[d] = (start, end)
    if not result:
        raise HoursSpecError('no business hours given: use e.g. "mon-fri 09:00-18:00" or "always"')
    return result
