"""Roles: a rollout manager may unlock, lock and stop; a CS agent may review and approve, not unlock —
enforced on every unlock path (admin action, admin edit, emergency stop page, command)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from policy.models import AccountRollout, AutomationSettings, Mode, RolloutEvent
from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER
from tests.factories import make_account, make_inquiry, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(django_user_model):
    return make_staff(django_user_model, "agent", ROLE_CS_AGENT)


@pytest.fixture
def manager(django_user_model):
    return make_staff(django_user_model, "manager", ROLE_ROLLOUT_MANAGER)


@pytest.fixture
def rollout():
    return AccountRollout.objects.get(account=make_account("coupang_main"))


def unlock_via_action(client, rollout):
    return client.post(
        reverse("admin:policy_accountrollout_changelist"),
        {
            "action": "unlock_accounts",
            "_selected_action": [rollout.pk],
            "confirm": "1",
            "mode": "LIVE",
            "phase": "",
            "reason": "phase 1 go",
            "confirm_live": "on",
        },
        follow=True,
    )


def test_agent__cannot_unlock_by_admin_action(client, agent, rollout):
    client.force_login(agent)
    unlock_via_action(client, rollout)
    rollout.refresh_from_db()
    assert rollout.mode == Mode.SHADOW
    assert not RolloutEvent.objects.filter(action="UNLOCK").exists()


def test_agent__cannot_edit_rollout_or_settings(client, agent, rollout):
    client.force_login(agent)
    url = reverse("admin:policy_accountrollout_change", args=[rollout.pk])
    client.post(url, {"phase": 3, "quota_override": 999})
    rollout.refresh_from_db()
    assert rollout.phase is None and rollout.quota_override is None
    response = client.post(
        reverse("admin:policy_automationsettings_change", args=[1]),
        {"partial_auto_enabled": "on", "auto_send_threshold": "0.1"},
    )
    assert response.status_code == 403 or AutomationSettings.get_solo().auto_send_threshold == 0.90
    assert AutomationSettings.get_solo().auto_send_threshold == 0.90


def test_agent__cannot_press_emergency_stop(client, agent):
    client.force_login(agent)
    response = client.post(reverse("admin:policy_emergency_stop"), {"reason": "x"})
    assert response.status_code == 403
    assert AutomationSettings.get_solo().emergency_stopped_at is None


def test_agent__cannot_unlock_by_command(agent, rollout):
    with pytest.raises(CommandError, match="rollout-manager"):
        call_command(
            "rollout", "--by", "agent", "unlock", "coupang_main", "--mode", "LIVE", "--phase", "1", "--reason", "go"
        )


def test_agent__can_review_and_approve(client, agent, rollout):
    inquiry = make_inquiry(rollout.account, status="HUMAN_REVIEW", draft_answer="안녕하세요, 초안입니다.")
    client.force_login(agent)
    url = reverse("admin:inquiries_reviewitem_change", args=[inquiry.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"answer": "안녕하세요, 고쳐 쓴 답변입니다.", "decision": "approve", "note": ""})
    inquiry.refresh_from_db()
    assert inquiry.status == "APPROVED" and inquiry.human_edited is True and inquiry.reviewed_by == agent


def test_manager__unlocks_with_reason_and_history(client, manager, rollout):
    client.force_login(manager)
    unlock_via_action(client, rollout)
    rollout.refresh_from_db()
    assert rollout.mode == Mode.LIVE and rollout.phase.number == 1
    event = RolloutEvent.objects.get(action="UNLOCK")
    assert event.actor == manager and event.reason == "phase 1 go"
    assert rollout.history.first().history_user == manager


def test_manager__locks_and_emergency_stops(client, manager, rollout):
    client.force_login(manager)
    client.post(
        reverse("admin:policy_accountrollout_changelist"),
        {"action": "lock_accounts", "_selected_action": [rollout.pk], "confirm": "1", "reason": "wrong answers"},
    )
    rollout.refresh_from_db()
    assert rollout.locked_at and rollout.lock_reason == "wrong answers" and rollout.locked_by == "manager"
    response = client.post(reverse("admin:policy_emergency_stop"), {"reason": "incident"})
    assert response.status_code == 302
    conf = AutomationSettings.get_solo()
    assert conf.emergency_stopped_at and conf.test_mode


def test_manager__unlock_action_without_reason_is_refused(client, manager, rollout):
    client.force_login(manager)
    response = client.post(
        reverse("admin:policy_accountrollout_changelist"),
        {"action": "unlock_accounts", "_selected_action": [rollout.pk], "confirm": "1", "mode": "LIVE", "reason": ""},
    )
    rollout.refresh_from_db()
    assert rollout.mode == Mode.SHADOW
    assert "사유" in response.content.decode()


def test_manager__unlock_by_command(manager, rollout):
    call_command(
        "rollout", "--by", "manager", "unlock", "coupang_main", "--mode", "LIVE", "--phase", "1", "--reason", "go"
    )
    assert RolloutEvent.objects.get(action="UNLOCK").actor == manager


def test_rollout_page__shows_quota_and_failure_columns(client, manager, rollout):
    from tests.policy.history import attempts

    attempts(rollout.account, ok=7, failed=3, unknown=2, test_mode=4)  # unknown and test mode never count
    attempts(rollout.account, failed=5, at=timezone.now() - dt.timedelta(hours=30))  # older than 24 hours
    client.force_login(manager)
    body = client.get(reverse("admin:policy_accountrollout_changelist")).content.decode()
    assert "coupang_main" in body and "24시간 실패율" in body and "긴급 정지" in body
    assert "30.0% (3/10)" in body  # the same figures as kpi, /metrics and the rules (attempt_stats)


def test_locked_account__command_unlock_needs_a_named_manager(manager, rollout):
    from policy.services import SYSTEM, rollout_lock

    rollout_lock(account=rollout.account, reason="3 consecutive failures", actor=SYSTEM)
    with pytest.raises(CommandError, match="rollout-manager role"):
        call_command("rollout", "unlock", "coupang_main", "--mode", "LIVE", "--reason", "looks fine")
    call_command("rollout", "--by", "manager", "unlock", "coupang_main", "--mode", "LIVE", "--reason", "fixed")
    rollout.refresh_from_db()
    assert rollout.locked_at is None
