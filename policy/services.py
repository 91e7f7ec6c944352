"""Writes of the rollout: every change records who, when and why (RolloutEvent + model history)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from markets.models import MarketAccount
from partialauto.queue import enqueue_send_sweep
from policy import config_version
from policy.hours import parse_hours_spec
from policy.models import (
    AccountRollout,
    AutomationSettings,
    BusinessHoursRange,
    ChecklistItem,
    Mode,
    RollbackIncident,
    RolloutEvent,
    RolloutPhase,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class RolloutError(ValueError):
    """Bad operator input: unknown account, phase or mode, a missing reason."""


@dataclass(frozen=True)
class Actor:
    """A person (``user``) or a system component (``label`` such as ``system:monitor``)."""

    label: str
    user: User | None = None

    @classmethod
    def of(cls, user) -> Actor:
        return cls(label=user.get_username(), user=user)


SYSTEM = Actor("system")


def _event(
    *, actor: Actor, action: str, account: MarketAccount | None = None, reason: str = "", data: dict | None = None
) -> RolloutEvent:
    return RolloutEvent.objects.create(
        actor=actor.user,
        actor_label=actor.label[:64],
        action=action,
        account=account,
        reason=reason[:300],
        data=data or {},
    )


def _history_reason(obj, actor: Actor, reason: str) -> None:
    # django-simple-history reads these two attributes when it writes the history row.
    obj._change_reason = reason[:100] if reason else None
    if actor.user is not None:
        obj._history_user = actor.user


def get_account(name: str) -> MarketAccount:
    try:
        return MarketAccount.objects.get(name=name)
    except MarketAccount.DoesNotExist:
        known = ", ".join(MarketAccount.objects.values_list("name", flat=True)) or gettext("등록된 계정 없음")
        raise RolloutError(
            gettext("없는 계정 '%(name)s' (있는 계정: %(known)s)") % {"name": name, "known": known}
        ) from None


def get_phase(value: str | int) -> RolloutPhase:
    text = str(value).strip()
    phase = None
    if text.isdigit():
        phase = RolloutPhase.objects.filter(number=int(text)).first()
    if phase is None:
        phase = RolloutPhase.objects.filter(name=text).first()
    if phase is None:
        known = ", ".join(f"{p.number} ({p.name})" for p in RolloutPhase.objects.all())
        raise RolloutError(gettext("없는 단계 '%(value)s' (있는 단계: %(known)s)") % {"value": value, "known": known})
    return phase


def parse_mode(value: str) -> str:
    mode = str(value).strip().upper()
    if mode not in Mode.values:
        raise RolloutError(
            gettext("알 수 없는 모드 '%(value)s' (%(choices)s 중 하나)")
            % {"value": value, "choices": ", ".join(Mode.values)}
        )
    return mode


def rollout_for(account: MarketAccount) -> AccountRollout:
    rollout, _created = AccountRollout.objects.get_or_create(account=account)
    return rollout


@transaction.atomic
def rollout_unlock(
    *, account: MarketAccount, mode: str, phase: RolloutPhase | None, actor: Actor, reason: str = ""
) -> AccountRollout:
    """Set the account's mode (and phase), clearing a lock. Unlocking a locked account needs a reason."""
    mode = parse_mode(mode)
    rollout = AccountRollout.objects.select_for_update().get(pk=rollout_for(account).pk)
    if rollout.locked_at is not None and not reason.strip():
        raise RolloutError(
            gettext("%(account)s 계정은 잠겨 있습니다 (%(reason)s). 다시 해금하려면 사유가 필요합니다")
            % {"account": account.name, "reason": rollout.lock_reason}
        )
    before = {
        "mode": rollout.mode,
        "phase": rollout.phase.number if rollout.phase else None,
        "locked": rollout.locked_at is not None,
        "lock_reason": rollout.lock_reason,
    }
    rollout.mode = mode
    if phase is not None:
        rollout.phase = phase
    elif rollout.phase is None and mode != Mode.SHADOW:
        rollout.phase = RolloutPhase.objects.order_by("number").first()
    rollout.locked_at = None
    rollout.lock_reason = ""
    rollout.locked_by = ""
    rollout.consecutive_failures = 0
    _history_reason(rollout, actor, reason or "unlock")
    rollout.save()
    after = {"mode": rollout.mode, "phase": rollout.phase.number if rollout.phase else None}
    _event(
        actor=actor,
        action=RolloutEvent.Action.UNLOCK,
        account=account,
        reason=reason,
        data={"before": before, "after": after},
    )
    if mode != Mode.TEST:
        send_released_answers()
    return rollout


