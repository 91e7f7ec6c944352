"""The guide's monitoring figures (1.2, 1.3, 3.2.4, 4.1.1) as read-side functions.

Windows read recent rows only (``created_at``/``started_at`` indexes), so the cost does not grow with
years of history. Test-mode rows never count as failures.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from inquiries.models import Inquiry
from policy.hours import SEOUL
from policy.selectors import attempt_stats, rollout_rows

WINDOWS = {"1h": dt.timedelta(hours=1), "24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}


def parse_window(value: str) -> dt.timedelta:
    try:
        return WINDOWS[value]
    except KeyError:
        raise ValueError(f"unknown window '{value}' (use {', '.join(WINDOWS)})") from None


def shadow_stats(*, days: int = 7, now: dt.datetime | None = None) -> list[dict]:
    """1.2: per Asia/Seoul day: inquiries, AUTO_SEND decisions (candidates in shadow mode), rate."""
    now = now or timezone.now()
    rows = (
        Inquiry.objects.filter(created_at__gte=now - dt.timedelta(days=days))
        .annotate(day=TruncDate("created_at", tzinfo=SEOUL)).values("day")
        .annotate(total=Count("id"), auto_send=Count("id", filter=Q(status="AUTO_SEND")),
                  shadow_candidates=Count("id", filter=Q(status="AUTO_SEND", decision_mode="SHADOW")))
        .order_by("-day")
    )
    return [{"date": r["day"].isoformat(), "total": r["total"], "auto_send": r["auto_send"],
             "shadow_candidates": r["shadow_candidates"],
             "auto_rate": round(r["auto_send"] / r["total"] * 100, 2) if r["total"] else 0.0} for r in rows]


def failure_rates(*, window: dt.timedelta, now: dt.datetime | None = None) -> list[dict]:
    """1.3, per market and account: inquiries with a real send attempt, how many ended SEND_FAILED."""
    now = now or timezone.now()
    rows = (
        Inquiry.objects.filter(created_at__gte=now - window, send_attempts__gt=0, is_test_mode=False)
        .values("market_code", "account__name")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(send_status="SEND_FAILED")),
                  unknown=Count("id", filter=Q(send_status="SEND_UNKNOWN")), sent=Count("id", filter=Q(send_status="SENT")))
        .order_by("market_code", "account__name")
    )
    return [{"market": r["market_code"], "account": r["account__name"], "attempted": r["total"], "sent": r["sent"],
             "failed": r["failed"], "unknown": r["unknown"],
             "failure_rate": round(r["failed"] / r["total"] * 100, 2) if r["total"] else 0.0} for r in rows]


def realtime(*, window: dt.timedelta, now: dt.datetime | None = None) -> list[dict]:
    """4.1.1: AUTO_SEND decisions in the window per market: sent, failed, average confidence."""
    now = now or timezone.now()
    rows = (
        Inquiry.objects.filter(status="AUTO_SEND", created_at__gte=now - window).values("market_code")
        .annotate(total=Count("id"), sent=Count("id", filter=Q(send_status="SENT")),
                  failed=Count("id", filter=Q(send_status="SEND_FAILED", is_test_mode=False)),
                  test_mode=Count("id", filter=Q(is_test_mode=True)), avg_confidence=Avg("confidence_score"))
        .order_by("market_code")
    )
    return [{"market": r["market_code"], "total": r["total"], "sent": r["sent"], "failed": r["failed"],
             "test_mode": r["test_mode"],
             "avg_confidence": round(r["avg_confidence"], 3) if r["avg_confidence"] is not None else None} for r in rows]


def quota_today() -> list[dict]:
    """3.2.4: today's (Asia/Seoul) sends against each account's quota, with 24 h failure rate."""
    return [{"account": r.account.name, "mode": r.controls.effective_mode, "phase": r.controls.phase_number,
             "sent_today": r.sent_today, "quota_used": r.quota_used, "quota": r.controls.daily_quota,
             "failure_rate_24h": round(r.failure_rate_24h * 100, 2) if r.failure_rate_24h is not None else None,
             "consecutive_failures": getattr(getattr(r.account, "rollout", None), "consecutive_failures", 0),
             "locked": r.controls.locked, "lock_reason": r.controls.lock_reason} for r in rollout_rows()]


def attempts(*, window: dt.timedelta, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    stats = attempt_stats(since=now - window)
    total = sum(s["total"] for s in stats.values())
    failed = sum(s["failed"] for s in stats.values())
    return {"attempts": total, "failed": failed, "failure_rate": round(failed / total * 100, 2) if total else None}


def kpi_report(*, window: str = "24h", now: dt.datetime | None = None) -> dict:
    span = parse_window(window)
    now = now or timezone.now()
    return {
        "window": window,
        "generated_at": now.astimezone(SEOUL).isoformat(timespec="seconds"),
        "shadow_stats_7d": shadow_stats(days=7, now=now),
        "failure_rates": failure_rates(window=span, now=now),
        "realtime_auto_send": realtime(window=span, now=now),
        "send_attempts": attempts(window=span, now=now),
        "quota_today": quota_today(),
    }
