"""Configuration changes in the admin: each lands in the rollout log with who, before/after and why;
changes that start real sends need a reason and a ticked confirmation that says what will happen;
constraint errors are Korean sentences; agents are not offered the manager's actions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db.models import CheckConstraint
from django.urls import reverse

from inquiries.models import Intent
from policy.models import (
    AccountRollout,
    AutomationSettings,
    BusinessHoursRange,
    ChecklistItem,
    Mode,
    RiskKeyword,
    RollbackRule,
    RolloutEvent,
    RolloutPhase,
)
from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER
from tests.factories import make_account, make_inquiry, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(django_user_model, client):
    user = make_staff(django_user_model, "manager", ROLE_ROLLOUT_MANAGER)
    client.force_login(user)
    return user


@pytest.fixture
def agent(django_user_model):
    return make_staff(django_user_model, "agent", ROLE_CS_AGENT)


def form_data(client, url: str, **changes) -> dict:
    """The change form's current values as the browser would post them, with ``changes`` applied."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool) or value is None:
            value = "on" if value else ""
        elif isinstance(value, (list, tuple)):
            value = [getattr(v, "pk", v) for v in value]
        elif isinstance(value, dt.time):
            value = value.strftime("%H:%M")
        data[name] = value
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def settings_url() -> str:
    AutomationSettings.get_solo()
    return reverse("admin:policy_automationsettings_change", args=[1])


def live_account(name="coupang_main") -> AccountRollout:
    rollout = AccountRollout.objects.get(account=make_account(name))
    rollout.mode = Mode.LIVE
    rollout.phase = RolloutPhase.objects.get(number=1)
    rollout.save()
    return rollout


def errors(response) -> str:
    return str(response.context["adminform"].form.errors)


def test_settings_edit__records_actor_before_after_and_reason(client, manager):
    url = settings_url()
    response = client.post(url, form_data(client, url, auto_send_threshold="0.95", change_reason="오답 2건 확인"))
    assert response.status_code == 302
    event = RolloutEvent.objects.get(action=RolloutEvent.Action.SETTINGS)
    assert event.actor == manager and event.actor_label == "manager"
    assert event.reason == "오답 2건 확인"
    assert event.data["before"] == {"auto_send_threshold": 0.9}
    assert event.data["after"] == {"auto_send_threshold": 0.95}
    assert AutomationSettings.get_solo().history.first().history_change_reason == "오답 2건 확인"


def test_settings_edit__unchanged_save_records_nothing(client, manager):
    url = settings_url()
    assert client.post(url, form_data(client, url)).status_code == 302
    assert not RolloutEvent.objects.exists()


def test_test_mode_off__refused_without_reason_and_confirmation_and_says_who_goes_live(client, manager):
    live_account("coupang_main")
    make_inquiry(
        live_account("coupang_sub").account,
        status="APPROVED",
        send_status="NOT_SENT",
        final_answer="안녕하세요, 내일 출고됩니다.",
    )
    AutomationSettings.objects.filter(pk=1).update(partial_auto_enabled=True, test_mode=True)
    url = settings_url()
    data = form_data(client, url)
    data.pop("test_mode")

    response = client.post(url, data)
    assert response.status_code == 200
    text = errors(response)
    assert "LIVE 계정 2개가 실제 전송을 시작합니다: coupang_main, coupang_sub" in text
    assert "승인 답변 1건도 실제 마켓으로 전송됩니다" in text
    assert "사유가 필요합니다" in text
    assert AutomationSettings.get_solo().test_mode is True
    assert not RolloutEvent.objects.exists()

    response = client.post(url, {**data, "change_reason": "1단계 실전송 시작"})  # a reason alone is not enough
    assert response.status_code == 200 and AutomationSettings.get_solo().test_mode is True

    response = client.post(url, {**data, "change_reason": "1단계 실전송 시작", "confirm_risk": "on"})
    assert response.status_code == 302
    assert AutomationSettings.get_solo().test_mode is False
    event = RolloutEvent.objects.get(action=RolloutEvent.Action.SETTINGS)
    assert (event.actor, event.reason) == (manager, "1단계 실전송 시작")
    # the monitor's baseline reads exactly this shape
    assert RolloutEvent.objects.filter(data__before__test_mode=True, data__after__test_mode=False).count() == 1


