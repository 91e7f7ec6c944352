from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.validators import URLValidator, validate_email
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from partialauto.admin_utils import NoAddNoDelete, ReadOnlyAdmin, pretty_json
from policy import services
from policy.admin_base import (
    ConfigAuditAdmin,
    ConfigChangeForm,
    RolloutManagerOnly,
)
from policy.models import (
    AutomationSettings,
    BusinessDayOverride,
    BusinessHoursRange,
    ChecklistItem,
    DailyQuotaUsage,
    IntentWithdrawal,
    Notification,
    NotificationChannel,
    RiskKeyword,
    RollbackIncident,
    RollbackRule,
    RolloutEvent,
    RolloutPhase,
)
from policy.selectors import (
    approved_answers_held,
    held_answers_note,
)


@admin.register(AutomationSettings)
class AutomationSettingsAdmin(ConfigAuditAdmin, RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = [
        "__str__",
        "partial_auto_enabled",
        "test_mode",
        "auto_send_threshold",
        "business_hours_enabled",
        "agent_backend",
        "emergency_stopped_at",
        "updated_at",
    ]
    readonly_fields = ["emergency_stopped_at", "emergency_reason", "updated_at"]
    audit_action = RolloutEvent.Action.SETTINGS

    def has_add_permission(self, request, *args):
        return not AutomationSettings.objects.exists() and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Turning test mode off here sends the approved answers it held back: say how many."""
        held_before = approved_answers_held()
        super().save_model(request, obj, form, change)
        services.send_released_answers()
        if note := held_answers_note(held_before=held_before):
            self.message_user(request, note, messages.WARNING)


@admin.register(BusinessHoursRange)
class BusinessHoursRangeAdmin(ConfigAuditAdmin, RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = ["weekday", "start", "end"]
    list_filter = ["weekday"]


@admin.register(BusinessDayOverride)
class BusinessDayOverrideAdmin(ConfigAuditAdmin, RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = ["date", "is_open", "start", "end", "note"]
    date_hierarchy = "date"


@admin.register(RolloutPhase)
class RolloutPhaseAdmin(ConfigAuditAdmin, RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = ["number", "name", "all_intents", "intent_list", "daily_quota", "description"]
    filter_horizontal = ["allowed_intents"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("allowed_intents")

    @admin.display(description=_("허용 의도"))
    def intent_list(self, obj: RolloutPhase) -> str:
        return str(_("전체")) if obj.all_intents else ", ".join(i.name for i in obj.allowed_intents.all())


class RiskKeywordForm(ConfigChangeForm):
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
class RiskKeywordAdmin(ConfigAuditAdmin, RolloutManagerOnly, SimpleHistoryAdmin):
    form = RiskKeywordForm
    list_display = ["term", "category", "variant_list", "is_active", "notes"]
    list_filter = ["category", "is_active"]
    search_fields = ["term", "notes"]

    @admin.display(description=_("변형"))
    def variant_list(self, obj: RiskKeyword) -> str:
        return ", ".join(obj.variants or [])


@admin.register(RollbackRule)
class RollbackRuleAdmin(ConfigAuditAdmin, RolloutManagerOnly, SimpleHistoryAdmin):
    list_display = [
        "name",
        "metric",
        "comparison",
        "threshold",
        "window_minutes",
        "min_sample",
        "action",
        "enabled",
        "dry_run",
    ]
    list_filter = ["enabled", "dry_run", "action", "severity"]
    list_editable = ["enabled", "dry_run"]


@admin.register(RollbackIncident)
class RollbackIncidentAdmin(NoAddNoDelete, admin.ModelAdmin):
    list_display = [
        "fired_at",
        "rule",
        "account",
        "status",
        "action_taken",
        "dry_run",
        "acknowledged_by",
        "resolved_by",
    ]
    list_filter = ["status", "dry_run", "rule"]
    list_select_related = ["rule", "account", "acknowledged_by", "resolved_by"]
    date_hierarchy = "fired_at"
    readonly_fields = [
        "rule",
        "account",
        "status",
        "fired_at",
        "rows_display",
        "figures_display",
        "action_taken",
        "dry_run",
        "acknowledged_by",
        "acknowledged_at",
        "resolved_by",
        "resolved_at",
    ]
    fields = (*readonly_fields, "resolution_note")
    actions = ["acknowledge", "resolve"]

    @admin.display(description=_("수치"))
    def figures_display(self, obj: RollbackIncident) -> str:
        return pretty_json(obj.figures)

    @admin.display(description=_("걸린 건 (최근 것부터)"))
    def rows_display(self, obj: RollbackIncident) -> str:
        """The inquiries and send attempts that tripped the rule, each linked to its page."""
        from policy.monitor import incident_rows

        rows = incident_rows(obj.figures)
        if not rows:
            return "-"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((self._row(row),) for row in rows)))

    @staticmethod
    def _row(row: dict) -> str:
        parts = []
        if row.get("inquiry"):
            url = reverse("admin:inquiries_inquiry_change", args=[row["inquiry"]])
            parts.append(format_html('<a href="{}">{} #{}</a>', url, _("문의"), row["inquiry"]))
        if row.get("attempt"):
            url = reverse("admin:inquiries_sendattempt_change", args=[row["attempt"]])
            parts.append(format_html('<a href="{}">{} #{}</a>', url, _("전송 시도"), row["attempt"]))
        detail = " ".join(
            str(row[k])
            for k in ("account", "outcome", "http_status", "send_status", "started_at", "claimed_at", "error")
            if row.get(k)
        )
        terms = ", ".join(row.get("terms") or [])
        return format_html_join(" · ", "{}", ((p,) for p in [*parts, *filter(None, [detail, terms])]))

    @admin.action(description=_("확인 처리"), permissions=["change"])
    def acknowledge(self, request, queryset):
        for incident in queryset:
            services.incident_acknowledge(incident=incident, user=request.user)
        self.message_user(request, _("확인 처리했습니다."), messages.SUCCESS)

    @admin.action(description=_("해결 처리"), permissions=["change"])
    def resolve(self, request, queryset):
        for incident in queryset:
            services.incident_resolve(incident=incident, user=request.user)
        self.message_user(
            request,
            _("해결 처리했습니다. 잠긴 계정은 롤아웃 관리자가 사유와 함께 다시 해금해야 합니다."),
            messages.SUCCESS,
        )


class NotificationChannelForm(ConfigChangeForm):
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
class NotificationChannelAdmin(ConfigAuditAdmin, RolloutManagerOnly, SimpleHistoryAdmin):
    form = NotificationChannelForm
    list_display = ["kind", "masked_target", "is_active"]
    audit_secret_fields = ("target",)
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
class ChecklistItemAdmin(NoAddNoDelete, SimpleHistoryAdmin):
    list_display = ["title", "is_automatic", "checked", "checked_by", "checked_at", "note"]
    readonly_fields = ["code", "title", "is_automatic", "checked", "checked_by", "checked_at"]
    fields = readonly_fields + ["note"]
    actions = ["tick", "untick"]

    @admin.action(description=_("완료로 표시"), permissions=["change"])
    def tick(self, request, queryset):
        done = self._set_checked(request, queryset, checked=True)
        if done:
            self.message_user(
                request,
                ngettext("%(n)d개 항목을 완료로 표시했습니다.", "%(n)d개 항목을 완료로 표시했습니다.", done)
                % {"n": done},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                _("완료로 표시한 항목이 없습니다: 선택한 항목이 이미 완료였거나 자동 확인 항목입니다."),
                messages.ERROR,
            )

    @admin.action(description=_("완료 취소"), permissions=["change"])
    def untick(self, request, queryset):
        done = self._set_checked(request, queryset, checked=False)
        if done:
            self.message_user(
                request,
                ngettext("%(n)d개 항목의 완료를 취소했습니다.", "%(n)d개 항목의 완료를 취소했습니다.", done)
                % {"n": done},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                _("완료를 취소한 항목이 없습니다: 선택한 항목이 완료 상태가 아니었거나 자동 확인 항목입니다."),
                messages.ERROR,
            )

    def _set_checked(self, request, queryset, *, checked: bool) -> int:
        """Tick or untick the manual items whose state differs; the number changed."""
        changed = 0
        for item in queryset:
            if item.checked == checked and not item.is_automatic:
                continue
            try:
                services.checklist_set(item=item, checked=checked, user=request.user)
            except services.RolloutError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                changed += 1
        return changed


@admin.register(RolloutEvent)
class RolloutEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "account", "actor_label", "reason"]
    list_filter = ["action", "account"]
    list_select_related = ["account"]
    date_hierarchy = "at"
    search_fields = ["reason", "actor_label"]
    readonly_fields = ["at", "action", "account", "actor_label", "reason", "data_display"]
    fields = tuple(readonly_fields)

    @admin.display(description=_("변경 내용"))
    def data_display(self, obj: RolloutEvent) -> str:
        return pretty_json(obj.data)


@admin.register(IntentWithdrawal)
class IntentWithdrawalAdmin(ReadOnlyAdmin):
    """Intents taken out of automation per account by the complaint follow-up rule. Restoring one is done
    from its incident's page (or ``rollout restore-intent``) by a rollout manager, with a reason."""

    list_display = [
        "withdrawn_at",
        "account",
        "intent",
        "withdrawn_by",
        "restored_at",
        "restored_by_label",
        "incident_link",
    ]
    list_filter = ["account", "intent", ("restored_at", admin.EmptyFieldListFilter)]
    list_select_related = ["account"]
    readonly_fields = [
        "account",
        "intent",
        "withdrawn_at",
        "withdrawn_by",
        "reason",
        "incident_link",
        "restored_at",
        "restored_by_label",
        "restore_reason",
    ]
    fields = tuple(readonly_fields)

    @admin.display(description=_("사고"))
    def incident_link(self, obj: IntentWithdrawal) -> str:
        if not obj.incident_id:
            return "-"
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:policy_rollbackincident_change", args=[obj.incident_id]),
            obj.incident_id,
        )


@admin.register(DailyQuotaUsage)
class DailyQuotaUsageAdmin(ReadOnlyAdmin):
    list_display = ["day", "account", "used"]
    list_filter = ["account"]
    date_hierarchy = "day"


from policy import admin_rollout as admin_rollout  # noqa: E402  (registers the rollout page)
