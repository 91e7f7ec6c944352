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

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from markets.models import MarketAccount
from policy import followup_rule, services
from policy.models import (
    AccountRollout,
    AutomationSettings,
    Notification,
    NotificationChannel,
    RollbackIncident,
    RollbackRule,
    RolloutEvent,
)
from policy.rule_figures import (
    DRY_RUN_SCOPE_SUFFIX,
    EVALUATORS,
    GLOBAL,
    OPEN_STATES,
    Action,
    Baselines,
    Metric,
    MonitorReport,
    Trip,
)
from policy.rule_readings import rule_reading

log = logging.getLogger("partialauto.monitor")


MONITOR = services.Actor("system:monitor")


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
