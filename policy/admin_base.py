"""What the policy app's admin pages share: rollout-manager-only editing, and configuration changes
that need a reason (and a confirmation when they raise the risk), recorded with who and why."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _

from policy import change_risks, services
from policy.models import (
    RolloutEvent,
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
    ``change_risks.config_risks``) is refused until it has a reason and the box that says what it will
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
        risks = change_risks.config_risks(
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
