"""What the rollback rules measure: per metric, the figures over a rule's window since a person last
lifted its action, and the trips. The monitor (``policy.monitor``) acts on them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from django.db.models import Count, Max, Q
from django.utils import timezone

from inquiries.models import Inquiry, SendAttempt
from markets.models import MarketAccount
from policy import followup_rule, risk_scan
from policy.kpi import daily_failure_rates, seoul_midnight
from policy.models import (
    AccountRollout,
    RollbackIncident,
    RollbackRule,
    RolloutEvent,
)
from policy.selectors import COUNTED_OUTCOMES, FAILURE_OUTCOMES

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