def test_history_revert_to_test_mode_off__is_a_risky_change_too(client, manager):
    from policy.services import SYSTEM, settings_update

    settings_update(actor=SYSTEM, test_mode=False, reason="first")
    old_version = AutomationSettings.get_solo().history.first()
    settings_update(actor=SYSTEM, test_mode=True, reason="back on")
    RolloutEvent.objects.all().delete()
    url = reverse("admin:policy_automationsettings_simple_history", args=[1, old_version.history_id])
    data = form_data(client, url)
    assert "test_mode" not in data  # the old version had it off

    assert client.post(url, data).status_code == 200
    assert AutomationSettings.get_solo().test_mode is True
    assert client.post(url, {**data, "change_reason": "되돌림", "confirm_risk": "on"}).status_code == 302
    event = RolloutEvent.objects.get()
    assert AutomationSettings.get_solo().test_mode is False
    assert event.data["before"] == {"test_mode": True} and event.data["after"] == {"test_mode": False}
    assert (event.actor, event.reason) == (manager, "되돌림")


@pytest.mark.parametrize(
    "changes",
    [
        {"partial_auto_enabled": "on"},
        {"auto_send_threshold": "0.70"},
    ],
)
def test_partial_auto_on_or_threshold_lowered__needs_reason(client, manager, changes):
    url = settings_url()
    response = client.post(url, form_data(client, url, **changes))
    assert response.status_code == 200
    assert "실제 전송을 늘리는 변경에는 사유가 필요합니다" in errors(response)
    conf = AutomationSettings.get_solo()
    assert conf.partial_auto_enabled is False and conf.auto_send_threshold == 0.90
    assert (
        client.post(url, form_data(client, url, **changes, change_reason="승인됨", confirm_risk="on")).status_code
        == 302
    )
    assert RolloutEvent.objects.get().reason == "승인됨"


def test_phase_quota_raised_and_intents_added__confirmed_then_logged(client, manager):
    phase = RolloutPhase.objects.get(number=1)
    live_account()
    old_intents = sorted(phase.allowed_intents.values_list("name", flat=True))
    added = Intent.objects.exclude(pk__in=phase.allowed_intents.all()).get(name="교환반품")
    url = reverse("admin:policy_rolloutphase_change", args=[phase.pk])
    data = form_data(client, url, daily_quota=str((phase.daily_quota or 0) + 40))
    data["allowed_intents"] = [*data["allowed_intents"], added.pk]

    response = client.post(url, data)
    assert response.status_code == 200
    text = errors(response)
    assert "일일 전송 한도를" in text and "교환반품" in text and "계정 1개" in text
    phase.refresh_from_db()
    assert added not in phase.allowed_intents.all()

    response = client.post(url, {**data, "change_reason": "2주 무사고", "confirm_risk": "on"})
    assert response.status_code == 302
    event = RolloutEvent.objects.get(action=RolloutEvent.Action.CONFIG)
    assert event.actor == manager and event.reason == "2주 무사고"
    assert event.data["before"]["allowed_intents"] == old_intents
    assert event.data["after"]["allowed_intents"] == sorted([*old_intents, "교환반품"])
    assert event.data["before"]["daily_quota"] == phase.daily_quota
    phase.refresh_from_db()
    assert event.data["after"]["daily_quota"] == phase.daily_quota == event.data["before"]["daily_quota"] + 40
    assert event.data["object"] == f"rolloutphase:{phase.pk}"


def test_phase_quota_lowered__no_confirmation_needed(client, manager):
    phase = RolloutPhase.objects.exclude(daily_quota=None).first()
    url = reverse("admin:policy_rolloutphase_change", args=[phase.pk])
    assert client.post(url, form_data(client, url, daily_quota=str(phase.daily_quota - 1))).status_code == 302
    event = RolloutEvent.objects.get()
    assert event.data["after"] == {"daily_quota": phase.daily_quota - 1} and event.reason == ""


