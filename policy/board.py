"""The rollout board and the pages it leads to: a proposed change's preview and confirmation, an
incident with its rows and its actions, and the guide's 4.2.3 check (send failures of the last 10 minutes).

Every change here goes through :mod:`policy.services` (which records the RolloutEvent with the reason).
Reading is for staff; changing needs the rollout-manager permissions, checked on every POST.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from inquiries.models import Inquiry, SendAttempt
from markets.models import MarketAccount
from policy import change_risks, followup_rule, monitor, services
from policy.controls import AccountControls, GlobalControls, load_global
from policy.kpi import failure_rates
from policy.models import Mode, RollbackIncident, RollbackRule, RolloutPhase
from policy.preview import PREVIEW_DAYS, preview_change
from policy.readiness import SHADOW_READY_PER_DAY, SHADOW_TOO_FEW_PER_DAY, failure_band
from policy.selectors import AccountRow, approved_answers_held, held_answers_note, rollout_rows
from policy.views import rule_thresholds

UNLOCK_PERMISSION = "policy.unlock_account"
INCIDENT_PERMISSION = "policy.change_rollbackincident"
RECENT_FAILURES_WINDOW = dt.timedelta(minutes=10)  # the guide's 4.2.3
RECENT_FAILURES_SHOWN = 200
SHADOW_DAYS = 7


class ReasonForm(forms.Form):
    use_required_attribute = False  # one form serves actions with and without a reason; the server checks

    reason = forms.CharField(
        label=gettext_lazy("사유"),
        max_length=300,
        strip=True,
        widget=forms.TextInput(attrs={"size": 80}),
        error_messages={"required": gettext_lazy("사유를 입력하세요. 변경 기록에 남습니다.")},
    )


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _context(request: HttpRequest, title: str, **extra) -> dict:
    return {**admin.site.each_context(request), "title": title, **extra}


# --- the board ---------------------------------------------------------------------------------------


@dataclass
class Proposal:
    """The next step of an account: the mode and phase it would be set to, and what the button says."""

    mode: str
    phase: RolloutPhase | None
    label: str

    def query(self) -> str:
        return f"mode={self.mode}" + (f"&phase={self.phase.number}" if self.phase else "")


def steps(controls: AccountControls, phases: list[RolloutPhase]) -> list[dict]:
    """The stepper: shadow → test → each phase; ``current`` is where the account is configured."""
    labels = [(Mode.SHADOW.value, _("섀도")), (Mode.TEST.value, _("테스트"))]
    labels += [(f"P{p.number}", _("%(n)s단계 %(name)s") % {"n": p.number, "name": p.name}) for p in phases]
    current = _step_index(controls, phases)
    return [
        {"code": code, "label": label, "state": "done" if i < current else "current" if i == current else "todo"}
        for i, (code, label) in enumerate(labels)
    ]


def _step_index(controls: AccountControls, phases: list[RolloutPhase]) -> int:
    if controls.configured_mode == Mode.SHADOW:
        return 0
    if controls.configured_mode == Mode.TEST:
        return 1
    numbers = [p.number for p in phases]
    return 2 + (numbers.index(controls.phase_number) if controls.phase_number in numbers else 0)


def next_step(controls: AccountControls, phases: list[RolloutPhase]) -> Proposal | None:
    current = next((p for p in phases if p.number == controls.phase_number), phases[0] if phases else None)
    if controls.locked:
        return Proposal(controls.configured_mode, current, _("잠금 풀고 다시 해금"))
    if controls.configured_mode == Mode.SHADOW:
        return Proposal(Mode.TEST, current, _("다음 단계: 테스트 모드"))
    if controls.configured_mode == Mode.TEST:
        first = phases[0] if phases else None
        return Proposal(Mode.LIVE, first, _("다음 단계: 실전송 %(phase)s") % {"phase": first.name if first else "-"})
    later = [p for p in phases if current is not None and p.number > current.number]
    if not later:
        return None
    return Proposal(Mode.LIVE, later[0], _("다음 단계: %(phase)s") % {"phase": later[0].name})


def mode_why(controls: AccountControls, glob: GlobalControls) -> list[str]:
    """Why the account runs in its effective mode, strictest first (the order of ``policy.controls``)."""
    if not glob.partial_auto:
        return [_("부분 자동화 스위치가 꺼져 있어 모든 계정이 섀도 모드입니다.")]
    if controls.locked:
        return [_("계정이 잠겨 있습니다: %(reason)s") % {"reason": controls.lock_reason}]
    if controls.configured_mode == Mode.SHADOW:
        return [_("계정 모드가 섀도입니다: 판정만 하고 사람이 답변합니다.")]
    if glob.emergency_stopped:
        return [_("긴급 정지 중입니다: %(reason)s") % {"reason": glob.emergency_reason}]
    if glob.test_mode:
        return [_("전역 테스트 모드가 켜져 있어 마켓으로 보내지 않습니다.")]
    if controls.effective_mode == Mode.TEST and controls.configured_mode == Mode.LIVE:
        return [_("환경변수 CS_TEST_MODE_ALLOWED_ACCOUNTS에 없는 계정이라 테스트 모드입니다.")]
    if controls.configured_mode == Mode.TEST:
        return [_("계정 모드가 테스트입니다: 전송 경로만 돌고 마켓은 호출하지 않습니다.")]
    return [_("실제로 전송합니다 (%(phase)s).") % {"phase": controls.phase_name or "-"}]


def shadow_numbers(*, now: dt.datetime, days: int = SHADOW_DAYS) -> dict[object, dict]:
    """The guide's 1.2 per account: inquiries and AUTO_SEND candidates of the last ``days`` days, the
    daily average of candidates and its verdict (10 a day ready, under 5 too few)."""
    rows = (
        Inquiry.objects.filter(created_at__gte=now - dt.timedelta(days=days), created_at__lte=now)
        .values("account_id")
        .annotate(total=Count("id"), auto_send=Count("id", filter=Q(status="AUTO_SEND")))
    )
    result: dict[object, dict] = {}
    for r in rows:
        avg = r["auto_send"] / days
        if avg >= SHADOW_READY_PER_DAY:
            verdict, state = _("해금 준비 완료"), "ok"
        elif avg < SHADOW_TOO_FEW_PER_DAY:
            verdict, state = _("데이터 부족, 섀도 모드 유지"), "bad"
        else:
            verdict, state = _("기준(하루 10건) 미달, 섀도 모드 유지 권장"), "warn"
        result[r["account_id"]] = {
            "total": r["total"],
            "auto_send": r["auto_send"],
            "per_day": f"{avg:.1f}",
            "rate": f"{r['auto_send'] / r['total'] * 100:.1f}%",
            "verdict": verdict,
            "state": state,
        }
    return result


def failure_bands(*, now: dt.datetime) -> dict[str, dict]:
    """The guide's 1.3 per account (30 days): the SEND_FAILED rate and its band."""
    result = {}
    for r in failure_rates(window=dt.timedelta(days=30), now=now):
        status, verdict = failure_band(r["failure_rate"])
        result[r["account"]] = {
            "rate": f"{r['failure_rate']:.1f}%",
            "failed": r["failed"],
            "attempted": r["attempted"],
            "verdict": verdict,
            "state": {"ready": "ok", "warn": "warn"}.get(status, "bad"),
        }
    return result


