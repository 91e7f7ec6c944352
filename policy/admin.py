from __future__ import annotations

import datetime as dt
from contextvars import ContextVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.core.validators import URLValidator, validate_email
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from inquiries.models import Inquiry, SendAttempt
from partialauto.admin_utils import ReadOnlyAdmin, pretty_json
from policy import services
from policy.controls import load_account_controls, load_global
from policy.quota import quota_day
from policy.selectors import COUNTED_OUTCOMES, FAILURE_OUTCOMES, seoul_day_start
from policy.models import (
    AccountRollout,
    AutomationSettings,
    BusinessDayOverride,
    BusinessHoursRange,
    ChecklistItem,
    DailyQuotaUsage,
    Mode,
    Notification,
    NotificationChannel,
    RiskKeyword,
    RollbackIncident,
    RollbackRule,
    RolloutEvent,
    RolloutPhase,
)


class RolloutManagerOnly:
    """Changing rollout configuration needs the rollout-manager permission, not just model change rights."""

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("policy.unlock_account") and super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args):
        return request.user.has_perm("policy.unlock_account") and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("policy.unlock_account") and super().has_delete_permission(request, obj)


@admin.register(AutomationSettings)
class AutomationSettingsAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = ["__str__", "partial_auto_enabled", "test_mode", "auto_send_threshold", "business_hours_enabled",
                    "agent_backend", "emergency_stopped_at", "updated_at"]
    readonly_fields = ["emergency_stopped_at", "emergency_reason", "updated_at"]

    def has_add_permission(self, request, *args):
        return not AutomationSettings.objects.exists() and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BusinessHoursRange)
class BusinessHoursRangeAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = ["weekday", "start", "end"]
    list_filter = ["weekday"]


@admin.register(BusinessDayOverride)
class BusinessDayOverrideAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = ["date", "is_open", "start", "end", "note"]
    date_hierarchy = "date"


