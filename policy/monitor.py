"""The rollback rules engine: the guide's table 4.1.2, watched by software.

``run_monitor()`` evaluates every enabled rule once (the schedule calls it every minute). A rule that
trips opens an incident — at most one open incident per rule and scope, enforced by a partial unique
constraint, so a rule fires once per incident instead of every minute — takes its action (unless the
rule is in dry-run) and queues notifications. Notifications never block the rollback: they are
written to an outbox in the same transaction and delivered afterwards, with retries.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from inquiries.models import Inquiry, SendAttempt
from markets.models import MarketAccount
from policy import services
from policy.hours import SEOUL
from policy.models import AccountRollout, AutomationSettings, Notification, NotificationChannel, RollbackIncident, RollbackRule
from policy.selectors import COUNTED_OUTCOMES, FAILURE_OUTCOMES, attempt_stats

log = logging.getLogger("partialauto.monitor")
MONITOR = services.Actor("system:monitor")
GLOBAL = "global"


@dataclass
class Trip:
    rule: RollbackRule
    account: MarketAccount | None
    figures: dict


@dataclass
class MonitorReport:
    evaluated: int = 0
    trips: list[dict] = field(default_factory=list)  # what tripped (including already-open incidents)
    opened: list[RollbackIncident] = field(default_factory=list)
    dry_run: bool = False


def _compare(rule: RollbackRule, value: float) -> bool:
    return value > rule.threshold if rule.comparison == ">" else value >= rule.threshold


# --- figures per metric -------------------------------------------------------------------------


def _risk_auto_send(rule: RollbackRule, now: dt.datetime) -> list[Trip]:
    """Inquiries decided AUTO_SEND in the window whose text matches a risk keyword — by the decision's
    own record or by today's keyword list (a keyword added after the decision still counts)."""
    from inquiries.agent.loader import load_context
    from inquiries.agent.risk import scan

    since = now - dt.timedelta(minutes=rule.window_minutes)
    rows = list(
        Inquiry.objects.filter(status=Inquiry.Status.AUTO_SEND, decided_at__gte=since)
        .values("id", "content", "title", "draft_answer", "risk_hits", "account__name")[:5000]
    )
    terms = load_context().risk_terms
    flagged = []
    for row in rows:
        hits = row["risk_hits"] or scan(f"{row['title']}\n{row['content']}", terms) or scan(row["draft_answer"] or "", terms)
        if hits:
            flagged.append({"inquiry": row["id"], "account": row["account__name"],
                            "terms": sorted({getattr(h, "term", None) or h.get("term") for h in hits})})
    count = len(flagged)
    if count >= max(rule.min_sample, 1) and _compare(rule, count):
        return [Trip(rule, None, {"count": count, "threshold": rule.threshold, "window_minutes": rule.window_minutes,
                                  "inquiries": flagged[:20]})]
    return []


def _consecutive(rule: RollbackRule, now: dt.datetime) -> list[Trip]:
    trips = []
    for rollout in AccountRollout.objects.select_related("account").filter(locked_at__isnull=True,
                                                                            consecutive_failures__gt=0):
        value = rollout.consecutive_failures
        if value >= rule.min_sample and _compare(rule, value):
            last = list(SendAttempt.objects.filter(account=rollout.account, is_test_mode=False, outcome__in=FAILURE_OUTCOMES)
                        .order_by("-started_at").values("inquiry_id", "outcome", "http_status", "error")[:value])
            trips.append(Trip(rule, rollout.account, {"consecutive_failures": value, "threshold": rule.threshold,
                                                      "last_failures": last}))
    return trips


def _failed_count(rule: RollbackRule, now: dt.datetime) -> list[Trip]:
    since = now - dt.timedelta(minutes=rule.window_minutes)
    qs = SendAttempt.objects.filter(started_at__gte=since, is_test_mode=False, outcome__in=FAILURE_OUTCOMES)
    count = qs.count()
    if count >= rule.min_sample and _compare(rule, count):
        by_account = dict(qs.values_list("account__name").annotate(n=Count("id")).values_list("account__name", "n"))
        return [Trip(rule, None, {"failed": count, "threshold": rule.threshold, "window_minutes": rule.window_minutes,
                                  "by_account": by_account})]
    return []