def _failure_24h(row: AccountRow, thresholds: list[dict]) -> dict:
    rate = row.failure_rate_24h
    if rate is None:
        return {"text": _("실제 전송 없음"), "state": "none"}
    tripped = [t for t in thresholds if round(rate, 9) >= round(t["value"], 9)]
    return {
        "text": f"{rate * 100:.1f}% ({row.failed_24h}/{row.attempts_24h})",
        "state": "bad" if tripped else "ok",
        "verdict": _("롤백 임계값 이상: %(rules)s") % {"rules": ", ".join(t["label"] for t in tripped)}
        if tripped
        else _("임계값 미만"),
    }


def board_rows(*, now: dt.datetime, glob: GlobalControls) -> list[dict]:
    phases = list(RolloutPhase.objects.order_by("number"))
    thresholds = rule_thresholds()
    shadow = shadow_numbers(now=now)
    bands = failure_bands(now=now)
    rows = []
    for row in rollout_rows():
        c = row.controls
        proposal = next_step(c, phases)
        rows.append(
            {
                "account": row.account,
                "controls": c,
                "steps": steps(c, phases),
                "why": mode_why(c, glob),
                "sent_today": row.sent_today,
                "quota_used": row.quota_used,
                "quota": c.daily_quota,
                "quota_state": "none" if c.daily_quota is None else "bad" if row.quota_used >= c.daily_quota else "ok",
                "failure": _failure_24h(row, thresholds),
                "shadow": shadow.get(row.account.pk),
                "band": bands.get(row.account.name),
                "next": proposal,
                "next_url": (reverse("policy:board_change", args=[row.account.pk]) + "?" + proposal.query())
                if proposal
                else "",
            }
        )
    return rows


