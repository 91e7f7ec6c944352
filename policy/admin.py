from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.validators import URLValidator, validate_email
from django.db import models
from django.db.models import Count, OuterRef, Subquery
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from inquiries.models import Inquiry, SendAttempt
from partialauto.admin_utils import NoAddNoDelete, ReadOnlyAdmin, pretty_json, verdict
from partialauto.cli import local_time
from policy import services
from policy.controls import load_account_controls, load_global
from policy.engine import mode_label
from policy.models import (
    AccountRollout,
    AutomationSettings,
    BusinessDayOverride,
    BusinessHoursRange,
    ChecklistItem,
    DailyQuotaUsage,
    IntentWithdrawal,
    Mode,
    Notification,
    NotificationChannel,
    RiskKeyword,
    RollbackIncident,
    RollbackRule,
    RolloutEvent,
    RolloutPhase,
)
from policy.quota import quota_day
from policy.selectors import (
    COUNTED_OUTCOMES,
    FAILURE_OUTCOMES,
    approved_answers_held,
    held_answers_note,
    seoul_day_start,
)


class RolloutManagerOnly:
    """Changing rollout configuration needs the rollout-manager permission, not just model change rights."""

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("policy.unlock_account") and super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args):
        return request.user.has_perm("policy.unlock_account") and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("policy.unlock_account") and super().has_delete_permission(request, obj)


AUDIT_FIELDS = ["change_reason", "confirm_risk"]