def _account_rate(rule: RollbackRule, now: dt.datetime) -> list[Trip]:
    since = now - dt.timedelta(minutes=rule.window_minutes)
    stats = attempt_stats(since=since)
    accounts = MarketAccount.objects.in_bulk(list(stats))
    trips = []
    for account_id, st in stats.items():
        if st["total"] < max(rule.min_sample, 1):
            continue
        rate = st["failed"] / st["total"]
        if _compare(rule, rate):
            trips.append(Trip(rule, accounts[account_id], {"failure_rate": round(rate, 4), "failed": st["failed"],
                                                           "attempts": st["total"], "threshold": rule.threshold,
                                                           "window_minutes": rule.window_minutes}))
    return trips


def _global_rate(rule: RollbackRule, now: dt.datetime) -> list[Trip]:
    since = now - dt.timedelta(minutes=rule.window_minutes)
    stats = attempt_stats(since=since)
    total = sum(s["total"] for s in stats.values())
    failed = sum(s["failed"] for s in stats.values())
    if total >= max(rule.min_sample, 1) and _compare(rule, failed / total):
        return [Trip(rule, None, {"failure_rate": round(failed / total, 4), "failed": failed, "attempts": total,
                                  "threshold": rule.threshold, "window_minutes": rule.window_minutes})]
    return []


def daily_failure_rates(days: int, *, now: dt.datetime | None = None) -> list[dict]:
    """Failure rate per Asia/Seoul day for the last ``days`` days (today included), oldest first."""
    now = now or timezone.now()
    today = now.astimezone(SEOUL).date()
    result = []
    for offset in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=offset)
        start = dt.datetime.combine(day, dt.time(0), tzinfo=SEOUL)
        qs = SendAttempt.objects.filter(started_at__gte=start, started_at__lt=start + dt.timedelta(days=1),
                                        is_test_mode=False, outcome__in=COUNTED_OUTCOMES)
        agg = qs.aggregate(total=Count("id"), failed=Count("id", filter=Q(outcome__in=FAILURE_OUTCOMES)))
        rate = agg["failed"] / agg["total"] if agg["total"] else None
        result.append({"day": day.isoformat(), "attempts": agg["total"], "failed": agg["failed"], "rate": rate})
    return result


def _streak(rule: RollbackRule, now: dt.datetime) -> list[Trip]:
    days = max(rule.streak_days, 1)
    series = daily_failure_rates(days, now=now)
    if all(d["attempts"] >= max(rule.min_sample, 1) and d["rate"] is not None and _compare(rule, d["rate"]) for d in series):
        return [Trip(rule, None, {"days": series, "threshold": rule.threshold, "streak_days": days})]
    return []


EVALUATORS = {
    RollbackRule.Metric.RISK_AUTO_SEND: _risk_auto_send,
    RollbackRule.Metric.CONSECUTIVE_FAILURES: _consecutive,
    RollbackRule.Metric.FAILED_COUNT: _failed_count,
    RollbackRule.Metric.ACCOUNT_FAILURE_RATE: _account_rate,
    RollbackRule.Metric.GLOBAL_FAILURE_RATE: _global_rate,
    RollbackRule.Metric.DAILY_FAILURE_RATE_STREAK: _streak,
}


# --- actions ---------------------------------------------------------------------------------------


def _describe_action(rule: RollbackRule, account: MarketAccount | None) -> str:
    if rule.action == RollbackRule.Action.LOCK_ACCOUNT:
        return f"lock account {account.name if account else '?'}"
    if rule.action == RollbackRule.Action.GLOBAL_TEST_MODE:
        return "global test mode on (CS_TEST_MODE=true)"
    return "partial-auto off: every account back to shadow mode (ENABLE_CS_PARTIAL_AUTO=false)"