@never_cache
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    now, glob = timezone.now(), load_global()
    return TemplateResponse(
        request,
        "admin/policy/board.html",
        _context(
            request,
            _("롤아웃 보드"),
            rows=board_rows(now=now, glob=glob),
            glob=glob,
            thresholds=rule_thresholds(),
            can_change=request.user.has_perm(UNLOCK_PERMISSION),
            can_stop=request.user.has_perm("policy.emergency_stop"),
            shadow_days=SHADOW_DAYS,
        ),
    )


# --- a proposed change: preview, then confirm with a reason -------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest, account_id) -> HttpResponse:
    """GET: the preview of ``mode``/``phase`` for the account; POST: the change, with a reason."""
    _require(request, UNLOCK_PERMISSION)
    account = get_object_or_404(MarketAccount.objects.select_related("rollout", "rollout__phase"), pk=account_id)
    source = request.POST if request.method == "POST" else request.GET
    try:
        mode = services.parse_mode(source.get("mode", ""))
        phase = services.get_phase(source["phase"]) if source.get("phase") else None
    except services.RolloutError as exc:
        messages.error(request, str(exc))
        return redirect("policy:board")
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        _apply(request, account=account, mode=mode, phase=phase, reason=form.cleaned_data["reason"])
        return redirect("policy:board")
    rollout = services.rollout_for(account)
    proposed = phase or rollout.phase or RolloutPhase.objects.order_by("number").first()
    return TemplateResponse(
        request,
        "admin/policy/board_change.html",
        _context(
            request,
            _("변경 미리보기: %(account)s") % {"account": account.name},
            account=account,
            rollout=rollout,
            mode=mode,
            mode_label=Mode(mode).label,
            phase=phase,
            proposed_phase=proposed,
            preview=preview_change(account=account, phase=proposed),
            form=form,
            days=PREVIEW_DAYS,
        ),
    )


def _apply(request: HttpRequest, *, account: MarketAccount, mode: str, phase: RolloutPhase | None, reason: str) -> None:
    held_before = approved_answers_held()
    try:
        rollout = services.rollout_unlock(
            account=account, mode=mode, phase=phase, actor=services.Actor.of(request.user), reason=reason
        )
    except services.RolloutError as exc:
        messages.error(request, str(exc))
        return
    messages.success(
        request,
        _("계정 %(account)s을(를) %(mode)s, %(phase)s(으)로 바꿨습니다. 사유가 변경 기록에 남았습니다.")
        % {
            "account": account.name,
            "mode": Mode(rollout.mode).label,
            "phase": rollout.phase.name if rollout.phase else _("단계 없음"),
        },
    )
    if note := held_answers_note(held_before=held_before):
        messages.warning(request, note)


