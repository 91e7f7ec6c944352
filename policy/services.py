"""Writes of the rollout: every change records who, when and why (RolloutEvent + model history)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from markets.models import MarketAccount
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


class RolloutError(ValueError):
    """Bad operator input: unknown account, phase or mode, a missing reason."""


@dataclass(frozen=True)
class Actor:
    """A person (``user``) or a system component (``label`` such as ``system:monitor``)."""

    label: str
    user: object | None = None

    @classmethod
    def of(cls, user) -> "Actor":
        return cls(label=user.get_username(), user=user)


SYSTEM = Actor("system")


def _event(*, actor: Actor, action: str, account: MarketAccount | None = None, reason: str = "", data: dict | None = None) -> RolloutEvent:
    return RolloutEvent.objects.create(
        actor=actor.user, actor_label=actor.label[:64], action=action, account=account, reason=reason[:300], data=data or {}
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
        known = ", ".join(MarketAccount.objects.values_list("name", flat=True)) or "none registered"
        raise RolloutError(f"unknown account '{name}' (known: {known})") from None


def get_phase(value: str | int) -> RolloutPhase:
    text = str(value).strip()
    phase = None
    if text.isdigit():
        phase = RolloutPhase.objects.filter(number=int(text)).first()
    if phase is None:
        phase = RolloutPhase.objects.filter(name=text).first()
    if phase is None:
        known = ", ".join(f"{p.number} ({p.name})" for p in RolloutPhase.objects.all())
        raise RolloutError(f"unknown phase '{value}' (known: {known})")
    return phase


def parse_mode(value: str) -> str:
    mode = str(value).strip().upper()
    if mode not in Mode.values:
        raise RolloutError(f"unknown mode '{value}' (use one of {', '.join(Mode.values)})")
    return mode


def rollout_for(account: MarketAccount) -> AccountRollout:
    rollout, _created = AccountRollout.objects.get_or_create(account=account)
    return rollout


@transaction.atomic
def rollout_unlock(*, account: MarketAccount, mode: str, phase: RolloutPhase | None, actor: Actor, reason: str = "") -> AccountRollout:
    """Set the account's mode (and phase), clearing a lock. Unlocking a locked account needs a reason."""
    mode = parse_mode(mode)
    rollout = AccountRollout.objects.select_for_update().get(pk=rollout_for(account).pk)
    if rollout.locked_at is not None and not reason.strip():
        raise RolloutError(f"account {account.name} is locked ({rollout.lock_reason}); unlocking it needs a reason")
    before = {"mode": rollout.mode, "phase": rollout.phase.number if rollout.phase else None,
              "locked": rollout.locked_at is not None, "lock_reason": rollout.lock_reason}
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
    _event(actor=actor, action=RolloutEvent.Action.UNLOCK, account=account, reason=reason, data={"before": before, "after": after})
    return rollout


@transaction.atomic
def rollout_lock(*, account: MarketAccount, reason: str, actor: Actor) -> AccountRollout:
    if not reason or not reason.strip():
        raise RolloutError("locking an account needs a reason")
    rollout = AccountRollout.objects.select_for_update().get(pk=rollout_for(account).pk)
    rollout.locked_at = timezone.now()
    rollout.lock_reason = reason.strip()[:300]
    rollout.locked_by = actor.label[:64]
    _history_reason(rollout, actor, reason)
    rollout.save()
    _event(actor=actor, action=RolloutEvent.Action.LOCK, account=account, reason=reason,
           data={"mode": rollout.mode, "phase": rollout.phase.number if rollout.phase else None})
    return rollout


def _locked_settings() -> AutomationSettings:
    AutomationSettings.get_solo()
    return AutomationSettings.objects.select_for_update().get(pk=1)


@transaction.atomic
def emergency_stop(*, reason: str, actor: Actor) -> AutomationSettings:
    """Stop every real send now: queued and prefetched sends re-check this at claim time."""
    if not reason or not reason.strip():
        raise RolloutError("an emergency stop needs a reason")
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
    """Lift the emergency stop. Test mode stays on: turning it off is a separate, deliberate step."""
    conf = _locked_settings()
    was = conf.emergency_reason
    conf.emergency_stopped_at = None
    conf.emergency_reason = ""
    _history_reason(conf, actor, reason or "resume")
    conf.save()
    _event(actor=actor, action=RolloutEvent.Action.RESUME, reason=reason, data={"was": was})
    return conf


@transaction.atomic
def settings_update(
    *, actor: Actor, reason: str = "", partial_auto: bool | None = None, test_mode: bool | None = None,
    threshold: float | None = None, hours: str | None = None,
) -> AutomationSettings:
    conf = _locked_settings()
    changes: dict[str, object] = {}
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise RolloutError(f"threshold must be between 0 and 1, got {threshold}")
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
    _event(actor=actor, action=RolloutEvent.Action.SETTINGS, reason=reason,
           data={"before": before, "after": {k: v for k, v in changes.items()}})
    return conf


@transaction.atomic
def import_env(*, actor: Actor, environ: dict[str, str] | None = None) -> dict:
    """Map the guide's four variables into database settings (phase 2–3 of the guide)."""
    import os

    environ = os.environ if environ is None else environ
    truthy = {"1", "true", "yes", "on"}
    falsy = {"0", "false", "no", "off"}
    result: dict[str, object] = {}

    def flag(name: str) -> bool | None:
        raw = environ.get(name)
        if raw is None or not raw.strip():
            return None
        value = raw.strip().lower()
        if value in truthy:
            return True
        if value in falsy:
            return False
        raise RolloutError(f"{name}={raw!r} is not a boolean (true/false)")

    partial = flag("ENABLE_CS_PARTIAL_AUTO")
    test = flag("CS_TEST_MODE")
    threshold = None
    raw_threshold = environ.get("CS_AUTO_SEND_THRESHOLD")
    if raw_threshold and raw_threshold.strip():
        try:
            threshold = float(raw_threshold.split("#")[0])
        except ValueError:
            raise RolloutError(f"CS_AUTO_SEND_THRESHOLD={raw_threshold!r} is not a number") from None
    settings_update(actor=actor, reason="rollout import-env", partial_auto=partial, test_mode=test, threshold=threshold)
    result.update({"partial_auto": partial, "test_mode": test, "threshold": threshold})

    raw_allowed = environ.get("CS_TEST_MODE_ALLOWED_ACCOUNTS")
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
                raise RolloutError(f"CS_TEST_MODE_ALLOWED_ACCOUNTS names unknown account '{token}'")
            accounts.append(account)
        # The guide: listed accounts send for real; an empty list means every account.
        targets = accounts or list(MarketAccount.objects.active())
        listed = {a.pk for a in targets}
        for account in MarketAccount.objects.all():
            rollout = rollout_for(account)
            new_mode = Mode.LIVE if account.pk in listed else (Mode.TEST if rollout.mode == Mode.LIVE else rollout.mode)
            if new_mode != rollout.mode:
                rollout_unlock(account=account, mode=new_mode, phase=None, actor=actor,
                               reason="rollout import-env: CS_TEST_MODE_ALLOWED_ACCOUNTS")
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
        raise RolloutError(f"'{item.title}' is checked automatically")
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
        lines.append(f"CS_TEST_MODE_ALLOWED_ACCOUNTS={settings.CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS} → others in test mode")
    if settings.CS_ENV_AUTO_SEND_THRESHOLD is not None:
        lines.append(f"CS_AUTO_SEND_THRESHOLD={settings.CS_ENV_AUTO_SEND_THRESHOLD} → threshold at least this")
    return lines
