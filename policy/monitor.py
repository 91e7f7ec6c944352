"""The rollback rules engine: the guide's table 4.1.2, watched by software.

``run_monitor()`` evaluates every enabled rule once (the schedule calls it every minute, the send path
calls the immediate ones after each failure). A rule that trips opens an incident that records the
rule, the figures that tripped it and the action taken, takes the action (unless the rule is in
dry-run) and queues notifications, all in one transaction. Notifications never block the rollback:
they are written to an outbox and delivered afterwards, with retries.

How the figures are read
  * Only real sends count: attempts in test mode (``is_test_mode``, outcome ``TEST_MODE``) are never
    failures, and attempts still in flight or blocked before the call are not in the denominator.
  * Each rule has a minimum sample, the observations its figure is computed over: AUTO_SEND decisions
    in the window (risk keywords), the failures in a row (consecutive failures), real attempts in the
    window (failure count, failure rates), real attempts on each day of the streak (7-day streak).
    Below it the rule does not trip.
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
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from inquiries.models import Inquiry, SendAttempt
from markets.models import MarketAccount
from policy import services
from policy.kpi import daily_failure_rates  # noqa: F401  (re-exported: the readiness checks use it)
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
# An AUTO_SEND decided in the window was created (asked on the marketplace) at most this long before:
# bounds the scan to recent rows of the (status, created_at) index.
RISK_LOOKBACK = dt.timedelta(days=7)
RISK_SCAN_LIMIT = 5000

Metric = RollbackRule.Metric
Action = RollbackRule.Action


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
    superseded: list[RollbackIncident] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False


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

    def for_rule(self, rule: RollbackRule, account: MarketAccount | None = None) -> dt.datetime | None:
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
            rows = (RolloutEvent.objects.filter(action=RolloutEvent.Action.UNLOCK, account__isnull=False,
                                                data__before__locked=True)
                    .values("account_id").annotate(last=Max("at")))
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
    own record or by today's keyword list (a keyword added after the decision still counts)."""
    from inquiries.agent.loader import load_context
    from inquiries.agent.risk import scan

    since = _start(now, rule, base.for_rule(rule))
    rows = list(
        Inquiry.objects.filter(status=Inquiry.Status.AUTO_SEND, created_at__gte=since - RISK_LOOKBACK,
                               decided_at__gte=since, decided_at__lte=now)
        .order_by("-decided_at")
        .values("id", "content", "title", "draft_answer", "risk_hits", "decision_mode", "send_status", "account__name")
        [:RISK_SCAN_LIMIT]
    )
    if len(rows) < _min_sample(rule):
        return []
    terms = load_context().risk_terms
    flagged = []
    for row in rows:
        hits = [h.get("term") for h in (row["risk_hits"] or []) if isinstance(h, dict)]
        if not hits:
            hits = [h.term for h in scan(f"{row['title']}\n{row['content']}", terms)]
            hits += [h.term for h in scan(row["draft_answer"] or "", terms)]
        if hits:
            flagged.append({"inquiry": row["id"], "account": row["account__name"], "mode": row["decision_mode"],
                            "send_status": row["send_status"], "terms": sorted(set(filter(None, hits)))})
    if flagged and compare(rule, len(flagged)):
        return [Trip(rule, None, {"count": len(flagged), "auto_send_decisions": len(rows), "threshold": rule.threshold,
                                  "since": _iso(since), "inquiries": flagged[:20]})]
    return []


