"""First-response time: how long a buyer waited for the first answer, from stored timestamps.

For every answered inquiry (``first_answered_at`` set):

* **wait** = ``first_answered_at`` − ``created_at``: from the buyer's question (the marketplace's own
  timestamp) to the moment the marketplace accepted our answer (a send confirmed by its response, or a
  reconciliation that found it: then when that request started), or we first saw it answered elsewhere;
* **ours** = ``first_answered_at`` − ``ingested_at``: the part after we had fetched it (never below 0;
  an inquiry answered before we first saw it has none);
* **outside_hours** = the part of the wait outside business hours (Asia/Seoul, the holidays and the
  per-date overrides of the policy's calendar) and **in_hours** = the rest. Both are reported: a
  question asked on Friday night and answered on Monday morning waited the whole weekend, and the
  figures say so, next to how long it waited while someone could have answered.

Paths (``inquiries.answer_path``): ``AUTO`` (an automatic answer sent), ``PERSON`` (a person's approved
answer sent), ``ELSEWHERE`` (answered outside partialauto, e.g. in the seller centre). Percentiles are
linear between the two nearest ranks (p50 of [10, 20] is 15).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inquiries.answer_path import PATH_EXPRESSION, AnswerPath, path_of
from inquiries.models import Inquiry
from policy.hours import SEOUL, Calendar, load_calendar

WINDOWS = {"1h": dt.timedelta(hours=1), "24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}
PERCENTILES = (50, 90, 95)
PARTS = ("wait", "ours", "in_hours", "outside_hours")


@dataclass(frozen=True)
class Answered:
    """One answered inquiry's first-response figures, in seconds."""

    inquiry_id: int
    account: str
    intent: str
    path: str
    answered_at: dt.datetime
    wait: float
    ours: float
    in_hours: float
    outside_hours: float


def in_hours_seconds(calendar: Calendar, start: dt.datetime, end: dt.datetime, ranges=None) -> float:
    """Seconds of [start, end) inside business hours (:meth:`Calendar.open_seconds`)."""
    return calendar.open_seconds(start, end, ranges=ranges)


def answered_rows(
    *, since: dt.datetime, until: dt.datetime, calendar: Calendar | None = None, account_ids=None
) -> list[Answered]:
    """The inquiries first answered in [since, until), with their figures."""
    calendar = calendar or load_calendar()
    qs = Inquiry.objects.filter(first_answered_at__gte=since, first_answered_at__lt=until)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    rows = qs.values_list(
        "pk", "account__name", "intent", "status", "created_at", "ingested_at", "first_answered_at"
    ).order_by()
    result = []
    ranges = lru_cache(maxsize=None)(calendar.ranges_on)
    for pk, account, intent, status, asked, fetched, answered in rows.iterator(chunk_size=5000):
        assert answered is not None  # filtered on it
        wait = max(0.0, (answered - asked).total_seconds())
        inside = min(wait, in_hours_seconds(calendar, asked, answered, ranges))
        result.append(
            Answered(
                inquiry_id=pk,
                account=account,
                intent=intent or "-",
                path=path_of(status),
                answered_at=answered,
                wait=wait,
                ours=max(0.0, (answered - max(fetched, asked)).total_seconds()),
                in_hours=inside,
                outside_hours=wait - inside,
            )
        )
    return result


def percentile(values: list[float], p: float) -> float | None:
    """Linear between the closest ranks (numpy's default); None without values."""
    return float(np.percentile(values, p)) if values else None


def summarize(rows: Iterable[Answered]) -> dict:
    """``{"count", "wait": {"p50", "p90", "p95"}, "ours": {…}, "in_hours": {…}, "outside_hours": {…}}``
    (seconds, one decimal; None without rows)."""
    rows = list(rows)
    out: dict = {"count": len(rows)}
    for part in PARTS:
        values = sorted(getattr(r, part) for r in rows)
        out[part] = {f"p{p}": (None if (v := percentile(values, p)) is None else round(v, 1)) for p in PERCENTILES}
    return out


