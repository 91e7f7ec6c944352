"""The rollback rules engine: the guide's table 4.1.2, watched by software.

``run_monitor()`` evaluates every enabled rule once (the schedule calls it every minute, the send path
calls the immediate ones after each failure). A rule that trips opens an incident that records the
rule, the figures that tripped it and the action taken, takes the action (unless the rule is in
dry-run) and queues notifications, all in one transaction. Notifications never block the rollback:
they are written to an outbox and delivered afterwards, with retries.

How the figures are read
  * Only real sends count: attempts in test mode (``is_test_mode``, outcome ``TEST_MODE``) are never
    failures, and attempts still in flight or blocked before the call are not in the denominator.
  * Only confirmed failures count. An unknown outcome (a timeout, a 5xx, a worker that died: the answer
    may have landed) is neither a failure nor in the denominator until reconciliation asks the
    marketplace and rewrites the attempt: ``DELIVERED``, ``FAILED_RETRYABLE`` (confirmed not delivered)
    or ``ALREADY_ANSWERED``. Unknown outcomes that stay unsettled have a rule of their own.
  * Each rule has a minimum sample, the observations its figure is computed over: AUTO_SEND decisions
    in the window (risk keywords), the failures in a row (consecutive failures), real attempts in the
    window (failure count, failure rates), real attempts on each day of the streak (7-day streak).
    Below it the rule does not trip.
  * An incident lists the rows that tripped it (at most ``ROWS_LISTED``, newest first): the send
    attempts and their inquiries, or the inquiries of the risk-keyword and unknown-outcome rules.
  * Windows end at ``now`` and start ``window_minutes`` earlier — or when a person last lifted the
    rule's action (unlocked the account, turned test mode off, switched partial-auto back on), if that
    is later: evidence from before the lift was already acted on, and must not re-trip the rule the
    minute after someone deliberately lifted it.

Once per incident
  One open (or acknowledged) incident per rule and scope (the account, or global), enforced by a
  partial unique constraint, so a rule fires once per incident instead of every minute. A resolved
  incident no longer holds the rule back: if the condition still holds, the next run opens a new one.
  If a person lifts the action while the incident is still open and the rule trips again on evidence
  gathered after the lift, the old incident is closed as superseded and a new one acts again — an
  open incident never disarms a rule. Rules in dry-run record their own incidents (``dry_run``,
  no action), apart from the real ones.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from inquiries.models import Inquiry, SendAttempt
from markets.models import MarketAccount
from policy import followup_rule, risk_scan, services
from policy.kpi import daily_failure_rates, seoul_midnight
from policy.models import (
    AccountRollout,
    AutomationSettings,
    Notification,
    NotificationChannel,
    RollbackIncident,
    RollbackRule,
    RolloutEvent,
)
from policy.selectors import COUNTED_OUTCOMES, FAILURE_OUTCOMES

log = logging.getLogger("partialauto.monitor")
MONITOR = services.Actor("system:monitor")
GLOBAL = "global"
DRY_RUN_SCOPE_SUFFIX = ":dry-run"
OPEN_STATES = (RollbackIncident.Status.OPEN, RollbackIncident.Status.ACKNOWLEDGED)
ROWS_LISTED = 20  # the rows an incident lists; its counts cover all of them
# Sends whose outcome is not known yet, and the statuses in which a person has settled them anyway.
UNSETTLED = (Inquiry.SendStatus.SENDING, Inquiry.SendStatus.SEND_UNKNOWN)
SETTLED_BY_PEOPLE = (Inquiry.Status.CLOSED, Inquiry.Status.ANSWERED_ELSEWHERE)

Metric = RollbackRule.Metric
Action = RollbackRule.Action


@dataclass
class Trip:
    rule: RollbackRule
    account: MarketAccount | None
    figures: dict
    scope: str = ""  # within the account: the intent of the intent rule


@dataclass
class MonitorReport:
    evaluated: int = 0
    trips: list[dict] = field(default_factory=list)  # what tripped (including already-open incidents)
    opened: list[RollbackIncident] = field(default_factory=list)
    superseded: list[RollbackIncident] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False
    readings: list[dict] = field(default_factory=list)  # dry run: each rule's current value against its threshold


def compare(rule: RollbackRule, value: float) -> bool:
    """``value`` against the rule's threshold. Rates are compared at 9 decimals so that 1 failure in
    50 attempts is exactly the 2 % of the guide, whatever the float representation."""
    value, threshold = round(float(value), 9), round(float(rule.threshold), 9)
    return value > threshold if rule.comparison == ">" else value >= threshold


def _min_sample(rule: RollbackRule) -> int:
    return max(rule.min_sample, 1)


# --- when a person last lifted an action -------------------------------------------------------------


class Baselines:
    """When a person last lifted each kind of action, from the rollout log (one query per kind, cached
    for one monitor run): an unlock of a locked account, test mode switched from on to off, the
    partial-auto switch from off to on. Changes that lifted nothing (a phase change, a setting saved
    with the same value) do not restart any count."""

    def __init__(self) -> None:
        self._global: dict[str, dt.datetime | None] = {}
        self._unlocks: dict[object, dt.datetime] | None = None
        self._restores: dict[tuple[object, str], dt.datetime] | None = None

    def intent_restores(self) -> dict[tuple[object, str], dt.datetime]:
        if self._restores is None:
            self._restores = followup_rule.last_restores()
        return self._restores

    def for_rule(self, rule: RollbackRule, account: MarketAccount | None = None, scope: str = "") -> dt.datetime | None:
        if rule.action == Action.WITHDRAW_INTENT:
            return self.intent_restores().get((account.pk, scope)) if account is not None else None
        if rule.action == Action.LOCK_ACCOUNT:
            if account is None:
                return None
            return self.unlocks().get(account.pk)
        if rule.action not in self._global:
            events = RolloutEvent.objects.filter(action=RolloutEvent.Action.SETTINGS)
            if rule.action == Action.GLOBAL_TEST_MODE:
                events = events.filter(data__before__test_mode=True, data__after__test_mode=False)
            else:
                events = events.filter(data__before__partial_auto_enabled=False, data__after__partial_auto_enabled=True)
            self._global[rule.action] = events.order_by("-at").values_list("at", flat=True).first()
        return self._global[rule.action]

    def unlocks(self) -> dict[object, dt.datetime]:
        if self._unlocks is None:
            rows = (
                RolloutEvent.objects.filter(
                    action=RolloutEvent.Action.UNLOCK, account__isnull=False, data__before__locked=True
                )
                .values("account_id")
                .annotate(last=Max("at"))
            )
            self._unlocks = {r["account_id"]: r["last"] for r in rows}
        return self._unlocks


def _start(now: dt.datetime, rule: RollbackRule, baseline: dt.datetime | None) -> dt.datetime:
    start = now - dt.timedelta(minutes=rule.window_minutes)
    return max(start, baseline) if baseline is not None else start


def _iso(value: dt.datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


# --- figures per metric -------------------------------------------------------------------------------


def _risk_auto_send(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    """Inquiries decided AUTO_SEND in the window whose text matches a risk keyword — by the decision's
    own record or by today's keyword list (a keyword added after the decision still counts). Each
    decision is read once (``policy.risk_scan``), however many the window holds."""
    since = _start(now, rule, base.for_rule(rule))
    widest = RollbackRule.objects.filter(metric=Metric.RISK_AUTO_SEND, enabled=True).aggregate(m=Max("window_minutes"))[
        "m"
    ]
    risk_scan.advance(covered_from=min(since, now - dt.timedelta(minutes=widest or rule.window_minutes)))
    flagged = risk_scan.matches(since=since, until=now)
    if not flagged or not compare(rule, len(flagged)):
        return []
    decisions = Inquiry.objects.filter(
        status=Inquiry.Status.AUTO_SEND, decided_at__gte=since, decided_at__lte=now
    ).count()
    if decisions < _min_sample(rule):
        return []
    rows = [
        {
            "inquiry": f["inquiry_id"],
            "account": f["inquiry__account__name"],
            "mode": f["inquiry__decision_mode"],
            "send_status": f["inquiry__send_status"],
            "terms": f["terms"],
        }
        for f in flagged[:ROWS_LISTED]
    ]
    return [
        Trip(
            rule,
            None,
            {
                "count": len(flagged),
                "auto_send_decisions": decisions,
                "threshold": rule.threshold,
                "since": _iso(since),
                "inquiries": rows,
            },
        )
    ]


def _consecutive(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    """Confirmed failures in a row per unlocked account, as the send path counts them (a success resets
    the count, test-mode sends and rate limiting leave it alone, an unlock resets it; an unknown outcome
    counts once reconciliation settles it). No window: three failures in a row are three failures in a
    row, however slow the account."""
    trips = []
    rollouts = (
        AccountRollout.objects.select_related("account")
        .filter(locked_at__isnull=True, consecutive_failures__gte=_min_sample(rule))
        .order_by("account__name")
    )
    for rollout in rollouts:
        value = rollout.consecutive_failures
        if not compare(rule, value):
            continue
        last = _failed_rows(
            SendAttempt.objects.filter(account=rollout.account, is_test_mode=False, started_at__lte=now),
            limit=min(value, ROWS_LISTED),
        )
        trips.append(
            Trip(
                rule,
                rollout.account,
                {"consecutive_failures": value, "threshold": rule.threshold, "last_failures": last},
            )
        )
    return trips


def _failures() -> Q:
    return Q(outcome__in=FAILURE_OUTCOMES)


def _real_attempts(start: dt.datetime, now: dt.datetime):
    return SendAttempt.objects.filter(
        started_at__gte=start, started_at__lte=now, is_test_mode=False, outcome__in=COUNTED_OUTCOMES
    )


def _failed_rows(attempts, *, limit: int = ROWS_LISTED) -> list[dict]:
    """The newest confirmed failures among ``attempts``, as an incident lists them."""
    rows = (
        attempts.filter(_failures())
        .order_by("-started_at", "-id")
        .values("id", "inquiry_id", "account__name", "outcome", "http_status", "error", "started_at")[:limit]
    )
    return [
        {
            "attempt": r["id"],
            "inquiry": r["inquiry_id"],
            "account": r["account__name"],
            "outcome": r["outcome"],
            "http_status": r["http_status"],
            "error": (r["error"] or "")[:200],
            "started_at": _iso(r["started_at"]),
        }
        for r in rows
    ]


def _failed_count(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    since = _start(now, rule, base.for_rule(rule))
    qs = _real_attempts(since, now)
    agg = qs.aggregate(total=Count("id"), failed=Count("id", filter=_failures()))
    if agg["total"] < _min_sample(rule) or not compare(rule, agg["failed"]):
        return []
    by_account = dict(
        qs.filter(outcome__in=FAILURE_OUTCOMES)
        .values_list("account__name")
        .annotate(n=Count("id"))
        .values_list("account__name", "n")
    )
    return [
        Trip(
            rule,
            None,
            {
                "failed": agg["failed"],
                "attempts": agg["total"],
                "threshold": rule.threshold,
                "window_minutes": rule.window_minutes,
                "since": _iso(since),
                "by_account": by_account,
                "failures": _failed_rows(qs),
            },
        )
    ]


def _account_rate(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    window_start = now - dt.timedelta(minutes=rule.window_minutes)
    rows = (
        _real_attempts(window_start, now)
        .values("account_id")
        .annotate(total=Count("id"), failed=Count("id", filter=_failures()))
    )
    candidates = {r["account_id"]: r for r in rows if r["total"] >= _min_sample(rule)}
    if not candidates:
        return []
    accounts = MarketAccount.objects.select_related("rollout").in_bulk(list(candidates))
    trips = []
    for account_id, row in sorted(candidates.items(), key=lambda kv: accounts[kv[0]].name):
        account = accounts[account_id]
        rollout = getattr(account, "rollout", None)
        if rule.action == Action.LOCK_ACCOUNT and rollout is not None and rollout.locked_at is not None:
            continue  # the lock stands until a person lifts it; then the count restarts
        since = _start(now, rule, base.for_rule(rule, account))
        attempts = _real_attempts(max(since, window_start), now).filter(account_id=account_id)
        if since > window_start:  # lifted inside the window: count only what came after
            row = attempts.aggregate(total=Count("id"), failed=Count("id", filter=_failures()))
            if row["total"] < _min_sample(rule):
                continue
        rate = row["failed"] / row["total"]
        if compare(rule, rate):
            trips.append(
                Trip(
                    rule,
                    account,
                    {
                        "failure_rate": round(rate, 4),
                        "failed": row["failed"],
                        "attempts": row["total"],
                        "threshold": rule.threshold,
                        "window_minutes": rule.window_minutes,
                        "since": _iso(since),
                        "failures": _failed_rows(attempts),
                    },
                )
            )
    return trips


def _global_rate(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    since = _start(now, rule, base.for_rule(rule))
    attempts = _real_attempts(since, now)
    agg = attempts.aggregate(total=Count("id"), failed=Count("id", filter=_failures()))
    total, failed = agg["total"], agg["failed"]
    if total < _min_sample(rule) or not compare(rule, failed / total):
        return []
    return [
        Trip(
            rule,
            None,
            {
                "failure_rate": round(failed / total, 4),
                "failed": failed,
                "attempts": total,
                "threshold": rule.threshold,
                "window_minutes": rule.window_minutes,
                "since": _iso(since),
                "failures": _failed_rows(attempts),
            },
        )
    ]


def _streak(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    """``streak_days`` Asia/Seoul days in a row, each with at least the minimum sample of real attempts
    and a failure rate at or above the threshold. The streak ends today when today already has the
    minimum sample, otherwise yesterday (a day that has just begun is not yet evidence either way)."""
    days = max(rule.streak_days, 1)
    since = base.for_rule(rule)
    series = daily_failure_rates(days + 1, now=now, since=since)

    def bad(d: dict) -> bool:
        return d["attempts"] >= _min_sample(rule) and d["rate"] is not None and compare(rule, d["rate"])

    today = series[-1]
    streak = series[1:] if today["attempts"] >= _min_sample(rule) else series[:-1]
    if all(bad(d) for d in streak):
        first = seoul_midnight(dt.date.fromisoformat(streak[0]["day"]))
        return [
            Trip(
                rule,
                None,
                {
                    "days": [{**d, "rate": round(d["rate"], 4)} for d in streak],
                    "threshold": rule.threshold,
                    "streak_days": days,
                    "min_sample_per_day": rule.min_sample,
                    **({"since": _iso(since)} if since else {}),
                    "failures": _failed_rows(_real_attempts(max(first, since or first), now)),
                },
            )
        ]
    return []


def _unsettled_unknown(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    """Sends whose outcome is still unknown ``window_minutes`` after they were claimed (reconciliation
    could not tell whether the answer landed, or gave up and handed it to a person), per account for an
    account action, else over all accounts. A person closing the inquiry settles it; sends claimed
    before the action was last lifted do not count."""
    cutoff = now - dt.timedelta(minutes=rule.window_minutes)
    # (id, account id, claimed_at), claimed_at non-null by the filter on it
    rows = cast(
        list[tuple[int, Any, dt.datetime]],
        list(
            Inquiry.objects.filter(send_status__in=UNSETTLED, claimed_at__lte=cutoff, is_test_mode=False)
            .exclude(status__in=SETTLED_BY_PEOPLE)
            .values_list("id", "account_id", "claimed_at")
        ),
    )
    if rule.action != Action.LOCK_ACCOUNT:
        since = base.for_rule(rule)
        return _unsettled_trip(rule, None, [r for r in rows if since is None or r[2] >= since], cutoff)
    accounts = MarketAccount.objects.select_related("rollout").in_bulk({r[1] for r in rows})
    trips = []
    for account in sorted(accounts.values(), key=lambda a: a.name):
        rollout = getattr(account, "rollout", None)
        if rollout is not None and rollout.locked_at is not None:
            continue  # the lock stands until a person lifts it
        since = base.for_rule(rule, account)
        mine = [r for r in rows if r[1] == account.pk and (since is None or r[2] >= since)]
        trips += _unsettled_trip(rule, account, mine, cutoff)
    return trips


def _unsettled_trip(
    rule: RollbackRule, account: MarketAccount | None, rows: list[tuple[int, Any, dt.datetime]], cutoff: dt.datetime
) -> list[Trip]:
    if len(rows) < _min_sample(rule) or not compare(rule, len(rows)):
        return []
    newest = sorted(rows, key=lambda r: (r[2], r[0]), reverse=True)[:ROWS_LISTED]
    ids = [r[0] for r in newest]
    claimed = {r[0]: r[2] for r in newest}
    last_attempt = dict(
        SendAttempt.objects.filter(inquiry_id__in=ids)
        .order_by("inquiry_id", "started_at", "id")
        .values_list("inquiry_id", "id")
    )
    details = {
        r["id"]: r
        for r in Inquiry.objects.filter(pk__in=ids).values(
            "id", "status", "send_status", "claimed_at", "reconcile_attempts", "last_send_error"
        )
    }
    listed = [
        {
            "inquiry": pk,
            "attempt": last_attempt.get(pk),
            "status": details[pk]["status"],
            "send_status": details[pk]["send_status"],
            "claimed_at": _iso(details[pk]["claimed_at"] or claimed[pk]),  # cleared since: when it tripped
            "reconcile_attempts": details[pk]["reconcile_attempts"],
            "error": details[pk]["last_send_error"][:200],
        }
        for pk in ids
        if pk in details
    ]
    return [
        Trip(
            rule,
            account,
            {
                "unsettled": len(rows),
                "threshold": rule.threshold,
                "window_minutes": rule.window_minutes,
                "claimed_before": _iso(cutoff),
                "inquiries": listed,
            },
        )
    ]


# --- current values (what ``monitor --dry-run`` shows for every rule, tripped or not) -----------------


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


EVALUATORS = {
    Metric.RISK_AUTO_SEND: _risk_auto_send,
    Metric.CONSECUTIVE_FAILURES: _consecutive,
    Metric.FAILED_COUNT: _failed_count,
    Metric.ACCOUNT_FAILURE_RATE: _account_rate,
    Metric.GLOBAL_FAILURE_RATE: _global_rate,
    Metric.DAILY_FAILURE_RATE_STREAK: _streak,
    Metric.UNSETTLED_UNKNOWN: _unsettled_unknown,
    Metric.INTENT_COMPLAINT_RATE: followup_rule.evaluate,
}


def _span(figures: dict) -> str:
    minutes = figures["window_minutes"]
    return _("%(n)d시간") % {"n": minutes // 60} if minutes % 60 == 0 else _("%(n)d분") % {"n": minutes}


def summarize(rule: RollbackRule, figures: dict) -> str:
    """The figures in one line, for lock reasons, logs and notification subjects."""
    pct = lambda v: f"{v * 100:.1f}%"  # noqa: E731
    metric = rule.metric
    if metric == Metric.RISK_AUTO_SEND:
        terms = sorted({t for i in figures.get("inquiries", []) for t in i.get("terms", [])})
        return _("위험 키워드가 있는 AUTO_SEND 문의 %(n)d건 (%(terms)s)") % {
            "n": figures["count"],
            "terms": ", ".join(terms),
        }
    if metric == Metric.CONSECUTIVE_FAILURES:
        return _("연속 전송 실패 %(n)d건") % {"n": figures["consecutive_failures"]}
    if metric == Metric.FAILED_COUNT:
        return _("%(span)s 동안 전송 실패 %(n)d건") % {"span": _span(figures), "n": figures["failed"]}
    if metric in (Metric.ACCOUNT_FAILURE_RATE, Metric.GLOBAL_FAILURE_RATE):
        return _("%(span)s 실패율 %(rate)s (%(failed)d/%(attempts)d)") % {
            "span": _span(figures),
            "rate": pct(figures["failure_rate"]),
            "failed": figures["failed"],
            "attempts": figures["attempts"],
        }
    if metric == Metric.DAILY_FAILURE_RATE_STREAK:
        return _("실패율 %(rate)s 이상이 %(n)d일 연속") % {"rate": pct(rule.threshold), "n": len(figures["days"])}
    if metric == Metric.INTENT_COMPLAINT_RATE:
        return followup_rule.summarize(figures)
    if metric == Metric.UNSETTLED_UNKNOWN:
        return _("결과 불명 전송 %(n)d건이 %(span)s 넘게 정산되지 않음") % {
            "n": figures["unsettled"],
            "span": _span(figures),
        }
    return ""


def incident_rows(figures: dict) -> list[dict]:
    """The rows an incident lists (``inquiry`` and, for sends, ``attempt``), whichever rule opened it."""
    for key in ("inquiries", "last_failures", "failures"):
        rows = (figures or {}).get(key)
        if isinstance(rows, list):
            return [
                {**row, "inquiry": row.get("inquiry", row.get("inquiry_id"))} for row in rows if isinstance(row, dict)
            ]
    return []


# --- actions ---------------------------------------------------------------------------------------


def describe_action(rule: RollbackRule, account: MarketAccount | None, scope: str = "") -> str:
    if rule.action == Action.WITHDRAW_INTENT:
        return followup_rule.describe(account, scope)
    if rule.action == Action.LOCK_ACCOUNT:
        return _("계정 %(account)s 잠금") % {"account": account.name if account else "?"}
    if rule.action == Action.GLOBAL_TEST_MODE:
        return _("전체 테스트 모드 켬 (CS_TEST_MODE=true)")
    return _("부분 자동화 끔: 모든 계정 섀도 모드로 복귀 (ENABLE_CS_PARTIAL_AUTO=false)")


def action_in_effect(rule: RollbackRule, account: MarketAccount | None, scope: str = "") -> bool:
    """Whether the rule's action currently holds (in the database, which people change)."""
    if rule.action == Action.WITHDRAW_INTENT:
        return followup_rule.in_effect(account, scope)
    if rule.action == Action.LOCK_ACCOUNT:
        return account is not None and AccountRollout.objects.filter(account=account, locked_at__isnull=False).exists()
    conf = AutomationSettings.get_solo()
    if rule.action == Action.GLOBAL_TEST_MODE:
        return conf.test_mode
    return not conf.partial_auto_enabled


