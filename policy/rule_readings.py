"""A rollback rule's figure now against its threshold (the monitor's dry run): the worst account for
the per-account rules, the last whole day for the daily streak."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count

from inquiries.models import Inquiry
from policy import followup_rule, risk_scan
from policy.kpi import daily_failure_rates
from policy.models import AccountRollout, RollbackRule
from policy.rule_figures import (
    GLOBAL,
    SETTLED_BY_PEOPLE,
    UNSETTLED,
    Metric,
    _failures,
    _min_sample,
    _real_attempts,
)


def _reading_counts(rule: RollbackRule, now: dt.datetime) -> tuple[float | None, int, str]:
    """(value, sample, scope) of the rule's figure now: the worst account for per-account rules."""
    since = now - dt.timedelta(minutes=rule.window_minutes)
    metric = rule.metric
    if metric == Metric.INTENT_COMPLAINT_RATE:
        return followup_rule.reading(rule, now)
    if metric == Metric.RISK_AUTO_SEND:
        sample = Inquiry.objects.filter(
            status=Inquiry.Status.AUTO_SEND, decided_at__gte=since, decided_at__lte=now
        ).count()
        return len(risk_scan.matches(since=since, until=now)), sample, GLOBAL
    if metric == Metric.CONSECUTIVE_FAILURES:
        worst = (
            AccountRollout.objects.select_related("account")
            .filter(locked_at__isnull=True)
            .order_by("-consecutive_failures", "account__name")
            .first()
        )
        value = worst.consecutive_failures if worst else 0
        return value, value, worst.account.name if worst else GLOBAL
    if metric == Metric.UNSETTLED_UNKNOWN:
        value = (
            Inquiry.objects.filter(send_status__in=UNSETTLED, claimed_at__lte=since, is_test_mode=False)
            .exclude(status__in=SETTLED_BY_PEOPLE)
            .count()
        )
        return value, value, GLOBAL
    if metric == Metric.DAILY_FAILURE_RATE_STREAK:
        day = daily_failure_rates(2, now=now)[-2]  # the last whole Asia/Seoul day
        return day["rate"], day["attempts"], day["day"]
    attempts = _real_attempts(since, now)
    if metric == Metric.ACCOUNT_FAILURE_RATE:
        rows = [
            r
            for r in attempts.values("account__name").annotate(
                total=Count("id"), failed=Count("id", filter=_failures())
            )
        ]
        if not rows:
            return None, 0, GLOBAL
        worst = max(rows, key=lambda r: (r["failed"] / r["total"], r["total"]))
        return worst["failed"] / worst["total"], worst["total"], worst["account__name"]
    agg = attempts.aggregate(total=Count("id"), failed=Count("id", filter=_failures()))
    if metric == Metric.FAILED_COUNT:
        return agg["failed"], agg["total"], GLOBAL
    return (agg["failed"] / agg["total"] if agg["total"] else None), agg["total"], GLOBAL


def rule_reading(rule: RollbackRule, now: dt.datetime, *, tripped: bool) -> dict:
    value, sample, scope = _reading_counts(rule, now)
    return {
        "rule": rule.code,
        "name": rule.name,
        "scope": scope,
        "value": value,
        "sample": sample,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "min_sample": _min_sample(rule),
        "is_rate": rule.metric in RATE_METRICS,
        "window_minutes": rule.window_minutes,
        "tripped": tripped,
    }


RATE_METRICS = (
    Metric.ACCOUNT_FAILURE_RATE,
    Metric.GLOBAL_FAILURE_RATE,
    Metric.DAILY_FAILURE_RATE_STREAK,
    Metric.INTENT_COMPLAINT_RATE,
)