def _grouped(rows: list[Answered], key) -> list[dict]:
    groups: dict[str, list[Answered]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return [{"key": k, **summarize(v)} for k, v in sorted(groups.items())]


def first_response_report(*, now: dt.datetime | None = None, calendar: Calendar | None = None) -> dict:
    """For each window (1h, 24h, 7d, by the time of the first answer): everything, per path, per
    account and per intent."""
    now = now or timezone.now()
    calendar = calendar or load_calendar()
    longest = max(WINDOWS.values())
    rows = answered_rows(since=now - longest, until=now + dt.timedelta(microseconds=1), calendar=calendar)
    report: dict = {"business_hours": calendar.describe(), "windows": {}}
    for name, span in WINDOWS.items():
        inside = [r for r in rows if r.answered_at >= now - span]
        report["windows"][name] = {
            "all": summarize(inside),
            "by_path": _grouped(inside, lambda r: r.path),
            "by_account": _grouped(inside, lambda r: r.account),
            "by_intent": _grouped(inside, lambda r: r.intent),
        }
    return report


def by_day(*, days: int = 14, now: dt.datetime | None = None, calendar: Calendar | None = None) -> list[dict]:
    """Per Asia/Seoul day of the first answer, oldest first (empty days included): count, p50/p95 of the
    wait and of its in-hours part, and the automatic answers' p95."""
    now = now or timezone.now()
    today = now.astimezone(SEOUL).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(0), tzinfo=SEOUL)
    rows = answered_rows(since=start, until=now + dt.timedelta(microseconds=1), calendar=calendar)
    per_day: dict[dt.date, list[Answered]] = defaultdict(list)
    for r in rows:
        per_day[r.answered_at.astimezone(SEOUL).date()].append(r)
    result = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        members = per_day.get(day, [])
        s = summarize(members)
        auto = summarize(r for r in members if r.path == AnswerPath.AUTO)
        result.append(
            {
                "day": day.isoformat(),
                "count": s["count"],
                "wait_p50": s["wait"]["p50"],
                "wait_p95": s["wait"]["p95"],
                "in_hours_p50": s["in_hours"]["p50"],
                "in_hours_p95": s["in_hours"]["p95"],
                "auto_wait_p95": auto["wait"]["p95"],
            }
        )
    return result


# Histogram buckets (seconds) for /metrics: half a minute to a day.
BUCKETS = (30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600)


def histogram() -> list[dict]:
    """Every answered inquiry so far, per account and path: counts at or under each bucket, the count and
    the sum of the waits (cumulative, as a Prometheus histogram wants: it only grows)."""
    wait = ExpressionWrapper(F("first_answered_at") - F("created_at"), output_field=DurationField())
    aggregates = {f"le_{b}": Count("id", filter=Q(wait__lte=dt.timedelta(seconds=b))) for b in BUCKETS}
    rows: Iterable[Mapping[str, Any]] = (
        Inquiry.objects.filter(first_answered_at__isnull=False)
        .annotate(wait=wait, path=PATH_EXPRESSION)
        .values("account__name", "path")
        .annotate(count=Count("id"), total=Sum("wait"), **aggregates)
        .order_by("account__name", "path")
    )
    return [
        {
            "account": r["account__name"],
            "path": r["path"],
            "buckets": [(b, r[f"le_{b}"]) for b in BUCKETS],
            "count": r["count"],
            "sum": max(0.0, r["total"].total_seconds()) if r["total"] is not None else 0.0,
        }
        for r in rows
    ]


def human_duration(seconds: float | None) -> str:
    """42초, 3분 5초, 2시간 10분, 3일 4시간 (Korean, two units at most)."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return str(_("%(d)s일 %(h)s시간") % {"d": days, "h": hours})
    if hours:
        return str(_("%(h)s시간 %(m)s분") % {"h": hours, "m": minutes})
    if minutes:
        return str(_("%(m)s분 %(s)s초") % {"m": minutes, "s": secs})
    return str(_("%(s)s초") % {"s": secs})