# --- an incident --------------------------------------------------------------------------------------


def _intent_of(incident: RollbackIncident) -> str:
    return str((incident.figures or {}).get("intent") or "")


def lift_label(incident: RollbackIncident) -> str:
    action = incident.rule.action
    if action == RollbackRule.Action.WITHDRAW_INTENT:
        return _("계정 %(account)s에서 의도 '%(intent)s' 자동화 복구") % {
            "account": incident.account.name if incident.account else "?",
            "intent": _intent_of(incident),
        }
    if action == RollbackRule.Action.LOCK_ACCOUNT:
        return _("계정 %(account)s 다시 해금") % {"account": incident.account.name if incident.account else "?"}
    if action == RollbackRule.Action.GLOBAL_TEST_MODE:
        return _("전역 테스트 모드 끄기 (실전송 계정이 모두 다시 마켓으로 보냅니다)")
    return _("부분 자동화 스위치 다시 켜기")


def _can_lift(incident: RollbackIncident) -> bool:
    if incident.dry_run:
        return False
    if incident.rule.action == RollbackRule.Action.LOCK_ACCOUNT and incident.account is None:
        return False
    return monitor.action_in_effect(incident.rule, incident.account, _intent_of(incident))


def _lift(incident: RollbackIncident, *, actor: services.Actor, reason: str) -> None:
    action = incident.rule.action
    if action == RollbackRule.Action.WITHDRAW_INTENT:
        assert incident.account is not None  # _can_lift() holds: the withdrawal is in effect for its account
        followup_rule.intent_restore(account=incident.account, intent=_intent_of(incident), reason=reason, actor=actor)
    elif action == RollbackRule.Action.LOCK_ACCOUNT:
        assert incident.account is not None  # _can_lift() holds: a lock always has its account
        rollout = services.rollout_for(incident.account)
        services.rollout_unlock(account=incident.account, mode=rollout.mode, phase=None, actor=actor, reason=reason)
    elif action == RollbackRule.Action.GLOBAL_TEST_MODE:
        services.settings_update(actor=actor, reason=reason, test_mode=False)
    else:
        services.settings_update(actor=actor, reason=reason, partial_auto=True)


def lift_risks(incident: RollbackIncident) -> list[str]:
    """What lifting a global action starts doing for real (the admin's confirmation text): turning global
    test mode off or the partial-auto switch on. Unlocking an account goes back to the mode it had."""
    action = incident.rule.action
    if action in (RollbackRule.Action.LOCK_ACCOUNT, RollbackRule.Action.WITHDRAW_INTENT):
        return []
    if action == RollbackRule.Action.GLOBAL_TEST_MODE:
        return change_risks.settings_risks(test_mode=False)
    return change_risks.settings_risks(partial_auto_enabled=True)


def incident_rows(incident: RollbackIncident) -> list[dict]:
    rows = []
    for row in monitor.incident_rows(incident.figures):
        rows.append(
            {
                **row,
                "inquiry_url": reverse("admin:inquiries_inquiry_change", args=[row["inquiry"]])
                if row.get("inquiry")
                else "",
                "attempt_url": reverse("admin:inquiries_sendattempt_change", args=[row["attempt"]])
                if row.get("attempt")
                else "",
                "when": row.get("started_at") or row.get("claimed_at") or "",
                "terms": ", ".join(row.get("terms") or []),
            }
        )
    return rows


INCIDENT_ACTIONS = ("acknowledge", "resolve", "lift")