def _act(
    rule: RollbackRule,
    account: MarketAccount | None,
    reason: str,
    scope: str = "",
    incident: RollbackIncident | None = None,
) -> str:
    """Apply the action; returns what was done."""
    description = describe_action(rule, account, scope)
    if rule.action == Action.WITHDRAW_INTENT:
        if account is None or not scope:
            raise ValueError("an intent rule tripped without an account and intent")
        followup_rule.intent_withdraw(account=account, intent=scope, reason=reason, actor=MONITOR, incident=incident)
        return description
    if rule.action == Action.LOCK_ACCOUNT:
        if account is None:
            raise ValueError("an account rule tripped without an account")
        services.rollout_lock(account=account, reason=reason, actor=MONITOR)
        return description
    if action_in_effect(rule, account):
        return _("%(action)s — 이미 적용됨") % {"action": description}
    if rule.action == Action.GLOBAL_TEST_MODE:
        services.settings_update(actor=MONITOR, reason=reason, test_mode=True)
    else:
        services.settings_update(actor=MONITOR, reason=reason, partial_auto=False)
    return description


def _scope_key(trip: Trip) -> str:
    scope = str(trip.account.pk) if trip.account is not None else GLOBAL
    if trip.scope:
        scope += f":{trip.scope}"
    return scope + DRY_RUN_SCOPE_SUFFIX if trip.rule.dry_run else scope


