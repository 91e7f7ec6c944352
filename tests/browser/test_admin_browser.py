"""The Korean admin in a real browser: a CS agent works the review queue, a rollout manager unlocks an
account and presses the emergency stop, and the dashboard shows a rollback incident.

Everything goes through the pages as a person would use them (the real login form, links, the action
dropdown, the confirmation pages); the database is checked after each step. Screenshots of every step
land in artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from inquiries.models import Inquiry
from policy.models import AccountRollout, AutomationSettings, Mode, RollbackIncident, RolloutEvent
from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER
from tests.factories import make_account, make_inquiry

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) with the reason
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-pw-7431"
DRAFT = "안녕하세요, 고객님. 주문하신 상품은 오늘 출고되어 1~2일 안에 도착할 예정입니다."
EDITED = "안녕하세요, 고객님. 주문하신 상품은 오늘 오후 출고되며 내일 도착 예정입니다. 감사합니다."
QUESTION = "어제 주문했는데 배송 언제 출발하나요?"


def make_staff(django_user_model, username: str, role: str):
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def login(page, username: str, shot=None, name: str | None = None) -> None:
    """Log in through the admin's own login form."""
    page.goto(reverse("admin:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    if shot and name:
        shot(name)
    page.click("#login-form [type=submit]")
    page.wait_for_selector("#user-tools")  # only shown to a logged-in user
    expect(page.locator("#user-tools")).to_contain_text(username)


def content_link(page, text: str):
    """A link in the page body (the sidebar repeats the model links)."""
    return page.locator("#content-main").get_by_role("link", name=text, exact=True)


def test_cs_agent_edits_and_approves_from_the_review_queue(
    page, shot, transactional_db, django_user_model, live_server
):
    agent = make_staff(django_user_model, "cs_agent", ROLE_CS_AGENT)
    account = make_account("coupang_main")
    inquiry = make_inquiry(
        account,
        status="HUMAN_REVIEW",
        draft_answer=DRAFT,
        content=QUESTION,
        intent="배송문의",
        confidence_score=0.72,
        decision_reason="신뢰도 0.72 < 임계값 0.90",
    )

    login(page, "cs_agent", shot, "01-login-cs-agent")
    shot("02-admin-index-cs-agent")

    content_link(page, "검토 대기열").click()
    page.wait_for_selector("#result_list")
    expect(page.locator("#result_list")).to_contain_text(QUESTION[:20])
    shot("03-review-queue")

    page.locator(f'#result_list a[href$="/{inquiry.pk}/change/"]').click()
    answer = page.locator("textarea[name=answer]")
    expect(answer).to_have_value(DRAFT)  # the AI draft is prefilled
    expect(page.locator("#content-main")).to_contain_text(QUESTION)
    answer.fill(EDITED)
    # An explicit approve button, no "저장".
    expect(page.locator("input[name=_save]")).to_have_count(0)
    approve = page.locator("button#review-approve")
    expect(approve).to_have_text("승인하고 전송")
    shot("04-review-edit")

    approve.click()
    expect(page.locator(".messagelist li.success", has_text="승인했습니다")).to_be_visible()
    shot("05-review-approved")

    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.APPROVED
    assert inquiry.human_edited is True
    assert inquiry.final_answer == EDITED
    assert inquiry.reviewed_by_id == agent.pk

    # A CS agent sees the rollout page but has no emergency stop: neither the button nor the page.
    page.goto(reverse("admin:policy_accountrollout_changelist"))
    page.wait_for_selector("#result_list")
    expect(page.locator("#emergency-stop")).to_have_count(0)
    response = page.goto(reverse("admin:policy_emergency_stop"))
    assert response is not None and response.status == 403
    shot("06-cs-agent-emergency-stop-403")
    assert AutomationSettings.get_solo().emergency_stopped_at is None


def test_rollout_manager_unlocks_an_account_then_presses_emergency_stop(
    page, shot, transactional_db, django_user_model, live_server
):
    make_staff(django_user_model, "rollout_manager", ROLE_ROLLOUT_MANAGER)
    account = make_account("coupang_main")
    rollout = AccountRollout.objects.get(account=account)
    assert rollout.mode == Mode.SHADOW

    login(page, "rollout_manager", shot, "07-login-rollout-manager")
    content_link(page, "계정별 해금 상태").click()
    page.wait_for_selector("#result_list")
    expect(page.locator("#result_list")).to_contain_text("coupang_main")
    expect(page.locator("#emergency-stop")).to_be_visible()
    shot("08-rollout-page")

    # Select coupang_main, choose the unlock action, run it.
    page.check(f'#result_list input[name=_selected_action][value="{rollout.pk}"]')
    page.select_option("select[name=action]", "unlock_accounts")
    page.click("#changelist-form button[name=index]")

    # The confirmation page: mode, phase and a reason.
    expect(page.locator("#content h1")).to_have_text("계정 해금 확인")
    expect(page.locator("#content")).to_contain_text("coupang_main")
    page.select_option("select[name=mode]", "LIVE")
    page.select_option("select[name=phase]", label="1단계")
    page.fill("input[name=reason]", "1단계 해금: 쿠팡 메인 배송문의·사용법, 일 10건")
    page.check("input[name=confirm_live]")
    shot("09-unlock-confirm")
    page.locator("#content").get_by_role("button", name="확인").click()
    expect(
        page.locator(".messagelist li.success", has_text="coupang_main: 실전송 모드로 해금했습니다.")
    ).to_be_visible()
    shot("10-unlocked")

    rollout.refresh_from_db()
    assert rollout.mode == Mode.LIVE
    assert rollout.phase is not None and rollout.phase.number == 1
    event = RolloutEvent.objects.get(action=RolloutEvent.Action.UNLOCK, account=account)
    assert event.reason == "1단계 해금: 쿠팡 메인 배송문의·사용법, 일 10건"
    assert event.actor_label == "rollout_manager"

    # 🚨 긴급 정지
    page.click("#emergency-stop")
    expect(page.locator("#content h1")).to_have_text("긴급 정지")
    page.fill("input[name=reason]", "오답 전송 의심 — 원인 파악 전까지 전체 정지")
    shot("11-emergency-stop-confirm")
    page.click("#confirm-stop")
    expect(page.locator(".messagelist li.error", has_text="긴급 정지")).to_be_visible()
    expect(page.locator("#content")).to_contain_text("긴급 정지 중")
    shot("12-emergency-stopped")

    conf = AutomationSettings.get_solo()
    assert conf.emergency_stopped_at is not None
    assert conf.emergency_reason == "오답 전송 의심 — 원인 파악 전까지 전체 정지"
    assert conf.test_mode is True
    # The page now offers to lift the stop instead.
    expect(page.locator("#emergency-stop")).to_have_count(0)
    expect(page.get_by_role("link", name="긴급 정지 해제")).to_be_visible()


def test_dashboard_shows_a_rollback_incident(page, shot, transactional_db, django_user_model, live_server):
    from policy.monitor import run_monitor

    make_staff(django_user_model, "rollout_manager", ROLE_ROLLOUT_MANAGER)
    account = make_account("coupang_main")
    AccountRollout.objects.filter(account=account).update(mode=Mode.LIVE, consecutive_failures=3)

    report = run_monitor()  # the seeded rule "동일 계정에서 연속 3건 실패" trips and locks the account
    assert [i.rule.code for i in report.opened] == ["consecutive-failures"]
    incident = RollbackIncident.objects.get()
    assert incident.account == account and incident.status == RollbackIncident.Status.OPEN
    assert AccountRollout.objects.get(account=account).locked_at is not None

    login(page, "rollout_manager")
    # The admin index links to the dashboard (운영 현황 → 운영 대시보드).
    page.locator("#ops-links").get_by_role("link", name="운영 대시보드", exact=True).click()
    page.wait_for_url(f"**{reverse('policy:dashboard')}")
    expect(page.locator("#pa-status")).to_contain_text("열린 롤백 사고: 1")
    panel = page.locator("#pa-incidents")
    expect(panel.locator("h2")).to_contain_text("열린 롤백 사고 (1)")
    row = panel.locator("tbody tr", has_text=incident.rule.name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("coupang_main")
    expect(row).to_contain_text(incident.get_status_display())
    expect(row).to_contain_text("계정 coupang_main 잠금")
    shot("13-dashboard-incident")

    # The incident's link opens its page (the rows that tripped it, acknowledge / resolve / lift).
    row.get_by_role("link", name=incident.rule.name).click()
    page.wait_for_url(f"**{reverse('policy:incident', args=[incident.pk])}")
    expect(page.locator("#content-main")).to_contain_text("coupang_main")
    shot("14-incident-detail")