@never_cache
@require_http_methods(["GET", "POST"])
def incident(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(
        RollbackIncident.objects.select_related("rule", "account", "acknowledged_by", "resolved_by"), pk=pk
    )
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in INCIDENT_ACTIONS:
            messages.error(request, _("알 수 없는 작업입니다."))
            return redirect("policy:incident", pk=obj.pk)
        _require(request, UNLOCK_PERMISSION if action == "lift" else INCIDENT_PERMISSION)
        if action == "lift" and lift_risks(obj) and request.POST.get("confirm") != "on":
            messages.error(request, _("실제 전송이 시작되는 변경입니다. 내용을 읽고 확인란에 표시한 뒤 다시 누르세요."))
            return redirect("policy:incident", pk=obj.pk)
        if action == "acknowledge" or form.is_valid():
            _incident_action(request, obj, action, form.cleaned_data.get("reason", "") if form.is_valid() else "")
            return redirect("policy:incident", pk=obj.pk)
    return TemplateResponse(
        request,
        "admin/policy/incident.html",
        _context(
            request,
            _("롤백 사고 #%(pk)s") % {"pk": obj.pk},
            incident=obj,
            summary=monitor.summarize(obj.rule, obj.figures),
            rows=incident_rows(obj),
            form=form,
            figures=obj.figures,
            can_handle=request.user.has_perm(INCIDENT_PERMISSION),
            can_lift=request.user.has_perm(UNLOCK_PERMISSION) and _can_lift(obj),
            lift_label=lift_label(obj),
            lift_risks=lift_risks(obj) if _can_lift(obj) else [],
            open=obj.status != RollbackIncident.Status.RESOLVED,
            admin_url=reverse("admin:policy_rollbackincident_change", args=[obj.pk]),
        ),
    )


def _incident_action(request: HttpRequest, obj: RollbackIncident, action: str, reason: str) -> None:
    if action == "acknowledge":
        services.incident_acknowledge(incident=obj, user=request.user)
        messages.success(request, _("확인 처리했습니다."))
    elif action == "resolve":
        services.incident_resolve(incident=obj, user=request.user, note=reason)
        messages.success(request, _("해결 처리했습니다."))
    elif not _can_lift(obj):
        messages.error(request, _("이 사고의 조치는 이미 풀려 있습니다."))
    else:
        held_before = approved_answers_held()
        try:
            _lift(obj, actor=services.Actor.of(request.user), reason=reason)
        except services.RolloutError as exc:
            messages.error(request, str(exc))
            return
        messages.success(
            request, _("조치를 풀었습니다: %(what)s. 사유가 변경 기록에 남았습니다.") % {"what": lift_label(obj)}
        )
        if note := held_answers_note(held_before=held_before):
            messages.warning(request, note)


# --- the guide's 4.2.3: failures of the last 10 minutes -----------------------------------------------


@never_cache
@require_GET
def recent_failures(request: HttpRequest) -> HttpResponse:
    """The guide's query verbatim (inquiries asked in the last 10 minutes that ended SEND_FAILED, test-mode
    rows marked), and beside it every real send attempt that failed in the last 10 minutes."""
    now = timezone.now()
    since = now - RECENT_FAILURES_WINDOW
    inquiries = list(
        Inquiry.objects.select_related("account")
        .defer("raw_payload", "decision_trace")
        .filter(send_status=Inquiry.SendStatus.SEND_FAILED, created_at__gte=since)
        .order_by("-created_at")[:RECENT_FAILURES_SHOWN]
    )
    attempts = list(
        SendAttempt.objects.select_related("account")
        .filter(started_at__gte=since, outcome__in=SendAttempt.FAILURES, is_test_mode=False)
        .order_by("-started_at")[:RECENT_FAILURES_SHOWN]
    )
    return TemplateResponse(
        request,
        "admin/policy/recent_failures.html",
        _context(
            request,
            _("최근 10분 전송 실패"),
            inquiries=inquiries,
            attempts=attempts,
            since=since,
            now=now,
            real_failures=sum(1 for i in inquiries if not i.is_test_mode),
        ),
    )