def _open_incident(trip: Trip, *, now: dt.datetime, base: Baselines, report: MonitorReport) -> RollbackIncident | None:
    rule, account = trip.rule, trip.account
    scope = _scope_key(trip)
    existing = RollbackIncident.objects.filter(rule=rule, scope_key=scope, status__in=OPEN_STATES).first()
    supersede = False
    if existing is not None:
        # Fired once for this incident. Only a lift by a person after it fired (the evidence that
        # tripped the rule now is from after the lift) re-arms the rule while it is still open.
        lifted = base.for_rule(rule, account, trip.scope)
        if rule.dry_run or action_in_effect(rule, account, trip.scope) or lifted is None or lifted <= existing.fired_at:
            return None
        supersede = True
    summary = summarize(rule, trip.figures)
    try:
        with transaction.atomic():
            if supersede and existing is not None:
                RollbackIncident.objects.filter(pk=existing.pk, status__in=OPEN_STATES).update(
                    status=RollbackIncident.Status.RESOLVED,
                    resolved_at=now,
                    resolution_note=_("대체됨: 조치가 풀린 뒤 규칙이 다시 발동 (%(summary)s)") % {"summary": summary},
                )
                report.superseded.append(existing)
            incident = RollbackIncident.objects.create(
                rule=rule,
                account=account,
                scope_key=scope,
                fired_at=now,
                figures=trip.figures,
                action_taken=(
                    _("시험 실행 — 실행했다면: %(action)s") % {"action": describe_action(rule, account, trip.scope)}
                )
                if rule.dry_run
                else "",
                dry_run=rule.dry_run,
            )
            if not rule.dry_run:
                reason = _("롤백 규칙 '%(rule)s' 발동: %(summary)s (사고 %(pk)s)") % {
                    "rule": rule.name,
                    "summary": summary,
                    "pk": incident.pk,
                }
                try:
                    with transaction.atomic():
                        taken = _act(rule, account, reason, trip.scope, incident)
                except Exception as exc:  # the incident and the alarm must survive a failing action
                    log.exception("rollback rule %s: action failed", rule.code)
                    taken = _("조치 실패 (%(action)s): %(error)s") % {
                        "action": describe_action(rule, account, trip.scope),
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                    report.errors.append(f"{rule.code}: {taken}")
                incident.action_taken = taken[:300]
                incident.save(update_fields=["action_taken"])
                services._event(
                    actor=MONITOR,
                    action=RolloutEvent.Action.AUTO_ROLLBACK,
                    account=account,
                    reason=reason,
                    data={"incident": incident.pk, "rule": rule.code, "action": taken, "figures": trip.figures},
                )
            Notification.objects.bulk_create(
                Notification(incident=incident, channel=channel)
                for channel in NotificationChannel.objects.filter(is_active=True)
            )
    except IntegrityError:
        return None  # a concurrent monitor opened it first
    log.error(
        "ROLLBACK %s [%s]: %s — %s", rule.code, account.name if account else GLOBAL, incident.action_taken, summary
    )
    return incident


def run_monitor(
    *,
    dry_run: bool = False,
    metrics: tuple[str, ...] | None = None,
    now: dt.datetime | None = None,
    deliver: bool = True,
) -> MonitorReport:
    """Evaluate the enabled rules once and act. ``dry_run`` reports what would trip and writes nothing.

    ``metrics`` limits the run to some rules (the send path's immediate check); only a full run is a
    heartbeat for the readiness check. ``deliver`` sends the due notifications after the commit."""
    now = now or timezone.now()
    report = MonitorReport(dry_run=dry_run)
    rules = RollbackRule.objects.filter(enabled=True).order_by("id")
    if metrics:
        rules = rules.filter(metric__in=metrics)
    if dry_run:
        with transaction.atomic():  # nothing of a dry run lasts, not even the risk scan's progress
            _evaluate(rules, now=now, report=report)
            transaction.set_rollback(True)
        return report
    _evaluate(rules, now=now, report=report)
    if metrics is None:  # the heartbeat the readiness check reads: a full evaluation ran
        AutomationSettings.objects.filter(pk=1).update(last_monitor_run_at=now)
    if report.opened and deliver:
        from policy.notify import deliver_pending

        transaction.on_commit(deliver_pending)
    return report


def _evaluate(rules, *, now: dt.datetime, report: MonitorReport) -> None:
    base = Baselines()
    for rule in rules:
        report.evaluated += 1
        try:
            # Inside a transaction (a dry run), a savepoint: a rule whose query fails leaves the others a usable one.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                trips = EVALUATORS[rule.metric](rule, now, base)
        except Exception as exc:
            log.exception("rollback rule %s could not be evaluated", rule.code)
            report.errors.append(f"{rule.code}: {type(exc).__name__}: {exc}")
            continue
        if report.dry_run:
            report.readings.append(rule_reading(rule, now, tripped=bool(trips)))
        for trip in trips:
            report.trips.append(
                {
                    "rule": rule.code,
                    "name": rule.name,
                    "account": trip.account.name if trip.account else None,
                    "action": describe_action(rule, trip.account, trip.scope),
                    "rule_dry_run": rule.dry_run,
                    "summary": summarize(rule, trip.figures),
                    "figures": trip.figures,
                }
            )
            if report.dry_run:
                continue
            try:
                incident = _open_incident(trip, now=now, base=base, report=report)
            except Exception as exc:  # one rule's trouble must not keep the others from acting
                log.exception("rollback rule %s: could not open the incident", rule.code)
                report.errors.append(f"{rule.code}: {type(exc).__name__}: {exc}")
                continue
            if incident is not None:
                report.opened.append(incident)


def check_after_failure() -> None:
    """Called by the send path after a real failure: the immediate rules need not wait for the minute.
    Notifications go to a worker (or the every-minute delivery schedule), not this sender."""
    try:
        report = run_monitor(metrics=(Metric.CONSECUTIVE_FAILURES, Metric.FAILED_COUNT), deliver=False)
    except Exception:
        log.exception("immediate rollback check failed; the scheduled monitor will run it")
        return
    if report.opened:
        from policy.notify import enqueue_delivery

        transaction.on_commit(enqueue_delivery)