def _consecutive(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    """Failures in a row per unlocked account, as the send path counts them (a success resets the count,
    test-mode sends and rate limiting leave it alone, an unlock resets it). No window: three failures in
    a row are three failures in a row, however slow the account."""
    trips = []
    rollouts = (AccountRollout.objects.select_related("account")
                .filter(locked_at__isnull=True, consecutive_failures__gte=_min_sample(rule)).order_by("account__name"))
    for rollout in rollouts:
        value = rollout.consecutive_failures
        if not compare(rule, value):
            continue
        last = list(SendAttempt.objects.filter(account=rollout.account, is_test_mode=False, outcome__in=FAILURE_OUTCOMES,
                                               started_at__lte=now)
                    .order_by("-started_at").values("inquiry_id", "outcome", "http_status", "error", "started_at")[:value])
        for row in last:
            row["error"] = (row["error"] or "")[:200]
            row["started_at"] = _iso(row["started_at"])
        trips.append(Trip(rule, rollout.account, {"consecutive_failures": value, "threshold": rule.threshold,
                                                  "last_failures": last}))
    return trips


def _failures() -> Q:
    return Q(outcome__in=FAILURE_OUTCOMES)


def _real_attempts(start: dt.datetime, now: dt.datetime):
    return SendAttempt.objects.filter(started_at__gte=start, started_at__lte=now, is_test_mode=False,
                                      outcome__in=COUNTED_OUTCOMES)


def _failed_count(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    since = _start(now, rule, base.for_rule(rule))
    qs = _real_attempts(since, now)
    agg = qs.aggregate(total=Count("id"), failed=Count("id", filter=_failures()))
    if agg["total"] < _min_sample(rule) or not compare(rule, agg["failed"]):
        return []
    by_account = dict(qs.filter(outcome__in=FAILURE_OUTCOMES).values_list("account__name")
                      .annotate(n=Count("id")).values_list("account__name", "n"))
    return [Trip(rule, None, {"failed": agg["failed"], "attempts": agg["total"], "threshold": rule.threshold,
                              "window_minutes": rule.window_minutes, "since": _iso(since), "by_account": by_account})]


def _account_rate(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    window_start = now - dt.timedelta(minutes=rule.window_minutes)
    rows = (_real_attempts(window_start, now).values("account_id")
            .annotate(total=Count("id"), failed=Count("id", filter=_failures())))
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
        if since > window_start:  # lifted inside the window: count only what came after
            row = (_real_attempts(since, now).filter(account_id=account_id)
                   .aggregate(total=Count("id"), failed=Count("id", filter=_failures())))
            if row["total"] < _min_sample(rule):
                continue
        rate = row["failed"] / row["total"]
        if compare(rule, rate):
            trips.append(Trip(rule, account, {"failure_rate": round(rate, 4), "failed": row["failed"],
                                              "attempts": row["total"], "threshold": rule.threshold,
                                              "window_minutes": rule.window_minutes, "since": _iso(since)}))
    return trips


def _global_rate(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    since = _start(now, rule, base.for_rule(rule))
    agg = _real_attempts(since, now).aggregate(total=Count("id"), failed=Count("id", filter=_failures()))
    total, failed = agg["total"], agg["failed"]
    if total < _min_sample(rule) or not compare(rule, failed / total):
        return []
    return [Trip(rule, None, {"failure_rate": round(failed / total, 4), "failed": failed, "attempts": total,
                              "threshold": rule.threshold, "window_minutes": rule.window_minutes, "since": _iso(since)})]


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
        return [Trip(rule, None, {"days": [{**d, "rate": round(d["rate"], 4)} for d in streak],
                                  "threshold": rule.threshold, "streak_days": days, "min_sample_per_day": rule.min_sample,
                                  **({"since": _iso(since)} if since else {})})]
    return []


EVALUATORS = {
    Metric.RISK_AUTO_SEND: _risk_auto_send,
    Metric.CONSECUTIVE_FAILURES: _consecutive,
    Metric.FAILED_COUNT: _failed_count,
    Metric.ACCOUNT_FAILURE_RATE: _account_rate,
    Metric.GLOBAL_FAILURE_RATE: _global_rate,
    Metric.DAILY_FAILURE_RATE_STREAK: _streak,
}


def _span(figures: dict) -> str:
    minutes = figures["window_minutes"]
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}min"


def summarize(rule: RollbackRule, figures: dict) -> str:
    """The figures in one line, for lock reasons, logs and notification subjects."""
    pct = lambda v: f"{v * 100:.1f}%"  # noqa: E731
    metric = rule.metric
    if metric == Metric.RISK_AUTO_SEND:
        terms = sorted({t for i in figures.get("inquiries", []) for t in i.get("terms", [])})
        return f"{figures['count']} AUTO_SEND inquiry(ies) with risk keywords ({', '.join(terms)})"
    if metric == Metric.CONSECUTIVE_FAILURES:
        return f"{figures['consecutive_failures']} consecutive send failures"
    if metric == Metric.FAILED_COUNT:
        return f"{figures['failed']} failed sends in {_span(figures)}"
    if metric in (Metric.ACCOUNT_FAILURE_RATE, Metric.GLOBAL_FAILURE_RATE):
        return f"failure rate {pct(figures['failure_rate'])} ({figures['failed']}/{figures['attempts']}) in {_span(figures)}"
    if metric == Metric.DAILY_FAILURE_RATE_STREAK:
        return f"failure rate >= {pct(rule.threshold)} on {len(figures['days'])} days in a row"
    return ""


# --- actions ---------------------------------------------------------------------------------------


def describe_action(rule: RollbackRule, account: MarketAccount | None) -> str:
    if rule.action == Action.LOCK_ACCOUNT:
        return f"lock account {account.name if account else '?'}"
    if rule.action == Action.GLOBAL_TEST_MODE:
        return "global test mode on (CS_TEST_MODE=true)"
    return "partial-auto off: every account back to shadow mode (ENABLE_CS_PARTIAL_AUTO=false)"


def action_in_effect(rule: RollbackRule, account: MarketAccount | None) -> bool:
    """Whether the rule's action currently holds (in the database, which people change)."""
    if rule.action == Action.LOCK_ACCOUNT:
        return account is not None and AccountRollout.objects.filter(account=account, locked_at__isnull=False).exists()
    conf = AutomationSettings.get_solo()
    if rule.action == Action.GLOBAL_TEST_MODE:
        return conf.test_mode
    return not conf.partial_auto_enabled


def _act(rule: RollbackRule, account: MarketAccount | None, reason: str) -> str:
    """Apply the action; returns what was done."""
    description = describe_action(rule, account)
    if rule.action == Action.LOCK_ACCOUNT:
        if account is None:
            raise ValueError("an account rule tripped without an account")
        services.rollout_lock(account=account, reason=reason, actor=MONITOR)
        return description
    if action_in_effect(rule, account):
        return f"{description} — already in effect"
    if rule.action == Action.GLOBAL_TEST_MODE:
        services.settings_update(actor=MONITOR, reason=reason, test_mode=True)
    else:
        services.settings_update(actor=MONITOR, reason=reason, partial_auto=False)
    return description


def _scope_key(trip: Trip) -> str:
    scope = str(trip.account.pk) if trip.account is not None else GLOBAL
    return scope + DRY_RUN_SCOPE_SUFFIX if trip.rule.dry_run else scope


def _open_incident(trip: Trip, *, now: dt.datetime, base: Baselines, report: MonitorReport) -> RollbackIncident | None:
    rule, account = trip.rule, trip.account
    scope = _scope_key(trip)
    existing = RollbackIncident.objects.filter(rule=rule, scope_key=scope, status__in=OPEN_STATES).first()
    supersede = False
    if existing is not None:
        # Fired once for this incident. Only a lift by a person after it fired (the evidence that
        # tripped the rule now is from after the lift) re-arms the rule while it is still open.
        lifted = base.for_rule(rule, account)
        if rule.dry_run or action_in_effect(rule, account) or lifted is None or lifted <= existing.fired_at:
            return None
        supersede = True
    summary = summarize(rule, trip.figures)
    try:
        with transaction.atomic():
            if supersede:
                RollbackIncident.objects.filter(pk=existing.pk, status__in=OPEN_STATES).update(
                    status=RollbackIncident.Status.RESOLVED, resolved_at=now,
                    resolution_note=f"superseded: the action was lifted and the rule tripped again ({summary})")
                report.superseded.append(existing)
            incident = RollbackIncident.objects.create(
                rule=rule, account=account, scope_key=scope, fired_at=now, figures=trip.figures,
                action_taken=("DRY RUN — would: " + describe_action(rule, account)) if rule.dry_run else "",
                dry_run=rule.dry_run,
            )
            if not rule.dry_run:
                reason = f"rollback rule '{rule.name}' tripped: {summary} (incident {incident.pk})"
                try:
                    with transaction.atomic():
                        taken = _act(rule, account, reason)
                except Exception as exc:  # the incident and the alarm must survive a failing action
                    log.exception("rollback rule %s: action failed", rule.code)
                    taken = f"ACTION FAILED ({describe_action(rule, account)}): {type(exc).__name__}: {exc}"
                    report.errors.append(f"{rule.code}: {taken}")
                incident.action_taken = taken[:300]
                incident.save(update_fields=["action_taken"])
                services._event(actor=MONITOR, action=RolloutEvent.Action.AUTO_ROLLBACK, account=account,
                                reason=reason, data={"incident": incident.pk, "rule": rule.code, "action": taken,
                                                     "figures": trip.figures})
            Notification.objects.bulk_create(
                Notification(incident=incident, channel=channel)
                for channel in NotificationChannel.objects.filter(is_active=True)
            )
    except IntegrityError:
        return None  # a concurrent monitor opened it first
    log.error("ROLLBACK %s [%s]: %s — %s", rule.code, account.name if account else GLOBAL,
              incident.action_taken, summary)
    return incident


def run_monitor(*, dry_run: bool = False, metrics: tuple[str, ...] | None = None, now: dt.datetime | None = None,
                deliver: bool = True) -> MonitorReport:
    """Evaluate the enabled rules once and act. ``dry_run`` reports what would trip and writes nothing.

    ``metrics`` limits the run to some rules (the send path's immediate check); only a full run is a
    heartbeat for the readiness check. ``deliver`` sends the due notifications after the commit."""
    now = now or timezone.now()
    report = MonitorReport(dry_run=dry_run)
    base = Baselines()
    rules = RollbackRule.objects.filter(enabled=True).order_by("id")
    if metrics:
        rules = rules.filter(metric__in=metrics)
    for rule in rules:
        report.evaluated += 1
        try:
            trips = EVALUATORS[rule.metric](rule, now, base)
        except Exception as exc:
            log.exception("rollback rule %s could not be evaluated", rule.code)
            report.errors.append(f"{rule.code}: {type(exc).__name__}: {exc}")
            continue
        for trip in trips:
            report.trips.append({"rule": rule.code, "name": rule.name, "account": trip.account.name if trip.account else None,
                                 "action": describe_action(rule, trip.account), "rule_dry_run": rule.dry_run,
                                 "summary": summarize(rule, trip.figures), "figures": trip.figures})
            if dry_run:
                continue
            try:
                incident = _open_incident(trip, now=now, base=base, report=report)
            except Exception as exc:  # one rule's trouble must not keep the others from acting
                log.exception("rollback rule %s: could not open the incident", rule.code)
                report.errors.append(f"{rule.code}: {type(exc).__name__}: {exc}")
                continue
            if incident is not None:
                report.opened.append(incident)
    if not dry_run:
        if metrics is None:  # the heartbeat the readiness check reads: a full evaluation ran
            AutomationSettings.objects.filter(pk=1).update(last_monitor_run_at=now)
        if report.opened and deliver:
            from policy.notify import deliver_pending

            transaction.on_commit(deliver_pending)
    return report


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
