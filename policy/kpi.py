"""The guide's monitoring figures (1.2, 1.3, 3.2.4, 4.1.1) as read-side functions.

Every figure reads a window of recent rows through an index (``created_at`` on inquiries,
``started_at`` on send attempts), so the cost does not grow with years of history. Test-mode rows
never count as failures: a test-mode send is recorded ``SEND_FAILED`` on purpose (the guide's phase
2), and its attempt has the ``TEST_MODE`` outcome and the test-mode mark.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from inquiries.followup_figures import resolution_by_day, resolution_figures
from inquiries.models import FollowUp, Inquiry, SendAttempt
from policy.first_response import first_response_report
from policy.hours import SEOUL
from policy.selectors import COUNTED_OUTCOMES, FAILURE_OUTCOMES, attempt_stats, rollout_rows

WINDOWS = {
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}


def parse_window(value: str) -> dt.timedelta:
    try:
        return WINDOWS[value]
    except KeyError:
        raise ValueError(f"unknown window '{value}' (use {', '.join(WINDOWS)})") from None


def _pct(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 2) if whole else None


def seoul_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=SEOUL)


def shadow_stats(*, days: int = 7, now: dt.datetime | None = None) -> list[dict]:
    """1.2: per Asia/Seoul day, newest first: inquiries, AUTO_SEND decisions (in shadow mode these are
    the *candidates*: a person still answers), how many of those were shadow candidates, the rate."""
    now = now or timezone.now()
    rows = (
        Inquiry.objects.filter(created_at__gte=now - dt.timedelta(days=days), created_at__lte=now)
        .annotate(day=TruncDate("created_at", tzinfo=SEOUL))
        .values("day")
        .annotate(
            total=Count("id"),
            auto_send=Count("id", filter=Q(status="AUTO_SEND")),
            shadow_candidates=Count("id", filter=Q(status="AUTO_SEND", decision_mode="SHADOW")),
        )
        .order_by("-day")
    )
    return [
        {
            "date": r["day"].isoformat(),
            "total": r["total"],
            "auto_send": r["auto_send"],
            "shadow_candidates": r["shadow_candidates"],
            "auto_rate": _pct(r["auto_send"], r["total"]) or 0.0,
        }
        for r in rows
    ]


def automation_by_day(*, days: int = 14, now: dt.datetime | None = None) -> list[dict]:
    """The daily automation rate for the last ``days`` Asia/Seoul days (today included), oldest first,
    with empty days filled in (the dashboard draws one bar per day)."""
    now = now or timezone.now()
    today = now.astimezone(SEOUL).date()
    first = today - dt.timedelta(days=days - 1)
    by_day: dict[dt.date, Mapping[str, Any]] = {}
    rows = (
        Inquiry.objects.filter(created_at__gte=seoul_midnight(first), created_at__lte=now)
        .annotate(day=TruncDate("created_at", tzinfo=SEOUL))
        .values("day")
        .annotate(
            total=Count("id"),
            auto_send=Count("id", filter=Q(status="AUTO_SEND")),
            sent=Count("id", filter=Q(status="AUTO_SEND", send_status="SENT")),
        )
    )
    for row in rows:
        by_day[row["day"]] = row
    result = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        r = by_day.get(day, {"total": 0, "auto_send": 0, "sent": 0})
        result.append(
            {
                "day": day.isoformat(),
                "total": r["total"],
                "auto_send": r["auto_send"],
                "auto_sent": r["sent"],
                "auto_rate": _pct(r["auto_send"], r["total"]),
            }
        )
    return result


def daily_failure_rates(
    days: int, *, now: dt.datetime | None = None, since: dt.datetime | None = None, account_ids=None
) -> list[dict]:
    """Real send attempts and failures per Asia/Seoul day for the last ``days`` days (today, partial,
    included), oldest first; ``rate`` is a ratio in [0, 1] or None for a day without attempts.

    ``since`` leaves out attempts before that moment (the monitor counts only what happened after a
    person lifted a rollback)."""
    now = now or timezone.now()
    today = now.astimezone(SEOUL).date()
    first = today - dt.timedelta(days=days - 1)
    start = seoul_midnight(first)
    if since is not None and since > start:
        start = since
    qs = SendAttempt.objects.filter(
        started_at__gte=start, started_at__lte=now, is_test_mode=False, outcome__in=COUNTED_OUTCOMES
    )
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    rows = (
        qs.annotate(day=TruncDate("started_at", tzinfo=SEOUL))
        .values("day")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(outcome__in=FAILURE_OUTCOMES)))
    )
    by_day = {r["day"]: r for r in rows}
    result = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        r = by_day.get(day, {"total": 0, "failed": 0})
        result.append(
            {
                "day": day.isoformat(),
                "attempts": r["total"],
                "failed": r["failed"],
                "rate": r["failed"] / r["total"] if r["total"] else None,
            }
        )
    return result


def failure_rates(*, window: dt.timedelta, now: dt.datetime | None = None) -> list[dict]:
    """1.3, per market and account: inquiries with a real send attempt and how they ended.

    ``failure_rate`` is the guide's (``SEND_FAILED`` / attempted); ``unknown`` rows (the outcome is not
    known yet; reconcile settles them) are shown beside it."""
    now = now or timezone.now()
    rows = (
        Inquiry.objects.filter(
            created_at__gte=now - window, created_at__lte=now, send_attempts__gt=0, is_test_mode=False
        )
        .values("market_code", "account__name")
        .annotate(
            total=Count("id"),
            failed=Count("id", filter=Q(send_status="SEND_FAILED")),
            unknown=Count("id", filter=Q(send_status="SEND_UNKNOWN")),
            sent=Count("id", filter=Q(send_status="SENT")),
        )
        .order_by("market_code", "account__name")
    )
    return [
        {
            "market": r["market_code"],
            "account": r["account__name"],
            "attempted": r["total"],
            "sent": r["sent"],
            "failed": r["failed"],
            "unknown": r["unknown"],
            "failure_rate": _pct(r["failed"], r["total"]) or 0.0,
        }
        for r in rows
    ]


def realtime(*, window: dt.timedelta, now: dt.datetime | None = None) -> list[dict]:
    """4.1.1: AUTO_SEND decisions in the window per market: sent, failed (test mode excluded, shown
    apart), average confidence."""
    now = now or timezone.now()
    rows = (
        Inquiry.objects.filter(status="AUTO_SEND", created_at__gte=now - window, created_at__lte=now)
        .values("market_code")
        .annotate(
            total=Count("id"),
            sent=Count("id", filter=Q(send_status="SENT")),
            failed=Count("id", filter=Q(send_status="SEND_FAILED", is_test_mode=False)),
            test_mode=Count("id", filter=Q(is_test_mode=True)),
            avg_confidence=Avg("confidence_score"),
        )
        .order_by("market_code")
    )
    return [
        {
            "market": r["market_code"],
            "total": r["total"],
            "sent": r["sent"],
            "failed": r["failed"],
            "test_mode": r["test_mode"],
            "avg_confidence": round(r["avg_confidence"], 3) if r["avg_confidence"] is not None else None,
        }
        for r in rows
    ]


def quota_today(rows=None) -> list[dict]:
    """3.2.4 and the per-account figures: today's (Asia/Seoul) sends against each account's quota, the
    24 h failure rate and the consecutive real failures (test-mode sends never count)."""
    rows = rollout_rows() if rows is None else rows
    return [
        {
            "account": r.account.name,
            "market": r.account.market_code,
            "mode": r.controls.effective_mode,
            "phase": None if r.controls.phase_is_default else r.controls.phase_number,
            "sent_today": r.sent_today,
            "quota_used": r.quota_used,
            "quota": r.controls.daily_quota,
            "attempts_24h": r.attempts_24h,
            "failed_24h": r.failed_24h,
            "failure_rate_24h": round(r.failure_rate_24h * 100, 2) if r.failure_rate_24h is not None else None,
            "consecutive_failures": getattr(getattr(r.account, "rollout", None), "consecutive_failures", 0),
            "locked": r.controls.locked,
            "lock_reason": r.controls.lock_reason,
        }
        for r in rows
    ]


def attempts(*, window: dt.timedelta, now: dt.datetime | None = None) -> dict:
    """Real send attempts with a known result in the window, and the failures among them."""
    now = now or timezone.now()
    stats = attempt_stats(since=now - window)
    total = sum(s["total"] for s in stats.values())
    failed = sum(s["failed"] for s in stats.values())
    return {"attempts": total, "failed": failed, "failure_rate": _pct(failed, total)}


def follow_up_report(*, window: dt.timedelta, now: dt.datetime | None = None) -> dict:
    """Answers given in the window and the follow-ups they drew, per account, intent and path (automatic
    vs a person's answer), with totals per path. Rates in percent, like the other figures here."""
    now = now or timezone.now()
    rows = resolution_figures(since=now - window, until=now)
    out_rows = []
    totals: dict[str, dict] = {}
    for r in rows:
        out_rows.append(
            {
                "account": r["account"],
                "intent": r["intent"],
                "path": r["path"],
                "answers": r["answers"],
                "follow_ups": r["follow_ups"],
                "repeats": r["repeats"],
                "complaints": r["complaints"],
                "follow_up_rate": _pct(r["follow_ups"], r["answers"]),
                "complaint_rate": _pct(r["complaints"], r["answers"]),
            }
        )
        t = totals.setdefault(
            r["path"], {"path": r["path"], "answers": 0, "follow_ups": 0, "repeats": 0, "complaints": 0}
        )
        for name in ("answers", "follow_ups", "repeats", "complaints"):
            t[name] += r[name]
    by_path = []
    for path in (FollowUp.Path.AUTO, FollowUp.Path.HUMAN):
        t = totals.get(path, {"path": str(path), "answers": 0, "follow_ups": 0, "repeats": 0, "complaints": 0})
        by_path.append(
            {
                **t,
                "follow_up_rate": _pct(t["follow_ups"], t["answers"]),
                "complaint_rate": _pct(t["complaints"], t["answers"]),
            }
        )
    return {"by_account_intent": out_rows, "by_path": by_path}


def follow_ups_by_day(*, days: int = 14, now: dt.datetime | None = None) -> list[dict]:
    """Per Asia/Seoul day of the answer (oldest first, empty days filled in): automatic and human answers,
    and the share of each that drew a complaint follow-up (percent) — the dashboard's side-by-side."""
    now = now or timezone.now()
    today = now.astimezone(SEOUL).date()
    first = today - dt.timedelta(days=days - 1)
    counts = resolution_by_day(since=seoul_midnight(first), until=now, tz=SEOUL)
    out = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        entry: dict[str, Any] = {"day": day.isoformat()}
        for path, prefix in ((FollowUp.Path.AUTO, "auto"), (FollowUp.Path.HUMAN, "human")):
            c = counts.get((day, str(path)), {"answers": 0, "follow_ups": 0, "complaints": 0})
            entry.update(
                {
                    f"{prefix}_answers": c["answers"],
                    f"{prefix}_follow_ups": c["follow_ups"],
                    f"{prefix}_complaints": c["complaints"],
                    f"{prefix}_complaint_rate": _pct(c["complaints"], c["answers"]),
                }
            )
        out.append(entry)
    return out


def kpi_report(*, window: str = "24h", now: dt.datetime | None = None) -> dict:
    span = parse_window(window)
    now = now or timezone.now()
    return {
        "window": window,
        "generated_at": now.astimezone(SEOUL).isoformat(timespec="seconds"),
        "send_attempts": attempts(window=span, now=now),
        "shadow_stats_7d": shadow_stats(days=7, now=now),
        "failure_rates": failure_rates(window=span, now=now),
        "realtime_auto_send": realtime(window=span, now=now),
        "failure_rate_by_day_7d": [
            {**d, "rate": round(d["rate"] * 100, 2) if d["rate"] is not None else None}
            for d in daily_failure_rates(7, now=now)
        ],
        "quota_today": quota_today(),
        "follow_up": follow_up_report(window=span, now=now),
        # 1h, 24h and 7d whatever the window: the figure a CS team is judged by
        "first_response": first_response_report(now=now),
    }