def _plain(value):
    """A form or model value as the rollout log stores it: related objects by name, times as text."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, models.QuerySet) or (isinstance(value, list) and value and isinstance(value[0], models.Model)):
        return sorted(str(v) for v in value)
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    return value


def _instance_value(obj: models.Model, name: str):
    field = obj._meta.get_field(name)
    if field.many_to_many:
        return list(getattr(obj, name).all()) if obj.pk is not None else []
    return getattr(obj, name)


class ConfigChangeForm(forms.ModelForm):
    """Every configuration edit can say why and is logged with it; a risky one (see
    ``services.config_risks``) is refused until it has a reason and the box that says what it will
    start doing is ticked."""

    change_reason = forms.CharField(
        label=_("변경 사유"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text=_(
            "변경 기록에 남습니다. 테스트 모드 끄기, 부분 자동화 켜기, 임계값 낮추기, 한도 올리기, 의도 추가처럼 "
            "실제 전송을 늘리는 변경에는 꼭 적어야 합니다."
        ),
    )
    confirm_risk = forms.BooleanField(
        label=_("실제 전송을 늘리는 변경임을 확인했습니다"),
        required=False,
        help_text=_("위험한 변경이면 저장할 때 무엇이 시작되는지 알려 드립니다. 읽고 선택한 뒤 다시 저장하세요."),
    )

    def clean(self):
        cleaned = super().clean()
        names = [n for n in self.fields if n not in AUDIT_FIELDS and n in cleaned and self._is_model_field(n)]
        # Against the stored row, not the form's instance: a revert from the history page edits an old version.
        stored = type(self.instance)._default_manager.filter(pk=self.instance.pk).first() if self.instance.pk else None
        before = {n: _plain(_instance_value(stored, n)) for n in names} if stored is not None else {}
        after = {n: _plain(cleaned[n]) for n in names}
        self.config_before = {n: v for n, v in before.items() if v != after[n]}
        self.config_after = {n: v for n, v in after.items() if stored is None or n in self.config_before}
        risks = services.config_risks(
            obj=stored if stored is not None else self.instance, before=self.config_before, after=self.config_after
        )
        if risks and not (cleaned.get("change_reason") or "").strip():
            self.add_error("change_reason", _("실제 전송을 늘리는 변경에는 사유가 필요합니다."))
        if risks and not cleaned.get("confirm_risk"):
            self.add_error(
                "confirm_risk", [*risks, _("내용을 확인했다면 이 칸을 선택하고 사유와 함께 다시 저장하세요.")]
            )
        return cleaned

    def _is_model_field(self, name: str) -> bool:
        try:
            self.instance._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        return True


class ConfigAuditAdmin:
    """Every save, list edit and delete of configuration lands in the rollout log through
    ``services.config_change`` (the path the ``rollout`` command uses), with who, before/after and why."""

    form = ConfigChangeForm
    audit_action = RolloutEvent.Action.CONFIG
    audit_secret_fields: tuple[str, ...] = ()

    def get_fields(self, request, obj=None):
        fields = [f for f in super().get_fields(request, obj) if f not in AUDIT_FIELDS]
        editable = self.has_change_permission(request, obj) if obj is not None else self.has_add_permission(request)
        return [*fields, *AUDIT_FIELDS] if editable else fields

    def audit_account(self, obj):
        return None

    def _masked(self, before: dict, after: dict) -> tuple[dict, dict]:
        """Secrets never reach the log: a changed secret shows as changed, an unchanged one not at all."""
        before, after = dict(before), dict(after)
        for key in self.audit_secret_fields:
            changed = before.get(key) != after.get(key)
            for values, label in ((before, _("(이전 값)")), (after, _("(새 값)"))):
                if key in values:
                    values[key] = str(label) if changed else None
        return before, after

    def _record(self, request, obj, before: dict, after: dict, reason: str = "") -> None:
        before, after = self._masked(before, after)
        services.config_change(
            actor=services.Actor.of(request.user),
            obj=obj,
            before=before,
            after=after,
            reason=reason,
            account=self.audit_account(obj),
            action=self.audit_action,
        )

    def save_model(self, request, obj, form, change):
        reason = (form.cleaned_data.get("change_reason") or "").strip()
        if reason:
            obj._change_reason = reason[:100]
        if hasattr(form, "config_before"):
            before, after = form.config_before, form.config_after
        else:  # a list_editable row: only its changed columns
            before = {n: _plain(form.initial.get(n)) for n in form.changed_data}
            after = {n: _plain(form.cleaned_data.get(n)) for n in form.changed_data}
        obj._config_change = (before, after, reason)
        super().save_model(request, obj, form, change)

    # Recorded when the admin logs the change: after the many-to-many fields are saved, on the change
    # form, the list edit and the history page's revert alike.
    def log_addition(self, request, obj, message):
        self._record_saved(request, obj)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._record_saved(request, obj)
        return super().log_change(request, obj, message)

    def _record_saved(self, request, obj) -> None:
        if change := getattr(obj, "_config_change", None):
            before, after, reason = change
            self._record(request, obj, before, after, reason)
            del obj._config_change

    def delete_model(self, request, obj):
        self._record(request, obj, self._snapshot(obj), {})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._record(request, obj, self._snapshot(obj), {})
        super().delete_queryset(request, queryset)

    @staticmethod
    def _snapshot(obj) -> dict:
        return {
            f.name: _plain(_instance_value(obj, f.name))
            for f in obj._meta.get_fields()
            if (f.concrete or f.many_to_many) and not f.primary_key and not f.auto_created
        }


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
        since = now - dt.timedelta(hours=24)
        attempts = SendAttempt.objects.filter(
            account=OuterRef("account"), started_at__gte=since, is_test_mode=False, outcome__in=COUNTED_OUTCOMES
        ).values("account")
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
                attempts_24h=Subquery(attempts.annotate(n=Count("id")).values("n")[:1]),
                failed_24h=Subquery(
                    attempts.filter(outcome__in=FAILURE_OUTCOMES).annotate(n=Count("id")).values("n")[:1]
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

        by_name = {"effective_mode": effective_mode, "today_vs_quota": today_vs_quota}
        return [by_name.get(name, name) for name in super().get_list_display(request)]

    @admin.display(description=_("실제 모드"))
    def effective_mode(self, obj: AccountRollout) -> str:
        return _effective_mode(obj, load_global())

    @admin.display(description=_("오늘 전송 / 한도"))
    def today_vs_quota(self, obj: AccountRollout) -> str:
        return _today_vs_quota(obj, load_global())

    @admin.display(description=_("24시간 실패율"))
    def failure_rate_24h(self, obj: AccountRollout) -> str:
        total = getattr(obj, "attempts_24h", None) or 0
        failed = getattr(obj, "failed_24h", None) or 0
        return f"{failed / total * 100:.1f}% ({failed}/{total})" if total else "-"

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
