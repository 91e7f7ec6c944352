"""The effective controls for one account: database settings, tightened by the environment.

DESIGN §1.4: the guide's variables can only make things safer at run time —
``CS_TEST_MODE=true`` forces test mode, ``ENABLE_CS_PARTIAL_AUTO=false`` forces shadow mode, a
non-empty ``CS_TEST_MODE_ALLOWED_ACCOUNTS`` keeps every other account in test mode, and
``CS_AUTO_SEND_THRESHOLD`` can only raise the threshold.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from markets.models import MarketAccount
from policy.hours import Calendar, load_calendar
from policy.models import AccountRollout, AutomationSettings, IntentWithdrawal, Mode, RolloutPhase


@dataclass(frozen=True)
class GlobalControls:
    partial_auto: bool
    test_mode: bool
    threshold: float
    emergency_stopped: bool
    emergency_reason: str
    env_allowed_accounts: frozenset[str] | None
    notes: tuple[str, ...]
    max_send_attempts: int
    lease_seconds: int
    calendar: Calendar


@dataclass(frozen=True)
class AccountControls:
    account_id: object
    account_name: str
    market_code: str
    is_active: bool
    configured_mode: str
    effective_mode: str
    mode_reasons: tuple[str, ...]
    locked: bool
    lock_reason: str
    phase_number: int | None
    phase_name: str
    phase_is_default: bool
    allowed_intents: frozenset[str] | None  # None: every intent
    daily_quota: int | None
    threshold: float
    human_mode: str  # the mode a person-approved answer is sent in
    human_mode_reasons: tuple[str, ...]
    glob: GlobalControls = field(repr=False)
    # intents the complaint follow-up rule (or a person) took out of automation for this account
    withdrawn_intents: frozenset[str] = frozenset()

    def send_mode(self, status: str) -> str:
        """AUTO_SEND follows the automation mode; APPROVED (a person's answer) only the global brakes."""
        return self.human_mode if status == "APPROVED" else self.effective_mode

    def send_mode_reasons(self, status: str) -> tuple[str, ...]:
        return self.human_mode_reasons if status == "APPROVED" else self.mode_reasons


def _env_allowed_accounts() -> frozenset[str] | None:
    raw = settings.CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS
    if raw is None or not raw.strip():
        return None  # the guide: an empty value means every account is allowed
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def load_global(conf: AutomationSettings | None = None) -> GlobalControls:
    conf = conf or AutomationSettings.get_solo()
    notes: list[str] = []
    partial_auto = conf.partial_auto_enabled
    if settings.CS_ENV_ENABLE_PARTIAL_AUTO is False and partial_auto:
        partial_auto = False
        notes.append(_("환경 변수 ENABLE_CS_PARTIAL_AUTO=false로 섀도 모드 강제"))
    test_mode = conf.test_mode
    if settings.CS_ENV_TEST_MODE is True and not test_mode:
        test_mode = True
        notes.append(_("환경 변수 CS_TEST_MODE=true로 테스트 모드 강제"))
    threshold = conf.auto_send_threshold
    env_threshold = settings.CS_ENV_AUTO_SEND_THRESHOLD
    if env_threshold is not None and env_threshold > threshold:
        threshold = min(env_threshold, 1.0)
        notes.append(_("환경 변수 CS_AUTO_SEND_THRESHOLD=%(value)s로 기준값 상향") % {"value": env_threshold})
    return GlobalControls(
        partial_auto=partial_auto,
        test_mode=test_mode,
        threshold=threshold,
        emergency_stopped=conf.emergency_stopped_at is not None,
        emergency_reason=conf.emergency_reason,
        env_allowed_accounts=_env_allowed_accounts(),
        notes=tuple(notes),
        max_send_attempts=conf.max_send_attempts,
        lease_seconds=conf.lease_seconds,
        calendar=load_calendar(),
    )


def _first_phase() -> RolloutPhase | None:
    return RolloutPhase.objects.order_by("number").first()


def _emergency(glob: GlobalControls) -> str:
    return _("긴급 정지: %(reason)s") % {"reason": glob.emergency_reason}


def _not_allowed(account: MarketAccount) -> str:
    return _("계정 %(account)s이(가) 허용 목록(CS_TEST_MODE_ALLOWED_ACCOUNTS)에 없음") % {"account": account.name}


def effective_mode(
    *, glob: GlobalControls, account: MarketAccount, rollout: AccountRollout | None
) -> tuple[str, list[str]]:
    """Resolve the mode an account really runs in, with the reasons, strictest first."""
    reasons: list[str] = []
    configured = rollout.mode if rollout else Mode.SHADOW
    if not glob.partial_auto:
        reasons.append(_("부분 자동화 스위치 꺼짐"))
        return Mode.SHADOW, reasons
    if rollout is not None and rollout.locked_at is not None:
        reasons.append(_("계정 잠김: %(reason)s") % {"reason": rollout.lock_reason})
        return Mode.SHADOW, reasons
    if configured == Mode.SHADOW:
        reasons.append(_("계정 모드가 섀도"))
        return Mode.SHADOW, reasons
    if glob.emergency_stopped:
        reasons.append(_emergency(glob))
        return Mode.TEST, reasons
    if glob.test_mode:
        reasons.append(_("전체 테스트 모드 켜짐"))
        return Mode.TEST, reasons
    allowed = glob.env_allowed_accounts
    if allowed is not None and account.name not in allowed and str(account.id) not in allowed:
        reasons.append(_not_allowed(account))
        return Mode.TEST, reasons
    if configured == Mode.TEST:
        reasons.append(_("계정 모드가 테스트"))
        return Mode.TEST, reasons
    return Mode.LIVE, reasons


def human_send_mode(
    *, glob: GlobalControls, account: MarketAccount, rollout: AccountRollout | None
) -> tuple[str, list[str]]:
    """A person's approved answer is not automation: the switch, shadow mode and account locks do not
    hold it back, but the emergency stop, test mode (global, env or the account's) always do."""
    if glob.emergency_stopped:
        return Mode.TEST, [_emergency(glob)]
    if glob.test_mode:
        return Mode.TEST, [_("전체 테스트 모드 켜짐")]
    allowed = glob.env_allowed_accounts
    if allowed is not None and account.name not in allowed and str(account.id) not in allowed:
        return Mode.TEST, [_not_allowed(account)]
    if rollout is not None and rollout.mode == Mode.TEST:
        return Mode.TEST, [_("계정 모드가 테스트")]
    return Mode.LIVE, []


def human_sends_held_q() -> Q:
    """The inquiries (``market_inquiry_raw`` rows) whose approved answer :func:`human_send_mode` puts in
    test mode right now, as one condition the database evaluates in the statement that uses it (the send
    claim): emergency stop, global test mode, the allowed-accounts list, the account's TEST mode.

    A person's approved answer is never used up as a test send: it waits while this holds and goes out
    through the ordinary send path once it no longer does. Keep this and :func:`human_send_mode` in step."""
    if settings.CS_ENV_TEST_MODE is True:
        return Q(status="APPROVED")
    # No settings row reads as the defaults: test mode on.
    sending_on = AutomationSettings.objects.filter(pk=1, test_mode=False, emergency_stopped_at__isnull=True)
    held = ~Q(Exists(sending_on)) | Q(
        Exists(AccountRollout.objects.filter(account_id=OuterRef("account_id"), mode=Mode.TEST))
    )
    allowed = _env_allowed_accounts()
    if allowed is not None:
        listed = MarketAccount.objects.filter(
            Q(name__in=allowed) | Q(pk__in=_uuids(allowed)), pk=OuterRef("account_id")
        )
        held |= ~Q(Exists(listed))
    return Q(status="APPROVED") & held


def _uuids(values: frozenset[str]) -> list[uuid.UUID]:
    """The entries that are an account id as ``str(account.id)`` spells it."""
    found = []
    for value in values:
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            continue
        if str(parsed) == value:
            found.append(parsed)
    return found


def load_account_controls(
    account: MarketAccount, *, glob: GlobalControls | None = None, rollout: AccountRollout | None = None
) -> AccountControls:
    glob = glob or load_global()
    if rollout is None:
        rollout = (
            AccountRollout.objects.select_related("phase")
            .prefetch_related("intents_override", "phase__allowed_intents")
            .filter(account=account)
            .first()
        )
    mode, reasons = effective_mode(glob=glob, account=account, rollout=rollout)
    phase = rollout.phase if rollout and rollout.phase_id else None
    phase_is_default = False
    if phase is None:
        # A shadow account with no phase is judged as if unlocked at the first phase, so shadow
        # statistics say what phase 1 would have sent.
        phase = _first_phase()
        phase_is_default = True
    allowed: frozenset[str] | None = None
    quota: int | None = None
    if phase is not None:
        if not phase.all_intents:
            allowed = frozenset(i.name for i in phase.allowed_intents.all())
        quota = phase.daily_quota
    if rollout is not None:
        override = frozenset(i.name for i in rollout.intents_override.all())
        if override:
            allowed = override if allowed is None else allowed & override
        if rollout.quota_override is not None:
            quota = rollout.quota_override
    human = human_send_mode(glob=glob, account=account, rollout=rollout)
    threshold = glob.threshold
    if rollout is not None and rollout.threshold_override is not None:
        threshold = rollout.threshold_override
        env_threshold = settings.CS_ENV_AUTO_SEND_THRESHOLD
        if env_threshold is not None:
            threshold = max(threshold, min(env_threshold, 1.0))
    return AccountControls(
        account_id=account.id,
        account_name=account.name,
        market_code=account.market_code,
        is_active=account.is_active,
        configured_mode=rollout.mode if rollout else Mode.SHADOW,
        effective_mode=mode,
        mode_reasons=tuple(reasons) + glob.notes,
        locked=bool(rollout and rollout.locked_at),
        lock_reason=rollout.lock_reason if rollout else "",
        phase_number=phase.number if phase else None,
        phase_name=phase.name if phase else "",
        phase_is_default=phase_is_default,
        allowed_intents=allowed,
        daily_quota=quota,
        threshold=threshold,
        human_mode=human[0],
        human_mode_reasons=tuple(human[1]),
        glob=glob,
        withdrawn_intents=_withdrawn(account),
    )


def _withdrawn(account: MarketAccount) -> frozenset[str]:
    """The intents withdrawn from automation for ``account`` (prefetched by ``rollout_rows`` as
    ``active_withdrawals``, else one query)."""
    prefetched = getattr(account, "active_withdrawals", None)
    if prefetched is not None:
        return frozenset(w.intent for w in prefetched)
    return frozenset(IntentWithdrawal.objects.active().filter(account=account).values_list("intent", flat=True))
