from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.validators import URLValidator, validate_email
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from partialauto.admin_utils import ReadOnlyAdmin, pretty_json
from policy import services
from policy.models import (
    AccountRollout,
    AutomationSettings,
    BusinessDayOverride,
    BusinessHoursRange,
    ChecklistItem,
    DailyQuotaUsage,
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


@admin.register(AccountRollout)
class AccountRolloutAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = ["account", "mode", "phase", "quota_override", "threshold_override", "locked_at", "lock_reason",
                    "consecutive_failures", "updated_at"]
    list_filter = ["mode", "phase"]
    list_select_related = ["account", "phase"]
    search_fields = ["account__name"]
    readonly_fields = ["account", "locked_at", "lock_reason", "locked_by", "consecutive_failures", "updated_at"]
    filter_horizontal = ["intents_override"]

    def has_add_permission(self, request, *args):
        return False  # created with the account


@admin.register(RiskKeyword)
class RiskKeywordAdmin(RolloutManagerOnly, SimpleHistoryAdmin):
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
