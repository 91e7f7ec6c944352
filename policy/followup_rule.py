"""The intent-level rollback rule: automatic answers that buyers complain about.

The guide's rollback table sees only sends that failed; an answer that was delivered and wrong is
invisible to it. Follow-ups (``inquiries.followups``) make it visible: per account and intent, the
share of automatic answers in the window that drew a complaint follow-up ("답변 받았는데 그게
아니라요", "아직도 조회가 안 되는데요"). When it reaches the rule's threshold with at least the
rule's minimum of automatic answers, that intent is **withdrawn from automation for that account**:
the policy engine sends its inquiries to a person (reason ``INTENT_WITHDRAWN``), the send path gives
back queued automatic answers of it, an incident is opened and notifications go out like for the
guide's six rules. A rollout manager restores it (``rollout restore-intent`` or the admin), with a
reason; the rule then counts only answers given after the restore.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inquiries.followup_figures import complaint_rows, resolution_figures
from markets.models import MarketAccount
from policy import services
from policy.models import IntentWithdrawal, RollbackIncident, RollbackRule, RolloutEvent

if TYPE_CHECKING:
    from policy.rule_figures import Baselines, Trip


def withdrawn_intents(account_id) -> frozenset[str]:
    return frozenset(IntentWithdrawal.objects.active().filter(account_id=account_id).values_list("intent", flat=True))


def last_restores() -> dict[tuple[object, str], dt.datetime]:
    """(account id, intent) → when a person last restored that intent (the rule's evidence restarts there)."""
    out: dict[tuple[object, str], dt.datetime] = {}
    for account_id, intent, at in IntentWithdrawal.objects.filter(restored_at__isnull=False).values_list(
        "account_id", "intent", "restored_at"
    ):
        key = (account_id, intent)
        if at is not None and (key not in out or at > out[key]):
            out[key] = at
    return out


def evaluate(rule: RollbackRule, now: dt.datetime, base: Baselines) -> list[Trip]:
    from policy.rule_figures import Trip, _iso, _min_sample, compare

    window_start = now - dt.timedelta(minutes=rule.window_minutes)
    # Without a complaint the rate is 0, which trips no rule whose threshold is above it: then only the
    # complained-about accounts and intents are counted (the monitor runs every minute; a week of
    # answers is not read for the others).
    rows = resolution_figures(since=window_start, until=now, path="AUTO", complained_only=not compare(rule, 0.0))
    candidates = [r for r in rows if r["intent"] and r["answers"] >= _min_sample(rule)]
    if not candidates:
        return []
    active = set(IntentWithdrawal.objects.active().values_list("account_id", "intent"))
    restores = base.intent_restores()
    accounts = MarketAccount.objects.in_bulk([r["account_id"] for r in candidates])
    trips = []
    for row in candidates:
        key = (row["account_id"], row["intent"])
        if key in active:
            continue  # withdrawn until a person restores it; then the count restarts
        since = window_start
        restored = restores.get(key)
        if restored is not None and restored > window_start:
            since = restored
            fresh = resolution_figures(
                since=since, until=now, path="AUTO", account_id=row["account_id"], intent=row["intent"]
            )
            if not fresh:
                continue
            row = fresh[0]
            if row["answers"] < _min_sample(rule):
                continue
        rate = row["complaints"] / row["answers"]
        if not compare(rule, rate):
            continue
        trips.append(
            Trip(
                rule,
                accounts[row["account_id"]],
                {
                    "intent": row["intent"],
                    "complaint_rate": round(rate, 4),
                    "complaints": row["complaints"],
                    "follow_ups": row["follow_ups"],
                    "answers": row["answers"],
                    "threshold": rule.threshold,
                    "window_minutes": rule.window_minutes,
                    "since": _iso(since),
                    "inquiries": complaint_rows(
                        account_id=row["account_id"], intent=row["intent"], since=since, until=now
                    ),
                },
                scope=row["intent"],
            )
        )
    return trips


def reading(rule: RollbackRule, now: dt.datetime) -> tuple[float | None, int, str]:
    """(worst complaint rate, its answers, "account:intent") for ``monitor --dry-run``."""
    rows = [
        r
        for r in resolution_figures(since=now - dt.timedelta(minutes=rule.window_minutes), until=now, path="AUTO")
        if r["answers"]
    ]
    if not rows:
        return None, 0, "global"
    worst = max(rows, key=lambda r: (r["complaints"] / r["answers"], r["answers"]))
    return worst["complaints"] / worst["answers"], worst["answers"], f"{worst['account']}:{worst['intent']}"


def summarize(figures: dict) -> str:
    return _("의도 '%(intent)s' 자동 답변 불만 재문의율 %(rate)s (%(complaints)d/%(answers)d)") % {
        "intent": figures.get("intent", "?"),
        "rate": f"{figures['complaint_rate'] * 100:.1f}%",
        "complaints": figures["complaints"],
        "answers": figures["answers"],
    }


def describe(account: MarketAccount | None, intent: str) -> str:
    return _("계정 %(account)s에서 의도 '%(intent)s' 자동화 중단 (사람이 답변)") % {
        "account": account.name if account else "?",
        "intent": intent,
    }


def in_effect(account: MarketAccount | None, intent: str) -> bool:
    return account is not None and IntentWithdrawal.objects.active().filter(account=account, intent=intent).exists()


def _touch_rollout(account: MarketAccount, actor: services.Actor, reason: str) -> None:
    """A new history row and ``updated_at`` on the account's rollout: the send sweep reloads an account's
    controls when those change (``policy.sending.claim._settings_fingerprints``)."""
    rollout = services.rollout_for(account)
    services._history_reason(rollout, actor, reason)
    rollout.save(update_fields=["updated_at"])


@transaction.atomic
def intent_withdraw(
    *,
    account: MarketAccount,
    intent: str,
    reason: str,
    actor: services.Actor,
    incident: RollbackIncident | None = None,
) -> IntentWithdrawal:
    """Take ``intent`` out of automation for ``account`` (idempotent: an active withdrawal stays)."""
    existing = IntentWithdrawal.objects.active().select_for_update().filter(account=account, intent=intent).first()
    if existing is not None:
        return existing
    withdrawal = IntentWithdrawal.objects.create(
        account=account,
        intent=intent,
        withdrawn_by=actor.label[:64],
        reason=reason[:300],
        incident=incident,
    )
    _touch_rollout(account, actor, reason)
    return withdrawal


@transaction.atomic
def intent_restore(*, account: MarketAccount, intent: str, reason: str, actor: services.Actor) -> IntentWithdrawal:
    """Give ``intent`` back to automation for ``account``; needs a reason, recorded with who restored it."""
    if not reason or not reason.strip():
        raise services.RolloutError(_("의도 자동화를 복구하려면 사유가 필요합니다"))
    withdrawal = IntentWithdrawal.objects.active().select_for_update().filter(account=account, intent=intent).first()
    if withdrawal is None:
        raise services.RolloutError(
            _("계정 %(account)s에서 의도 '%(intent)s'은(는) 자동화 중단 상태가 아닙니다")
            % {"account": account.name, "intent": intent}
        )
    withdrawal.restored_at = timezone.now()
    withdrawal.restored_by = actor.user
    withdrawal.restored_by_label = actor.label[:64]
    withdrawal.restore_reason = reason.strip()[:300]
    withdrawal.save(update_fields=["restored_at", "restored_by", "restored_by_label", "restore_reason"])
    _touch_rollout(account, actor, reason)
    services._event(
        actor=actor,
        action=RolloutEvent.Action.RESTORE_INTENT,
        account=account,
        reason=reason.strip(),
        data={
            "intent": intent,
            "before": {
                "withdrawn": True,
                "withdrawn_at": withdrawal.withdrawn_at.isoformat(),
                "by": withdrawal.withdrawn_by,
            },
            "after": {"withdrawn": False},
            "incident": withdrawal.incident_id,
        },
    )
    return withdrawal