@transaction.atomic
def rollout_lock(*, account: MarketAccount, reason: str, actor: Actor) -> AccountRollout:
    if not reason or not reason.strip():
        raise RolloutError(gettext("계정을 잠그려면 사유가 필요합니다"))
    rollout = AccountRollout.objects.select_for_update().get(pk=rollout_for(account).pk)
    rollout.locked_at = timezone.now()
    rollout.lock_reason = reason.strip()[:300]
    rollout.locked_by = actor.label[:64]
    _history_reason(rollout, actor, reason)
    rollout.save()
    _event(
        actor=actor,
        action=RolloutEvent.Action.LOCK,
        account=account,
        reason=reason,
        data={"mode": rollout.mode, "phase": rollout.phase.number if rollout.phase else None},
    )
    return rollout


def send_released_answers() -> None:
    """After a change that may end test mode for some answers: queue a send sweep once it commits, so
    the approved answers test mode held back go now rather than at the next scheduled sweep."""
    transaction.on_commit(enqueue_send_sweep)


def _locked_settings() -> AutomationSettings:
    AutomationSettings.get_solo()
    return AutomationSettings.objects.select_for_update().get(pk=1)


@transaction.atomic
def emergency_stop(*, reason: str, actor: Actor) -> AutomationSettings:
    """Stop every real send now: queued and prefetched sends re-check this at claim time. Automatic
    answers are recorded as test sends meanwhile; approved answers wait and go out once it is over."""
    if not reason or not reason.strip():
        raise RolloutError(gettext("긴급 정지에는 사유가 필요합니다"))
    conf = _locked_settings()
    conf.emergency_stopped_at = timezone.now()
    conf.emergency_reason = reason.strip()[:300]
    conf.test_mode = True
    _history_reason(conf, actor, f"emergency stop: {reason}")
    conf.save()
    _event(actor=actor, action=RolloutEvent.Action.EMERGENCY_STOP, reason=reason)
    return conf


@transaction.atomic
def resume(*, actor: Actor, reason: str = "") -> AutomationSettings:
    """Lift the emergency stop. Test mode stays on: turning it off is a separate, deliberate step, and
    the approved answers held meanwhile are sent when it is taken (or now, if test mode was already off)."""
    conf = _locked_settings()
    was = conf.emergency_reason
    conf.emergency_stopped_at = None
    conf.emergency_reason = ""
    _history_reason(conf, actor, reason or "resume")
    conf.save()
    _event(actor=actor, action=RolloutEvent.Action.RESUME, reason=reason, data={"was": was})
    send_released_answers()
    return conf


@transaction.atomic
def settings_update(
    *,
    actor: Actor,
    reason: str = "",
    partial_auto: bool | None = None,
    test_mode: bool | None = None,
    threshold: float | None = None,
    hours: str | None = None,
) -> AutomationSettings:
    conf = _locked_settings()
    changes: dict[str, object] = {}
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise RolloutError(gettext("임계값은 0과 1 사이여야 합니다 (받은 값: %(value)s)") % {"value": threshold})
        changes["auto_send_threshold"] = threshold
    if partial_auto is not None:
        changes["partial_auto_enabled"] = partial_auto
    if test_mode is not None:
        changes["test_mode"] = test_mode
    weekly = None
    if hours is not None:
        try:
            weekly = parse_hours_spec(hours)
        except ValueError as exc:
            raise RolloutError(str(exc)) from exc
        changes["business_hours_enabled"] = weekly is not None
    before = {k: getattr(conf, k) for k in changes}
    for key, value in changes.items():
        setattr(conf, key, value)
    _history_reason(conf, actor, reason or "settings")
    conf.save()
    if weekly is not None:
        BusinessHoursRange.objects.all().delete()
        BusinessHoursRange.objects.bulk_create(
            BusinessHoursRange(weekday=d, start=s, end=e) for d, (s, e) in sorted(weekly.items())
        )
        changes["hours"] = hours
    config_change(
        actor=actor, obj=conf, before=before, after=changes, reason=reason, action=RolloutEvent.Action.SETTINGS
    )
    if test_mode is False:
        send_released_answers()
    return conf


def config_change(
    *,
    actor: Actor,
    obj,
    before: dict,
    after: dict,
    reason: str = "",
    account: MarketAccount | None = None,
    action: str = RolloutEvent.Action.CONFIG,
) -> RolloutEvent | None:
    """Record one configuration change, from the admin or a command, in the rollout log: which object,
    the changed fields before and after (plain JSON values), who and why. Nothing changed, nothing recorded."""
    changed = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    if not changed:
        return None
    config_version.bump()  # also what a bulk write the signals do not see changed
    data = {
        "object": f"{obj._meta.model_name}:{obj.pk}",
        "label": str(obj),
        "before": {key: before.get(key) for key in changed},
        "after": {key: after.get(key) for key in changed},
    }
    return _event(actor=actor, action=action, account=account, reason=reason, data=data)


