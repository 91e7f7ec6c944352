"""The rollout page: every account's mode, phase, today's sends against quota, 24 h failure rate and
lock, with the unlock / lock actions and the emergency stop. Registered when ``policy.admin`` loads."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from inquiries.models import Inquiry
from partialauto.admin_utils import NoAddNoDelete, verdict
from partialauto.cli import local_time
from policy import services
from policy.admin_base import (
    ConfigAuditAdmin,
    RolloutManagerOnly,
)
from policy.controls import load_account_controls, load_global
from policy.engine import mode_label
from policy.models import (
    AccountRollout,
    DailyQuotaUsage,
    Mode,
    RolloutPhase,
)
from policy.quota import quota_day
from policy.selectors import (
    approved_answers_held,
    attempt_stats,
    held_answers_note,
    seoul_day_start,
)


class UnlockForm(forms.Form):
    mode = forms.ChoiceField(label=_("모드"), choices=Mode.choices, initial=Mode.TEST)
    phase = forms.ModelChoiceField(
        label=_("단계"), queryset=RolloutPhase.objects.all(), required=False, empty_label=_("현재 단계 유지")
    )
    reason = forms.CharField(label=_("사유"), max_length=300, widget=forms.TextInput(attrs={"size": 80}))
    confirm_live = forms.BooleanField(
        label=_(
            "LIVE로 해금하면 선택한 계정이 실제 마켓에 답변을 전송합니다 (전역 테스트 모드가 꺼져 있으면 바로). "
            "확인했습니다."
        ),
        required=False,
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("mode") == Mode.LIVE and not cleaned.get("confirm_live"):
            self.add_error("confirm_live", _("LIVE 해금은 실제 전송을 시작합니다. 확인란을 선택하세요."))
        return cleaned


class LockForm(forms.Form):
    reason = forms.CharField(label=_("사유"), max_length=300, widget=forms.TextInput(attrs={"size": 80}))


def _effective_mode(obj: AccountRollout, glob) -> str:
    c = load_account_controls(obj.account, glob=glob, rollout=obj)
    label = mode_label(c.effective_mode)
    return label if c.effective_mode == obj.mode else f"{label} ({'; '.join(c.mode_reasons)})"


def _today_vs_quota(obj: AccountRollout, glob) -> str:
    quota = load_account_controls(obj.account, glob=glob, rollout=obj).daily_quota
    used = getattr(obj, "quota_used_today", None) or 0
    sent = getattr(obj, "sent_today", None) or 0
    return f"{sent} ({used}/{quota})" if quota is not None else f"{sent} / ∞"


def _failure_rate(stats: dict[str, int] | None) -> str:
    total, failed = (stats["total"], stats["failed"]) if stats else (0, 0)
    return f"{failed / total * 100:.1f}% ({failed}/{total})" if total else "-"


@admin.register(AccountRollout)
class AccountRolloutAdmin(NoAddNoDelete, ConfigAuditAdmin, RolloutManagerOnly, SimpleHistoryAdmin):
    """The rollout page: every account's mode, phase, today's sends against quota, 24 h failure rate and
    lock, with unlock / lock actions (confirmation and a reason) and the emergency stop."""

    change_list_template = "admin/policy/accountrollout/change_list.html"
    list_display = [
        "account",
        "mode",
        "effective_mode",
        "phase",
        "today_vs_quota",
        "failure_rate_24h",
        "consecutive_failures",
        "lock_state",
    ]
    list_filter = ["mode", "phase"]
    list_select_related = ["account", "phase"]
    search_fields = ["account__name"]
    readonly_fields = ["account", "mode", "locked_at", "lock_reason", "locked_by", "consecutive_failures", "updated_at"]
    fields = [
        "account",
        "mode",
        "phase",
        "intents_override",
        "quota_override",
        "threshold_override",
        "locked_at",
        "lock_reason",
        "locked_by",
        "consecutive_failures",
        "updated_at",
    ]
    filter_horizontal = ["intents_override"]
    actions = ["unlock_accounts", "lock_accounts"]

    def audit_account(self, obj: AccountRollout):
        return obj.account

    def has_unlock_permission(self, request) -> bool:
        """Unlock and lock are offered only to rollout managers."""
        return request.user.has_perm("policy.unlock_account")

    def get_queryset(self, request):
        now = timezone.now()
        day_start = seoul_day_start(now)
        return (
            super()
            .get_queryset(request)
            .prefetch_related("phase__allowed_intents", "intents_override")
            .annotate(
                sent_today=Subquery(
                    Inquiry.objects.filter(account=OuterRef("account"), send_status="SENT", sent_at__gte=day_start)
                    .values("account")
                    .annotate(n=Count("id"))
                    .values("n")[:1]
                ),
                quota_used_today=Subquery(
                    DailyQuotaUsage.objects.filter(account=OuterRef("account"), day=quota_day(now)).values("used")[:1]
                ),
            )
        )

    def changelist_view(self, request, extra_context=None):
        extra = {
            "glob": load_global(),
            "env_notes": services.env_overrides_summary(),
            "can_stop": request.user.has_perm("policy.emergency_stop"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    def get_list_display(self, request):
        """The columns computed from the controls read the global switches once per page (the methods
        below, for the admin's checks, would read them per row): one snapshot for this request only."""
        glob = load_global()

        @admin.display(description=_("실제 모드"))
        def effective_mode(obj: AccountRollout) -> str:
            return _effective_mode(obj, glob)

        @admin.display(description=_("오늘 전송 / 한도"))
        def today_vs_quota(obj: AccountRollout) -> str:
            return _today_vs_quota(obj, glob)

        # the 24-hour failure figures as everywhere else (policy.selectors.attempt_stats), read once
        stats = attempt_stats(since=timezone.now() - dt.timedelta(hours=24))

        @admin.display(description=_("24시간 실패율"))
        def failure_rate_24h(obj: AccountRollout) -> str:
            return _failure_rate(stats.get(obj.account_id))

        by_name = {
            "effective_mode": effective_mode,
            "today_vs_quota": today_vs_quota,
            "failure_rate_24h": failure_rate_24h,
        }
        return [by_name.get(name, name) for name in super().get_list_display(request)]

    @admin.display(description=_("실제 모드"))
    def effective_mode(self, obj: AccountRollout) -> str:
        return _effective_mode(obj, load_global())

    @admin.display(description=_("오늘 전송 / 한도"))
    def today_vs_quota(self, obj: AccountRollout) -> str:
        return _today_vs_quota(obj, load_global())

    @admin.display(description=_("24시간 실패율"))
    def failure_rate_24h(self, obj: AccountRollout) -> str:
        since = timezone.now() - dt.timedelta(hours=24)
        return _failure_rate(attempt_stats(since=since, account_ids=[obj.account_id]).get(obj.account_id))

    @admin.display(description=_("잠금"))
    def lock_state(self, obj: AccountRollout) -> str:
        if not obj.locked_at:
            return "-"
        return format_html(
            "{} {} {} ({})",
            verdict("fail", _("잠김")),
            local_time(obj.locked_at, "%m-%d %H:%M"),
            obj.lock_reason,
            obj.locked_by,
        )

    def _require_manager(self, request) -> bool:
        if not request.user.has_perm("policy.unlock_account"):
            self.message_user(request, _("롤아웃 관리자만 해금·잠금할 수 있습니다."), messages.ERROR)
            return False
        return True

    @admin.action(description=_("선택한 계정 해금 (모드·단계 설정)"), permissions=["unlock"])
    def unlock_accounts(self, request, queryset):
        def apply(rollout, data, actor):
            services.rollout_unlock(
                account=rollout.account, mode=data["mode"], phase=data["phase"], actor=actor, reason=data["reason"]
            )
            return _("%(account)s: %(mode)s 모드로 해금했습니다.") % {
                "account": rollout.account.name,
                "mode": mode_label(data["mode"]),
            }

        return self._confirmed(request, queryset, UnlockForm, _("계정 해금 확인"), "unlock_accounts", apply)

    @admin.action(description=_("선택한 계정 잠금 (해금 해제)"), permissions=["unlock"])
    def lock_accounts(self, request, queryset):
        def apply(rollout, data, actor):
            services.rollout_lock(account=rollout.account, reason=data["reason"], actor=actor)
            return _("%(account)s: 잠갔습니다.") % {"account": rollout.account.name}

        return self._confirmed(request, queryset, LockForm, _("계정 잠금 확인"), "lock_accounts", apply)

    def _confirmed(self, request, queryset, form_class, title, action, apply):
        """An action with a confirmation page and a reason; each account is changed through the service."""
        if not self._require_manager(request):
            return None
        form = form_class(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and form.is_valid():
            actor = services.Actor.of(request.user)
            held_before = approved_answers_held()
            for rollout in queryset.select_related("account"):
                try:
                    self.message_user(request, apply(rollout, form.cleaned_data, actor), messages.SUCCESS)
                except services.RolloutError as exc:
                    self.message_user(
                        request,
                        _("%(account)s: %(error)s") % {"account": rollout.account.name, "error": exc},
                        messages.ERROR,
                    )
            if note := held_answers_note(held_before=held_before):
                self.message_user(request, note, messages.WARNING)
            return None
        return TemplateResponse(
            request,
            "admin/policy/rollout_action.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": action,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def get_urls(self):
        urls = super().get_urls()
        custom = [
            path("emergency-stop/", self.admin_site.admin_view(self.emergency_stop_view), name="policy_emergency_stop"),
            path("resume/", self.admin_site.admin_view(self.resume_view), name="policy_resume"),
        ]
        return custom + urls

    def emergency_stop_view(self, request):
        return self._stop_view(request, stop=True)

    def resume_view(self, request):
        return self._stop_view(request, stop=False)

    def _stop_view(self, request, *, stop: bool):
        """The emergency stop and its lifting: a confirmation page with a reason, then the service call."""
        if not request.user.has_perm("policy.emergency_stop"):
            raise PermissionDenied
        form = LockForm(request.POST or None)
        back = _safe_next(request)
        if request.method == "POST" and form.is_valid():
            actor, reason = services.Actor.of(request.user), form.cleaned_data["reason"]
            held_before = approved_answers_held()
            if stop:
                services.emergency_stop(reason=reason, actor=actor)
                self.message_user(
                    request,
                    _(
                        "긴급 정지: 모든 실제 전송을 막았습니다. 승인된 답변은 소모되지 않고 전송 대기하며, "
                        "긴급 정지를 풀고 테스트 모드를 끄면 다시 승인하지 않아도 전송됩니다."
                    ),
                    messages.ERROR,
                )
            else:
                services.resume(reason=reason, actor=actor)
                self.message_user(request, _("긴급 정지를 풀었습니다. 테스트 모드는 그대로입니다."), messages.SUCCESS)
                if note := held_answers_note(held_before=held_before):
                    self.message_user(request, note, messages.WARNING)
            return redirect(back or "admin:policy_accountrollout_changelist")
        return TemplateResponse(
            request,
            "admin/policy/emergency_stop.html",
            {
                **self.admin_site.each_context(request),
                "title": _("긴급 정지") if stop else _("긴급 정지 해제"),
                "form": form,
                "next": back,
                "opts": self.model._meta,
                "stop": stop,
            },
        )


def _safe_next(request) -> str:
    """Where the page that opened the stop (dashboard, board) wants to go back to: a local URL only."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else ""