def test_account_overrides__logged_on_the_account_and_raise_needs_reason(client, manager):
    rollout = live_account()
    url = reverse("admin:policy_accountrollout_change", args=[rollout.pk])
    response = client.post(url, form_data(client, url, quota_override="500"))
    assert response.status_code == 200 and "일일 전송 한도를" in errors(response)
    response = client.post(
        url, form_data(client, url, quota_override="500", change_reason="행사 기간", confirm_risk="on")
    )
    assert response.status_code == 302
    event = RolloutEvent.objects.get()
    assert event.account == rollout.account and event.reason == "행사 기간"
    assert event.data["before"] == {"quota_override": None} and event.data["after"] == {"quota_override": 500}


def test_business_hours_added_and_keyword_deleted__logged(client, manager):
    response = client.post(
        reverse("admin:policy_businesshoursrange_add"),
        {"weekday": "5", "start": "10:00", "end": "14:00", "change_reason": "토요일 오전 영업"},
    )
    assert response.status_code == 302
    added = RolloutEvent.objects.get()
    assert added.reason == "토요일 오전 영업" and added.actor == manager
    assert added.data["before"] == {"weekday": None, "start": None, "end": None}
    assert added.data["after"] == {"weekday": 5, "start": "10:00:00", "end": "14:00:00"}

    keyword = RiskKeyword.objects.first()
    client.post(reverse("admin:policy_riskkeyword_delete", args=[keyword.pk]), {"post": "yes"})
    deleted = RolloutEvent.objects.exclude(pk=added.pk).get()
    assert deleted.data["before"]["term"] == keyword.term and deleted.data["after"]["term"] is None


def test_rule_list_edit__logged(client, manager):
    rule = RollbackRule.objects.order_by("pk").first()
    rules = list(RollbackRule.objects.order_by("pk"))
    data = {"form-TOTAL_FORMS": str(len(rules)), "form-INITIAL_FORMS": str(len(rules)), "_save": "저장"}
    for i, r in enumerate(rules):
        data[f"form-{i}-id"] = str(r.pk)
        if r.enabled:
            data[f"form-{i}-enabled"] = "on"
        if r.dry_run or r.pk == rule.pk:
            data[f"form-{i}-dry_run"] = "on"
    response = client.post(reverse("admin:policy_rollbackrule_changelist"), data)
    assert response.status_code == 302
    event = RolloutEvent.objects.get()
    assert event.data["before"] == {"dry_run": False} and event.data["after"] == {"dry_run": True}
    assert event.data["label"] == rule.name and event.actor == manager


def test_notification_target_change__logged_without_the_secret(client, manager):
    from policy.models import NotificationChannel

    channel = NotificationChannel.objects.create(kind="WEBHOOK", target="https://hooks.example.test/T0/OLDSECRET")
    url = reverse("admin:policy_notificationchannel_change", args=[channel.pk])
    response = client.post(
        url, {"kind": "WEBHOOK", "target": "https://hooks.example.test/T0/NEWSECRET", "is_active": "on"}
    )
    assert response.status_code == 302
    event = RolloutEvent.objects.get()
    assert "SECRET" not in str(event.data) and event.data["after"]["target"] == "(새 값)"


def test_unlock_to_live__needs_the_confirmation_box(client, manager):
    rollout = AccountRollout.objects.get(account=make_account("coupang_main"))
    post = {
        "action": "unlock_accounts",
        "_selected_action": [rollout.pk],
        "confirm": "1",
        "mode": "LIVE",
        "phase": "",
        "reason": "1단계",
    }
    response = client.post(reverse("admin:policy_accountrollout_changelist"), post)
    assert "실제 마켓에 답변을 전송합니다" in response.content.decode()
    rollout.refresh_from_db()
    assert rollout.mode == Mode.SHADOW
    client.post(reverse("admin:policy_accountrollout_changelist"), {**post, "confirm_live": "on"})
    rollout.refresh_from_db()
    assert rollout.mode == Mode.LIVE


