"""The rollout board: stepper, next step with a preview replayed by the simulator, the change confirmed with
a reason through the services; the incident page (rows, acknowledge, resolve, lift); the emergency stop and
the last 10 minutes' failures one click from the dashboard and the index; managers only where it changes."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from inquiries.models import Inquiry
from policy import services
from policy.models import AccountRollout, AutomationSettings, Mode, RollbackIncident, RolloutEvent
from policy.monitor import run_monitor
from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER
from tests.factories import make_account, make_inquiry, make_staff
from tests.policy.history import attempts, rollout_running_since
from tests.policy.test_simulate import MIX, seller_facts

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, django_user_model):
    client.force_login(make_staff(django_user_model, "manager", ROLE_ROLLOUT_MANAGER))
    return client


@pytest.fixture
def agent_client(client, django_user_model):
    client.force_login(make_staff(django_user_model, "agent", ROLE_CS_AGENT))
    return client


@pytest.fixture
def week(django_user_model):
    """coupang_main in shadow mode with a week of inquiries (the simulator's mixed set), one of them a
    routine question a person closed without answering."""
    account = make_account("coupang_main")
    seller_facts(account)
    services.settings_update(actor=services.SYSTEM, partial_auto=True, hours="always")
    now = timezone.now()
    for n, item in enumerate(MIX):
        make_inquiry(
            account,
            created_at=now - dt.timedelta(days=n % 6, hours=1),
            content=item["content"],
            title=item.get("title", ""),
            product_id=item.get("product_id", ""),
            product_name=item.get("product_name", ""),
        )
    reviewer = django_user_model.objects.create_user("reviewer")
    closed = make_inquiry(
        account,
        created_at=now - dt.timedelta(days=2),
        content="오늘 주문하면 언제 받을 수 있을까요?",
        status="CLOSED",
        reviewed_by=reviewer,
    )
    make_inquiry(account, created_at=now - dt.timedelta(days=9), content="지난주 문의: 범위 밖")
    return account, closed


def simulator(*args) -> list[dict]:
    out = io.StringIO()
    call_command("simulate_policy", "--since", "7d", *args, stdout=out, stderr=io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def preview_url(account, **query) -> str:
    return reverse("policy:board_change", args=[account.pk]) + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_board__stepper_mode_why_and_the_next_step_for_each_account(manager_client, week):
    account, _closed = week
    page = manager_client.get(reverse("policy:board"))
    html = page.content.decode()
    assert page.status_code == 200
    row = next(r for r in page.context["rows"] if r["account"] == account)
    assert [s["state"] for s in row["steps"]][:3] == ["current", "todo", "todo"]
    assert [s["code"] for s in row["steps"]] == ["SHADOW", "TEST", "P1", "P2", "P3"]
    assert "계정 모드가 섀도입니다" in html and "account mode is SHADOW" not in html
    assert row["shadow"]["total"] == len(MIX) + 1  # the week only, not the inquiry of 9 days ago
    assert "하루 평균" in html and "데이터 부족" in html  # the guide's 1.2 verdict, in words
    assert row["next"].mode == Mode.TEST
    assert preview_url(account, mode="TEST", phase=1).replace("&", "&amp;") in html


def test_preview__numbers_are_the_simulators_for_the_proposed_phase(manager_client, week):
    account, closed = week
    response = manager_client.get(preview_url(account, mode="LIVE", phase=1))
    assert response.status_code == 200
    preview = response.context["preview"]
    rows = simulator("--account", "coupang_main", "--phase", "1")
    auto = [r for r in rows if r["decision"] == "AUTO_SEND"]
    assert preview.total == len(rows) == len(MIX) + 1
    assert preview.would_auto_send == len(auto) > 0
    by_intent = {line.intent: line.auto_send for line in preview.by_intent}
    for intent in {r["intent"] for r in rows}:
        assert by_intent[intent] == sum(1 for r in auto if r["intent"] == intent)
    html = response.content.decode()
    assert f'<td id="preview-auto-send">{len(auto)}</td>' in html
    # the routine question a person closed without answering would have gone: it is listed
    assert [f["id"] for f in preview.flagged] == [closed.pk]
    assert "담당자가 답변 없이 종료함" in html
    assert not Inquiry.objects.filter(status="AUTO_SEND").exists()  # nothing decided, nothing written


def test_preview__a_wider_phase_sends_more(manager_client, week):
    account, _closed = week
    one = manager_client.get(preview_url(account, mode="LIVE", phase=1)).context["preview"]
    three = manager_client.get(preview_url(account, mode="LIVE", phase=3)).context["preview"]
    assert three.would_auto_send > one.would_auto_send
    assert three.would_auto_send == sum(
        1 for r in simulator("--account", "coupang_main", "--phase", "3") if r["decision"] == "AUTO_SEND"
    )


def test_unlock_through_the_board__records_the_event_with_the_reason(manager_client, week):
    account, _closed = week
    url = reverse("policy:board_change", args=[account.pk])
    response = manager_client.post(
        url, {"mode": "TEST", "phase": "1", "reason": "섀도 7일 통계 확인, 테스트 모드로"}, follow=True
    )
    assert response.status_code == 200
    rollout = AccountRollout.objects.select_related("phase").get(account=account)
    assert rollout.mode == Mode.TEST and rollout.phase.number == 1
    event = RolloutEvent.objects.get(action=RolloutEvent.Action.UNLOCK, account=account)
    assert event.reason == "섀도 7일 통계 확인, 테스트 모드로" and event.actor_label == "manager"
    assert event.data["after"] == {"mode": "TEST", "phase": 1}
    assert "coupang_main" in response.content.decode() and "사유가 변경 기록에 남았습니다" in response.content.decode()


def test_unlock_through_the_board__without_a_reason_changes_nothing(manager_client, week):
    account, _closed = week
    url = reverse("policy:board_change", args=[account.pk])
    response = manager_client.post(url, {"mode": "LIVE", "phase": "1", "reason": "   "})
    assert response.status_code == 200 and "사유를 입력하세요" in response.content.decode()
    assert AccountRollout.objects.get(account=account).mode == Mode.SHADOW
    assert not RolloutEvent.objects.filter(action=RolloutEvent.Action.UNLOCK).exists()


def test_non_managers__see_no_button_and_get_403(agent_client, week):
    account, _closed = week
    board = agent_client.get(reverse("policy:board")).content.decode()
    assert "롤아웃 관리자만 바꿀 수 있습니다" in board
    assert reverse("policy:board_change", args=[account.pk]) not in board
    assert agent_client.get(preview_url(account, mode="TEST", phase=1)).status_code == 403
    response = agent_client.post(
        reverse("policy:board_change", args=[account.pk]), {"mode": "LIVE", "phase": "3", "reason": "x"}
    )
    assert response.status_code == 403
    assert AccountRollout.objects.get(account=account).mode == Mode.SHADOW


def test_board_and_its_pages_are_linked_from_the_index_and_the_dashboard(manager_client):
    index = manager_client.get(reverse("admin:index")).content.decode()
    dashboard = manager_client.get(reverse("policy:dashboard")).content.decode()
    for html in (index, dashboard):
        assert reverse("policy:board") in html
        assert reverse("policy:recent_failures") in html
        assert reverse("admin:policy_emergency_stop") in html


def test_agent__dashboard_and_index_link_the_board_but_offer_no_emergency_stop(agent_client):
    for page in (reverse("policy:dashboard"), reverse("admin:index")):
        html = agent_client.get(page).content.decode()
        assert reverse("policy:board") in html and reverse("admin:policy_emergency_stop") not in html


def test_emergency_stop_from_the_dashboard__confirmation_and_reason(manager_client):
    dashboard_url = reverse("policy:dashboard")
    dashboard = manager_client.get(dashboard_url).content.decode()
    url = reverse("admin:policy_emergency_stop")
    assert f'href="{url}?next={dashboard_url}" id="dashboard-emergency-stop"' in dashboard
    confirm = manager_client.get(f"{url}?next={dashboard_url}")
    assert confirm.status_code == 200 and "사유" in confirm.content.decode()
    assert f'name="next" value="{dashboard_url}"' in confirm.content.decode()
    manager_client.post(url, {"reason": ""})
    assert AutomationSettings.get_solo().emergency_stopped_at is None
    # Back to the dashboard it came from; a foreign address is not followed.
    assert manager_client.post(url, {"reason": "x", "next": "https://evil.example/"}).url != "https://evil.example/"
    from policy import services as policy_services

    policy_services.resume(reason="x", actor=policy_services.SYSTEM)
    response = manager_client.post(url, {"reason": "마켓 장애 공지", "next": dashboard_url})
    assert response.status_code == 302 and response.url == dashboard_url
    conf = AutomationSettings.get_solo()
    assert conf.emergency_stopped_at is not None and conf.test_mode
    assert (
        RolloutEvent.objects.filter(action=RolloutEvent.Action.EMERGENCY_STOP).latest("at").reason == "마켓 장애 공지"
    )
    assert "긴급 정지 해제" in manager_client.get(reverse("policy:dashboard")).content.decode()


# --- the incident page --------------------------------------------------------------------------------


@pytest.fixture
def tripped():
    """coupang_main live at phase 3; three failures in a row lock it through the monitor's rule."""
    account = make_account("coupang_main")
    services.settings_update(actor=services.SYSTEM, partial_auto=True, test_mode=False, hours="always")
    services.rollout_unlock(account=account, mode=Mode.LIVE, phase=services.get_phase(3), actor=services.SYSTEM)
    rollout_running_since(days=30)
    failed = attempts(account, failed=3)
    AccountRollout.objects.filter(account=account).update(consecutive_failures=3)
    run_monitor(deliver=False)
    incident = RollbackIncident.objects.get(rule__code="consecutive-failures")
    return account, incident, failed


def test_incident_page__lists_the_rows_that_tripped_the_rule(manager_client, tripped):
    _account, incident, failed = tripped
    html = manager_client.get(reverse("policy:incident", args=[incident.pk])).content.decode()
    for attempt in failed:
        assert reverse("admin:inquiries_sendattempt_change", args=[attempt.pk]) in html
        assert reverse("admin:inquiries_inquiry_change", args=[attempt.inquiry_id]) in html
    assert 'id="incident-acknowledge"' in html and 'id="incident-lift"' in html
    dashboard = manager_client.get(reverse("policy:dashboard")).content.decode()
    assert reverse("policy:incident", args=[incident.pk]) in dashboard


def test_incident__acknowledge_resolve_and_lift_in_place(manager_client, tripped):
    account, incident, _failed = tripped
    url = reverse("policy:incident", args=[incident.pk])
    assert AccountRollout.objects.get(account=account).locked_at is not None

    manager_client.post(url, {"action": "acknowledge"})
    incident.refresh_from_db()
    assert incident.status == RollbackIncident.Status.ACKNOWLEDGED and incident.acknowledged_by.username == "manager"

    response = manager_client.post(url, {"action": "lift", "reason": ""})
    assert "사유를 입력하세요" in response.content.decode()
    assert AccountRollout.objects.get(account=account).locked_at is not None

    manager_client.post(url, {"action": "lift", "reason": "쿠팡 인증키 교체 후 재해금"})
    rollout = AccountRollout.objects.get(account=account)
    assert rollout.locked_at is None and rollout.mode == Mode.LIVE and rollout.phase.number == 3
    event = RolloutEvent.objects.filter(action=RolloutEvent.Action.UNLOCK, account=account).latest("at")
    assert event.reason == "쿠팡 인증키 교체 후 재해금" and event.data["before"]["locked"] is True

    manager_client.post(url, {"action": "resolve", "reason": "인증키 만료가 원인, 교체 완료"})
    incident.refresh_from_db()
    assert incident.status == RollbackIncident.Status.RESOLVED
    assert incident.resolution_note == "인증키 만료가 원인, 교체 완료" and incident.resolved_by.username == "manager"


def test_incident__agents_may_read_but_not_act(agent_client, tripped):
    account, incident, _failed = tripped
    url = reverse("policy:incident", args=[incident.pk])
    html = agent_client.get(url).content.decode()
    assert 'id="incident-lift"' not in html and 'id="incident-resolve"' not in html
    for action in ("acknowledge", "resolve", "lift"):
        assert agent_client.post(url, {"action": action, "reason": "x"}).status_code == 403
    incident.refresh_from_db()
    assert incident.status == RollbackIncident.Status.OPEN
    assert AccountRollout.objects.get(account=account).locked_at is not None


def test_recent_failures__the_guides_4_2_3_check(manager_client, tripped):
    account, _incident, failed = tripped
    now = timezone.now()
    fresh = make_inquiry(
        account, created_at=now - dt.timedelta(minutes=3), send_status="SEND_FAILED", last_send_error="HTTP 500"
    )
    old = make_inquiry(account, created_at=now - dt.timedelta(minutes=30), send_status="SEND_FAILED")
    page = manager_client.get(reverse("policy:recent_failures"))
    assert page.status_code == 200
    listed = [i.pk for i in page.context["inquiries"]]
    assert listed[0] == fresh.pk and set(listed) == {fresh.pk, *(a.inquiry_id for a in failed)}
    assert old.pk not in listed
    assert {a.pk for a in page.context["attempts"]} == {a.pk for a in failed}
    assert "실패 있음" in page.content.decode()


def test_incident__lifting_global_test_mode__needs_the_confirmation_that_names_the_live_accounts(manager_client):
    from policy.models import AutomationSettings, RollbackRule

    account = make_account("coupang_main")
    services.settings_update(actor=services.SYSTEM, partial_auto=True, test_mode=False, hours="always")
    services.rollout_unlock(account=account, mode=Mode.LIVE, phase=services.get_phase(3), actor=services.SYSTEM)
    rule = RollbackRule.objects.get(
        action=RollbackRule.Action.GLOBAL_TEST_MODE, metric=RollbackRule.Metric.FAILED_COUNT
    )
    services.settings_update(actor=services.SYSTEM, reason="rollback", test_mode=True)
    incident = RollbackIncident.objects.create(
        rule=rule, scope_key="global", figures={"failed": 6, "window_minutes": rule.window_minutes}
    )
    url = reverse("policy:incident", args=[incident.pk])

    html = manager_client.get(url).content.decode()
    assert 'id="incident-lift-confirm"' in html and "LIVE 계정 1개가 실제 전송을 시작합니다: coupang_main" in html
    manager_client.post(url, {"action": "lift", "reason": "원인 해결"})  # no confirmation ticked
    assert AutomationSettings.get_solo().test_mode is True
    manager_client.post(url, {"action": "lift", "reason": "원인 해결", "confirm": "on"})
    assert AutomationSettings.get_solo().test_mode is False
    event = RolloutEvent.objects.filter(action=RolloutEvent.Action.SETTINGS).latest("at")
    assert event.reason == "원인 해결" and event.data["after"]["test_mode"] is False