def _act(rule: RollbackRule, account: MarketAccount | None, reason: str) -> None:
    if rule.action == RollbackRule.Action.LOCK_ACCOUNT:
        if account is not None:
            services.rollout_lock(account=account, reason=reason, actor=MONITOR)
    elif rule.action == RollbackRule.Action.GLOBAL_TEST_MODE:
        services.settings_update(actor=MONITOR, reason=reason, test_mode=True)
    elif rule.action == RollbackRule.Action.SHADOW_MODE:
        services.settings_update(actor=MONITOR, reason=reason, partial_auto=False)


def _open_incident(trip: Trip, *, now: dt.datetime) -> RollbackIncident | None:
    rule, account = trip.rule, trip.account
    scope = str(account.pk) if account is not None else GLOBAL
    if RollbackIncident.objects.filter(rule=rule, scope_key=scope,
                                       status__in=[RollbackIncident.Status.OPEN, RollbackIncident.Status.ACKNOWLEDGED]).exists():
        return None  # already tripped: one incident, one action, one notification
    action = _describe_action(rule, account)
    reason = f"rollback rule '{rule.name}' tripped"
    try:
        with transaction.atomic():
            incident = RollbackIncident.objects.create(
                rule=rule, account=account, scope_key=scope, fired_at=now, figures=trip.figures,
                action_taken=("DRY RUN — would: " if rule.dry_run else "") + action, dry_run=rule.dry_run,
            )
            if not rule.dry_run:
                _act(rule, account, f"{reason} (incident {incident.pk})")
                services._event(actor=MONITOR, action="AUTO_ROLLBACK", account=account, reason=reason,
                                data={"incident": incident.pk, "rule": rule.code, "action": action, "figures": trip.figures})
            for channel in NotificationChannel.objects.filter(is_active=True):
                Notification.objects.create(incident=incident, channel=channel)
    except IntegrityError:
        return None  # a concurrent monitor opened it first
    log.error("ROLLBACK %s: %s%s — %s", rule.code, "DRY RUN, would " if rule.dry_run else "", action, trip.figures)
    return incident


def run_monitor(*, dry_run: bool = False, metrics: tuple[str, ...] | None = None, now: dt.datetime | None = None) -> MonitorReport:
    """Evaluate the enabled rules once. ``dry_run`` reports what would happen and writes nothing."""
    now = now or timezone.now()
    report = MonitorReport(dry_run=dry_run)
    rules = RollbackRule.objects.filter(enabled=True).order_by("id")
    if metrics:
        rules = rules.filter(metric__in=metrics)
    for rule in rules:
        report.evaluated += 1
        try:
            trips = EVALUATORS[rule.metric](rule, now)
        except Exception:
            log.exception("rollback rule %s could not be evaluated", rule.code)
            continue
        for trip in trips:
            entry = {"rule": rule.code, "name": rule.name, "account": trip.account.name if trip.account else None,
                     "action": _describe_action(rule, trip.account), "rule_dry_run": rule.dry_run, "figures": trip.figures}
            report.trips.append(entry)
            if dry_run:
                continue
            incident = _open_incident(trip, now=now)
            if incident is not None:
                report.opened.append(incident)
    if not dry_run:
        if metrics is None:  # the heartbeat readiness checks: a full evaluation ran
            AutomationSettings.objects.filter(pk=1).update(last_monitor_run_at=now)
        if report.opened:
            from policy.notify import deliver_pending

            transaction.on_commit(deliver_pending)
    return report


def check_after_failure() -> None:
    """Called by the send path after a failure: the immediate rules need not wait for the minute."""
    try:
        run_monitor(metrics=(RollbackRule.Metric.CONSECUTIVE_FAILURES, RollbackRule.Metric.FAILED_COUNT))
    except Exception:
        log.exception("immediate rollback check failed; the scheduled monitor will run it")