# -- constraint errors in Korean ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url_name, args, changes, expected",
    [
        ("admin:policy_automationsettings_change", [1], {"auto_send_threshold": "1.5"}, "0 이상 1 이하"),
        ("admin:policy_automationsettings_change", [1], {"max_send_attempts": "0"}, "최대 전송 시도는 1 이상"),
        (
            "admin:policy_businesshoursrange_add",
            [],
            {"weekday": "0", "start": "18:00", "end": "09:00"},
            "시작 시각은 종료 시각보다 빨라야",
        ),
        (
            "admin:policy_businessdayoverride_add",
            [],
            {"date": "2026-12-24", "is_open": "on"},
            "시작과 종료 시각을 모두 입력",
        ),
        ("admin:policy_accountrollout_change", None, {"threshold_override": "1.5"}, "임계값 재지정은 비워 두거나"),
        ("admin:policy_rollbackrule_change", "count", {"threshold": "-1"}, "임계값은 0 이상"),
        ("admin:policy_rollbackrule_change", "rate", {"threshold": "2"}, "0 이상 1 이하의 비율"),
    ],
)
def test_constraint_errors__say_what_is_wrong_in_korean(client, manager, url_name, args, changes, expected):
    AutomationSettings.get_solo()
    if args is None:
        args = [AccountRollout.objects.get(account=make_account("coupang_main")).pk]
    elif args == "count":
        args = [RollbackRule.objects.filter(metric="FAILED_COUNT").first().pk]
    elif args == "rate":
        args = [RollbackRule.objects.filter(metric__in=RollbackRule.RATE_METRICS).first().pk]
    url = reverse(url_name, args=args)
    data = form_data(client, url, **changes) if "change" in url_name else changes
    response = client.post(url, data)
    assert response.status_code == 200
    body = response.content.decode()
    assert expected in body
    assert "위반하였습니다" not in body


def test_every_check_constraint__has_its_own_message():
    from django.apps import apps

    internal = {"settings_singleton", "risk_scan_state_singleton", "quota_used_nonneg"}  # never reachable from a form
    for model in apps.get_app_config("policy").get_models():
        for constraint in model._meta.constraints:
            if isinstance(constraint, CheckConstraint) and constraint.name not in internal:
                message = constraint.get_violation_error_message()
                assert constraint.name not in message and "위반" not in message, constraint.name


def test_weekday_out_of_range__korean_message():
    hours = BusinessHoursRange(weekday=9, start=dt.time(9), end=dt.time(18))
    with pytest.raises(ValidationError) as exc:
        hours.validate_constraints()
    assert "월요일(0)부터 일요일(6)" in str(exc.value)


# -- permissions and messages ---------------------------------------------------------------------


def test_agent__is_not_offered_unlock_or_lock(client, agent, django_user_model):
    make_account("coupang_main")
    url = reverse("admin:policy_accountrollout_changelist")
    client.force_login(agent)
    body = client.get(url).content.decode()
    assert "coupang_main" in body
    assert "unlock_accounts" not in body and "lock_accounts" not in body and "emergency-stop" not in body
    client.force_login(make_staff(django_user_model, "manager2", ROLE_ROLLOUT_MANAGER))
    body = client.get(url).content.decode()
    assert "unlock_accounts" in body and "lock_accounts" in body


def test_agent__sees_no_reason_fields_on_read_only_pages(client, agent):
    client.force_login(agent)
    body = client.get(settings_url()).content.decode()
    assert 'name="change_reason"' not in body and 'name="confirm_risk"' not in body


def test_checklist_tick__says_what_changed_or_that_nothing_did(client, manager):
    item = ChecklistItem.objects.filter(is_automatic=False, checked=False).first()
    url = reverse("admin:policy_checklistitem_changelist")
    post = {"action": "tick", "_selected_action": [item.pk]}
    response = client.post(url, post, follow=True)
    assert "1개 항목을 완료로 표시했습니다." in response.content.decode()
    item.refresh_from_db()
    assert item.checked and item.checked_by == manager
    response = client.post(url, post, follow=True)
    assert "완료로 표시한 항목이 없습니다" in response.content.decode()