@admin.register(RolloutPhase)
class RolloutPhaseAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = ["number", "name", "all_intents", "intent_list", "daily_quota", "description"]
    filter_horizontal = ["allowed_intents"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("allowed_intents")

    @admin.display(description=_("허용 의도"))
    def intent_list(self, obj: RolloutPhase) -> str:
        return _("전체") if obj.all_intents else ", ".join(i.name for i in obj.allowed_intents.all())


_glob_var: ContextVar = ContextVar("rollout_page_glob", default=None)


class UnlockForm(forms.Form):
    mode = forms.ChoiceField(label=_("모드"), choices=Mode.choices, initial=Mode.TEST)
    phase = forms.ModelChoiceField(label=_("단계"), queryset=RolloutPhase.objects.all(), required=False,
                                   empty_label=_("현재 단계 유지"))
    reason = forms.CharField(label=_("사유"), max_length=300, widget=forms.TextInput(attrs={"size": 80}))


class LockForm(forms.Form):
    reason = forms.CharField(label=_("사유"), max_length=300, widget=forms.TextInput(attrs={"size": 80}))


@admin.register(AccountRollout)
class AccountRolloutAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
    """The rollout page: every account's mode, phase, today's sends against quota, 24 h failure rate and
    lock, with unlock / lock actions (confirmation and a reason) and the emergency stop."""

    change_list_template = "admin/policy/accountrollout/change_list.html"
    list_display = ["account", "mode", "effective_mode", "phase", "today_vs_quota", "failure_rate_24h", "consecutive_failures",
                    "lock_state"]
    list_filter = ["mode", "phase"]
    list_select_related = ["account", "phase"]
    search_fields = ["account__name"]
    readonly_fields = ["account", "mode", "locked_at", "lock_reason", "locked_by", "consecutive_failures", "updated_at"]
    fields = ["account", "mode", "phase", "intents_override", "quota_override", "threshold_override",
              "locked_at", "lock_reason", "locked_by", "consecutive_failures", "updated_at"]
    filter_horizontal = ["intents_override"]
    actions = ["unlock_accounts", "lock_accounts"]

    def has_add_permission(self, request, *args):
        return False  # created with the account

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        now = timezone.now()
        day_start = seoul_day_start(now)
        since = now - dt.timedelta(hours=24)
        attempts = SendAttempt.objects.filter(account=OuterRef("account"), started_at__gte=since, is_test_mode=False,
                                              outcome__in=COUNTED_OUTCOMES).values("account")
        return (
            super().get_queryset(request).prefetch_related("phase__allowed_intents", "intents_override")
            .annotate(
                sent_today=Subquery(Inquiry.objects.filter(account=OuterRef("account"), send_status="SENT", sent_at__gte=day_start)
                                    .values("account").annotate(n=Count("id")).values("n")[:1]),
                quota_used_today=Subquery(DailyQuotaUsage.objects.filter(account=OuterRef("account"), day=quota_day(now))
                                          .values("used")[:1]),
                attempts_24h=Subquery(attempts.annotate(n=Count("id")).values("n")[:1]),
                failed_24h=Subquery(attempts.filter(outcome__in=FAILURE_OUTCOMES).annotate(n=Count("id")).values("n")[:1]),
            )
        )

    def changelist_view(self, request, extra_context=None):
        glob = load_global()
        token = _glob_var.set(glob)
        try:
            extra = {"glob": glob, "env_notes": services.env_overrides_summary(),
                     "can_stop": request.user.has_perm("policy.emergency_stop"), **(extra_context or {})}
            response = super().changelist_view(request, extra_context=extra)
            if hasattr(response, "render"):
                response.render()  # render while the page's settings snapshot is in place
            return response
        finally:
            _glob_var.reset(token)

    def _controls(self, obj: AccountRollout):
        return load_account_controls(obj.account, glob=_glob_var.get() or load_global(), rollout=obj)

    @admin.display(description=_("실제 모드"))
    def effective_mode(self, obj: AccountRollout) -> str:
        c = self._controls(obj)
        return c.effective_mode if c.effective_mode == obj.mode else f"{c.effective_mode} ({'; '.join(c.mode_reasons)})"

    @admin.display(description=_("오늘 전송 / 한도"))
    def today_vs_quota(self, obj: AccountRollout) -> str:
        quota = self._controls(obj).daily_quota
        used = getattr(obj, "quota_used_today", None) or 0
        sent = getattr(obj, "sent_today", None) or 0
        return f"{sent} ({used}/{quota})" if quota is not None else f"{sent} / ∞"

    @admin.display(description=_("24시간 실패율"))
    def failure_rate_24h(self, obj: AccountRollout) -> str:
        total = getattr(obj, "attempts_24h", None) or 0
        failed = getattr(obj, "failed_24h", None) or 0
        return f"{failed / total * 100:.1f}% ({failed}/{total})" if total else "-"

    @admin.display(description=_("잠금"))
    def lock_state(self, obj: AccountRollout) -> str:
        if not obj.locked_at:
            return "-"
        return f"🔒 {timezone.localtime(obj.locked_at):%m-%d %H:%M} {obj.lock_reason} ({obj.locked_by})"

    def _require_manager(self, request) -> bool:
        if not request.user.has_perm("policy.unlock_account"):
            self.message_user(request, _("롤아웃 관리자만 해금·잠금할 수 있습니다."), messages.ERROR)
            return False
        return True

    @admin.action(description=_("선택한 계정 해금 (모드·단계 설정)"))
    def unlock_accounts(self, request, queryset):
        def apply(rollout, data, actor):
            services.rollout_unlock(account=rollout.account, mode=data["mode"], phase=data["phase"], actor=actor,
                                    reason=data["reason"])
            return f"{rollout.account.name}: {data['mode']}"

        return self._confirmed(request, queryset, UnlockForm, _("계정 해금 확인"), "unlock_accounts", apply)

    @admin.action(description=_("선택한 계정 잠금 (해금 해제)"))
    def lock_accounts(self, request, queryset):
        def apply(rollout, data, actor):
            services.rollout_lock(account=rollout.account, reason=data["reason"], actor=actor)
            return f"{rollout.account.name}: {_('잠갔습니다.')}"

        return self._confirmed(request, queryset, LockForm, _("계정 잠금 확인"), "lock_accounts", apply)

    def _confirmed(self, request, queryset, form_class, title, action, apply):
        """An action with a confirmation page and a reason; each account is changed through the service."""
        if not self._require_manager(request):
            return None
        form = form_class(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and form.is_valid():
            actor = services.Actor.of(request.user)
            for rollout in queryset.select_related("account"):
                try:
                    self.message_user(request, apply(rollout, form.cleaned_data, actor), messages.SUCCESS)
                except services.RolloutError as exc:
                    self.message_user(request, f"{rollout.account.name}: {exc}", messages.ERROR)
            return None
        return TemplateResponse(request, "admin/policy/rollout_action.html", {
            **self.admin_site.each_context(request), "title": title, "form": form, "queryset": queryset,
            "action": action, "opts": self.model._meta, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })

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
        if request.method == "POST" and form.is_valid():
            actor, reason = services.Actor.of(request.user), form.cleaned_data["reason"]
            if stop:
                services.emergency_stop(reason=reason, actor=actor)
                self.message_user(request, _("긴급 정지: 모든 실제 전송을 막았습니다."), messages.ERROR)
            else:
                services.resume(reason=reason, actor=actor)
                self.message_user(request, _("긴급 정지를 풀었습니다. 테스트 모드는 그대로입니다."), messages.SUCCESS)
            return redirect("admin:policy_accountrollout_changelist")
        return TemplateResponse(request, "admin/policy/emergency_stop.html", {
            **self.admin_site.each_context(request), "title": _("긴급 정지") if stop else _("긴급 정지 해제"), "form": form,
            "opts": self.model._meta, "stop": stop,
        })


class RiskKeywordForm(forms.ModelForm):
    """Every variant is checked before it is saved: a broken pattern must never silently match nothing."""

    class Meta:
        model = RiskKeyword
        fields = ["term", "category", "variants", "notes", "is_active"]

    def clean_variants(self):
        from inquiries.agent.patterns import validate_pattern

        variants = self.cleaned_data.get("variants") or []
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            raise forms.ValidationError(_('변형은 문자열 목록이어야 합니다. 예: ["소보원", "re:소비자\\s*보호원"]'))
        errors = [f"{v}: {err}" for v in variants if (err := validate_pattern(v))]
        if errors:
            raise forms.ValidationError(errors)
        return variants


@admin.register(RiskKeyword)
class RiskKeywordAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
    form = RiskKeywordForm
    list_display = ["term", "category", "variant_list", "is_active", "notes"]
    list_filter = ["category", "is_active"]
    search_fields = ["term", "notes"]

    @admin.display(description=_("변형"))
    def variant_list(self, obj: RiskKeyword) -> str:
        return ", ".join(obj.variants or [])


@admin.register(RollbackRule)
class RollbackRuleAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = ["name", "metric", "comparison", "threshold", "window_minutes", "min_sample", "action", "enabled", "dry_run"]
    list_filter = ["enabled", "dry_run", "action", "severity"]
    list_editable = ["enabled", "dry_run"]


@admin.register(RollbackIncident)
class RollbackIncidentAdmin(admin.ModelAdmin):
    list_display = ["fired_at", "rule", "account", "status", "action_taken", "dry_run", "acknowledged_by", "resolved_by"]
    list_filter = ["status", "dry_run", "rule"]
    list_select_related = ["rule", "account", "acknowledged_by", "resolved_by"]
    date_hierarchy = "fired_at"
    readonly_fields = ["rule", "account", "status", "fired_at", "figures_display", "action_taken", "dry_run",
                       "acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at"]
    fields = readonly_fields + ["resolution_note"]
    actions = ["acknowledge", "resolve"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("수치"))
    def figures_display(self, obj: RollbackIncident) -> str:
        return pretty_json(obj.figures)

    @admin.action(description=_("확인 처리"), permissions=["change"])
    def acknowledge(self, request, queryset):
        for incident in queryset:
            services.incident_acknowledge(incident=incident, user=request.user)
        self.message_user(request, _("확인 처리했습니다."), messages.SUCCESS)

    @admin.action(description=_("해결 처리"), permissions=["change"])
    def resolve(self, request, queryset):
        for incident in queryset:
            services.incident_resolve(incident=incident, user=request.user)
        self.message_user(request, _("해결 처리했습니다. 잠긴 계정은 롤아웃 관리자가 사유와 함께 다시 해금해야 합니다."), messages.SUCCESS)


class NotificationChannelForm(forms.ModelForm):
    """A webhook URL carries its secret in the path: it is write-only, like marketplace keys."""

    class Meta:
        model = NotificationChannel
        fields = ["kind", "target", "is_active"]
        widgets = {"target": forms.PasswordInput(render_value=False)}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["target"].required = False
            self.fields["target"].help_text = _("비워 두면 저장된 값을 유지합니다.")

    def clean_target(self):
        value = self.cleaned_data.get("target", "").strip()
        if not value and self.instance.pk:
            return self.instance.target
        kind = self.data.get("kind") or self.instance.kind
        if kind == NotificationChannel.Kind.WEBHOOK:
            URLValidator(schemes=["http", "https"])(value)
        elif kind == NotificationChannel.Kind.EMAIL:
            validate_email(value)
        return value


@admin.register(NotificationChannel)
class NotificationChannelAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
    form = NotificationChannelForm
    list_display = ["kind", "masked_target", "is_active"]
    list_filter = ["kind", "is_active"]

    @admin.display(description=_("받는 곳"))
    def masked_target(self, obj: NotificationChannel) -> str:
        # Webhook URLs carry their secret in the path: show the host only.
        if obj.kind == NotificationChannel.Kind.WEBHOOK:
            from urllib.parse import urlsplit

            parts = urlsplit(obj.target)
            return f"{parts.scheme}://{parts.netloc}/…"
        return obj.target


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["incident", "channel", "status", "attempts", "last_error", "next_attempt_at", "sent_at"]
    list_filter = ["status"]


@admin.register(ChecklistItem)
class ChecklistItemAdmin(SimpleHistoryAdmin):
    list_display = ["title", "is_automatic", "checked", "checked_by", "checked_at", "note"]
    readonly_fields = ["code", "title", "is_automatic", "checked", "checked_by", "checked_at"]
    fields = readonly_fields + ["note"]
    actions = ["tick", "untick"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("완료로 표시"), permissions=["change"])
    def tick(self, request, queryset):
        for item in queryset:
            try:
                services.checklist_set(item=item, checked=True, user=request.user)
            except services.RolloutError as exc:
                self.message_user(request, str(exc), messages.WARNING)

    @admin.action(description=_("완료 취소"), permissions=["change"])
    def untick(self, request, queryset):
        for item in queryset:
            try:
                services.checklist_set(item=item, checked=False, user=request.user)
            except services.RolloutError as exc:
                self.message_user(request, str(exc), messages.WARNING)


@admin.register(RolloutEvent)
class RolloutEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "account", "actor_label", "reason"]
    list_filter = ["action", "account"]
    list_select_related = ["account"]
    date_hierarchy = "at"
    search_fields = ["reason", "actor_label"]
    readonly_fields = ["at", "action", "account", "actor_label", "reason", "data_display"]
    fields = readonly_fields

    @admin.display(description=_("변경 내용"))
    def data_display(self, obj: RolloutEvent) -> str:
        return pretty_json(obj.data)


@admin.register(DailyQuotaUsage)
class DailyQuotaUsageAdmin(ReadOnlyAdmin):
    list_display = ["day", "account", "used"]
    list_filter = ["account"]
    date_hierarchy = "day"

