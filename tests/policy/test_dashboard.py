"""The admin dashboard (KPI tables and server-drawn SVG charts) and the readiness page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from policy.models import AccountRollout, ChecklistItem, RollbackIncident
from policy.monitor import run_monitor
from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER
from tests.factories import make_inquiry
from tests.policy.history import attempts, live_accounts, rollout_running_since, seoul_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    coupang, naver = live_accounts()
    rollout_running_since(days=30)
    for offset in range(-5, 0):
        attempts(coupang, ok=97, failed=3, at=seoul_day(offset))  # 3 %: between the two thresholds
    attempts(naver, ok=40, at=seoul_day(-1))
    make_inquiry(coupang, status="HUMAN_REVIEW", created_at=seoul_day(-2, 11))
    AccountRollout.objects.filter(account=coupang).update(consecutive_failures=3)
    run_monitor()  # coupang_main is locked by the consecutive-failures rule
    return coupang, naver


def user_with_role(django_user_model, name: str, role: str | None, *, staff: bool = True):
    user = django_user_model.objects.create_user(name, password="pw-123456", is_staff=staff)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def test_dashboard_is_staff_only(client, django_user_model):
    url = reverse("policy:dashboard")
    response = client.get(url)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    client.force_login(user_with_role(django_user_model, "customer", None, staff=False))
    assert client.get(url).status_code == 302


def test_dashboard_shows_charts_tables_and_open_incidents(admin_client, history):
    response = admin_client.get(reverse("policy:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    # three server-drawn charts, no script and nothing loaded from elsewhere
    for chart in ("chart-automation", "chart-failure", "chart-quota"):
        assert f'id="{chart}"' in html
    assert html.count("<svg") >= 3 and '<script src="http' not in html and "cdn" not in html.lower()
    # the failure chart draws the rules' thresholds as dashed lines, and each day as a bar
    assert "&gt;= 2% 계정별 잠금" in html and "&gt;= 5% 전역 테스트 모드" in html
    assert html.count('stroke-dasharray="6 4"') == 2
    failure_svg = html[html.index('id="chart-failure"') : html.index('id="chart-quota"')]
    assert failure_svg.count("<rect") == 14
    assert "실패 3 / 실제 전송 100건 (3.0%)" in failure_svg
    assert 'fill="#e0a526"' in failure_svg  # 3 %: above the account threshold, below the global one
    # sends against quota per account
    quota_svg = html[html.index('id="chart-quota"') :]
    assert "coupang_main" in quota_svg and "0 / 10" in quota_svg and "0 / ∞" in quota_svg
    # the open incident, linked to its admin page
    incident = RollbackIncident.objects.get()
    assert reverse("admin:policy_rollbackincident_change", args=[incident.pk]) in html
    assert "동일 계정에서 연속 3건 실패" in html and "계정 coupang_main 잠금" in html
    # the KPI tables
    for table in ("pa-accounts", "pa-realtime", "pa-failure-rates", "pa-shadow"):
        assert f'id="{table}"' in html


def test_dashboard_bars_are_drawn_to_scale(admin_client, history):
    html = admin_client.get(reverse("policy:dashboard")).content.decode()
    svg = html[html.index('id="chart-automation"') : html.index('id="chart-failure"')]
    heights = [float(h) for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', svg)]
    assert len(heights) == 14 and max(heights) <= 172.0  # never taller than the plot (220 - 14 - 34)
    # two days with inquiries that all ended AUTO_SEND → full-height bars; the day with a review is lower
    assert heights.count(172.0) >= 4


def test_dashboard_window_selector(admin_client, history):
    response = admin_client.get(reverse("policy:dashboard"), {"window": "7d"})
    assert response.context["window"] == "7d"
    response = admin_client.get(reverse("policy:dashboard"), {"window": "<script>"})
    assert response.context["window"] == "24h"


def test_dashboard_works_without_any_data(admin_client):
    response = admin_client.get(reverse("policy:dashboard"))
    assert response.status_code == 200 and "열린 롤백 사고가 없습니다." in response.content.decode()


def test_dashboard_queries_are_bounded(admin_client, history, django_assert_max_num_queries):
    attempts(history[1], ok=500)
    with django_assert_max_num_queries(45):
        admin_client.get(reverse("policy:dashboard"))


def test_dashboard_for_a_cs_agent(client, django_user_model, history):
    client.force_login(user_with_role(django_user_model, "agent", ROLE_CS_AGENT))
    assert client.get(reverse("policy:dashboard")).status_code == 200


def test_admin_index_links_to_the_dashboard_and_readiness(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("policy:dashboard") in html and reverse("policy:readiness") in html


def test_readiness_page_shows_the_same_report(admin_client, history):
    response = admin_client.get(reverse("policy:readiness"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "준비 안 됨" in html
    for title in (
        "Phase 1: 사전 체크",
        "Phase 4: 모니터링 &amp; 롤백",
        "Phase 5: 안정화 후 프로덕션 전환",
        "일평균 AUTO_SEND 후보 (7일)",
        "운영팀 교육 완료",
        "모니터링 대시보드 설정 완료",
    ):
        assert title in html
    assert 'data-code="open-incidents"' in html and "coupang_main 잠김: " in html


def test_readiness_page_ticks_a_manual_item_with_who_and_when(client, django_user_model):
    manager = user_with_role(django_user_model, "manager", ROLE_ROLLOUT_MANAGER)
    client.force_login(manager)
    url = reverse("policy:readiness")
    response = client.post(url, {"item": "ops-training", "checked": "1", "note": "전원 수료"})
    assert response.status_code == 302
    item = ChecklistItem.objects.get(code="ops-training")
    assert item.checked and item.checked_by == manager and item.checked_at and item.note == "전원 수료"
    html = client.get(url).content.decode()
    assert "manager 확인" in html and "전원 수료" in html
    client.post(url, {"item": "ops-training", "checked": "0"})
    assert not ChecklistItem.objects.get(code="ops-training").checked


def test_readiness_page_automatic_items_cannot_be_ticked(client, django_user_model):
    client.force_login(user_with_role(django_user_model, "manager", ROLE_ROLLOUT_MANAGER))
    response = client.post(reverse("policy:readiness"), {"item": "seven-days-under-5pct", "checked": "1"})
    assert response.status_code == 404
    assert not ChecklistItem.objects.get(code="seven-days-under-5pct").checked


def test_readiness_page_cs_agent_can_look_but_not_tick(client, django_user_model):
    client.force_login(user_with_role(django_user_model, "agent", ROLE_CS_AGENT))
    url = reverse("policy:readiness")
    html = client.get(url).content.decode()
    assert "완료로 표시" not in html and "롤아웃 관리자가 표시합니다" in html
    assert client.post(url, {"item": "ops-training", "checked": "1"}).status_code == 403
    assert not ChecklistItem.objects.get(code="ops-training").checked