@transaction.atomic
def import_env(*, actor: Actor, environ: Mapping[str, str] | None = None) -> dict:
    """Map the guide's four variables into database settings (phase 2–3 of the guide)."""
    import os

    env: Mapping[str, str] = os.environ if environ is None else environ
    truthy = {"1", "true", "yes", "on"}
    falsy = {"0", "false", "no", "off"}
    result: dict[str, object] = {}

    def flag(name: str) -> bool | None:
        raw = env.get(name)
        if raw is None or not raw.strip():
            return None
        value = raw.strip().lower()
        if value in truthy:
            return True
        if value in falsy:
            return False
        raise RolloutError(gettext("%(name)s=%(raw)r은(는) true/false가 아닙니다") % {"name": name, "raw": raw})

    partial = flag("ENABLE_CS_PARTIAL_AUTO")
    test = flag("CS_TEST_MODE")
    threshold = None
    raw_threshold = env.get("CS_AUTO_SEND_THRESHOLD")
    if raw_threshold and raw_threshold.strip():
        try:
            threshold = float(raw_threshold.split("#")[0])
        except ValueError:
            raise RolloutError(
                gettext("CS_AUTO_SEND_THRESHOLD=%(raw)r은(는) 숫자가 아닙니다") % {"raw": raw_threshold}
            ) from None
    settings_update(actor=actor, reason="rollout import-env", partial_auto=partial, test_mode=test, threshold=threshold)
    result.update({"partial_auto": partial, "test_mode": test, "threshold": threshold})

    raw_allowed = env.get("CS_TEST_MODE_ALLOWED_ACCOUNTS")
    if raw_allowed is not None:
        names = [p.strip() for p in raw_allowed.split("#")[0].split(",") if p.strip()]
        accounts = []
        for token in names:
            account = MarketAccount.objects.filter(name=token).first()
            if account is None:
                try:
                    account = MarketAccount.objects.filter(pk=token).first()
                except (ValueError, Exception):
                    account = None
            if account is None:
                raise RolloutError(
                    gettext("CS_TEST_MODE_ALLOWED_ACCOUNTS에 없는 계정 '%(name)s'이(가) 있습니다") % {"name": token}
                )
            accounts.append(account)
        # The guide: listed accounts send for real; an empty list means every account.
        targets = accounts or list(MarketAccount.objects.active())
        listed = {a.pk for a in targets}
        for account in MarketAccount.objects.all():
            rollout = rollout_for(account)
            new_mode = Mode.LIVE if account.pk in listed else (Mode.TEST if rollout.mode == Mode.LIVE else rollout.mode)
            if new_mode != rollout.mode:
                rollout_unlock(
                    account=account,
                    mode=new_mode,
                    phase=None,
                    actor=actor,
                    reason="rollout import-env: CS_TEST_MODE_ALLOWED_ACCOUNTS",
                )
        result["live_accounts"] = sorted(a.name for a in targets)
    _event(actor=actor, action=RolloutEvent.Action.IMPORT_ENV, data={k: v for k, v in result.items()})
    return result


@transaction.atomic
def incident_acknowledge(*, incident: RollbackIncident, user) -> RollbackIncident:
    if incident.status == RollbackIncident.Status.OPEN:
        incident.status = RollbackIncident.Status.ACKNOWLEDGED
        incident.acknowledged_by = user
        incident.acknowledged_at = timezone.now()
        incident.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    return incident


@transaction.atomic
def incident_resolve(*, incident: RollbackIncident, user, note: str = "") -> RollbackIncident:
    if incident.status != RollbackIncident.Status.RESOLVED:
        incident.status = RollbackIncident.Status.RESOLVED
        incident.resolved_by = user
        incident.resolved_at = timezone.now()
        incident.resolution_note = note
        incident.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])
    return incident


@transaction.atomic
def checklist_set(*, item: ChecklistItem, checked: bool, user, note: str = "") -> ChecklistItem:
    if item.is_automatic:
        raise RolloutError(
            gettext("'%(title)s' 항목은 자동으로 확인되므로 직접 표시할 수 없습니다.") % {"title": item.title}
        )
    item.checked = checked
    item.checked_by = user if checked else None
    item.checked_at = timezone.now() if checked else None
    if note:
        item.note = note
    _history_reason(item, Actor.of(user), "checklist")
    item.save()
    return item


def now_seoul() -> dt.datetime:
    return timezone.localtime(timezone.now())


def env_overrides_summary() -> list[str]:
    """What the environment currently forces, for `rollout status` and the admin."""
    lines = []
    if settings.CS_ENV_ENABLE_PARTIAL_AUTO is False:
        lines.append("ENABLE_CS_PARTIAL_AUTO=false → shadow mode forced")
    if settings.CS_ENV_TEST_MODE is True:
        lines.append("CS_TEST_MODE=true → test mode forced")
    if settings.CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS:
        lines.append(
            f"CS_TEST_MODE_ALLOWED_ACCOUNTS={settings.CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS} → others in test mode"
        )
    if settings.CS_ENV_AUTO_SEND_THRESHOLD is not None:
        lines.append(f"CS_AUTO_SEND_THRESHOLD={settings.CS_ENV_AUTO_SEND_THRESHOLD} → threshold at least this")
    return lines
