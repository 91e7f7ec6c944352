"""Readiness: the guide's phase 1 checks, the monitoring of phase 4, the phase 5 checklist, exit codes."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from partialauto.schedules import setup_schedules
from policy import services
from policy.models import AutomationSettings, ChecklistItem, Mode, NotificationChannel, RollbackIncident, RollbackRule
from policy.readiness import FAIL, READY, WARN, failure_band, readiness_report
from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update
from tests.factories import make_account, make_shipping_policy
from tests.policy.history import attempts, seoul_day

pytestmark = pytest.mark.django_db


def checks(report=None) -> dict[str, dict]:
    return {c["code"]: c for c in (report or readiness_report())["checks"]}


@pytest.fixture
def coupang():
    account = make_account("coupang_main")
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False)
    rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    return account


def auto_send_candidates(account, per_day: int) -> None:
    from inquiries.models import Inquiry

    now = timezone.now()
    Inquiry.objects.bulk_create(
        Inquiry(
            account=account,
            market_code="COUPANG",
            kind="COUPANG_ONLINE",
            external_id=f"c{d}-{i}",
            created_at=now - dt.timedelta(days=d, hours=1),
            content="배송 언제 되나요?",
            status="AUTO_SEND",
            decision_mode="SHADOW",
        )
        for d in range(7)
        for i in range(per_day)
    )


@pytest.mark.parametrize("per_day, status", [(10, READY), (9, WARN), (5, WARN), (4, FAIL), (0, FAIL)])
def test_phase1_shadow_candidates_bands(coupang, per_day, status):
    auto_send_candidates(coupang, per_day)
    check = checks()["shadow-candidates"]
    assert check["status"] == status, check
    assert f"{per_day:.1f}건/일" in check["detail"]


@pytest.mark.parametrize(
    "rate, status, verdict",
    [
        (0, READY, "완벽"),
        (4.99, READY, "양호"),
        (5, WARN, "모니터링 필요"),
        (10, WARN, "모니터링 필요"),
        (10.01, FAIL, "원인 파악 후 해금"),
    ],
)
def test_phase1_failure_rate_bands(rate, status, verdict):
    assert failure_band(rate) == (status, verdict)


def test_phase1_failure_rate_counts_unconfirmed_sends_and_never_test_mode(coupang):
    attempts(coupang, ok=18, failed=1, unknown=1, test_mode=50)  # 2/20 = 10 %
    check = checks()["failure-band"]
    assert check["status"] == WARN and check["detail"].startswith("10.0% (2/20, 결과 불명 1)")


def test_phase4_monitor_schedule_present_and_recent():
    check = checks()["monitor-schedule"]
    assert check["status"] == FAIL and "setup_schedules" in check["detail"]
    setup_schedules()
    assert checks()["monitor-schedule"]["status"] == FAIL  # never ran
    AutomationSettings.objects.filter(pk=1).update(last_monitor_run_at=timezone.now() - dt.timedelta(minutes=6))
    assert "최근 5분 안에 실행 기록 없음" in checks()["monitor-schedule"]["detail"]
    AutomationSettings.objects.filter(pk=1).update(last_monitor_run_at=timezone.now() - dt.timedelta(seconds=50))
    assert checks()["monitor-schedule"]["status"] == READY
    from django_q.models import Schedule

    Schedule.objects.filter(name="partialauto.monitor").update(repeats=0)  # a stopped schedule is no schedule
    assert checks()["monitor-schedule"]["status"] == FAIL


def test_phase4_notification_target_and_rules():
    assert checks()["notification-channel"]["status"] == FAIL
    NotificationChannel.objects.create(kind="EMAIL", target="oncall@example.test")
    assert checks()["notification-channel"]["status"] == READY
    assert checks()["rollback-rules"]["status"] == READY
    RollbackRule.objects.filter(code="failed-per-hour").update(dry_run=True)
    RollbackRule.objects.filter(code="consecutive-failures").update(enabled=False)
    detail = checks()["rollback-rules"]["detail"]
    assert "꺼짐: 동일 계정에서 연속 3건 실패" in detail and "드라이런: 1시간 내 SEND_FAILED > 5건" in detail


def test_phase4_open_incident_and_lock_are_not_ready(coupang):
    from policy.models import AccountRollout
    from policy.monitor import run_monitor

    assert checks()["open-incidents"]["status"] == READY
    AccountRollout.objects.filter(account=coupang).update(consecutive_failures=3)
    run_monitor()
    check = checks()["open-incidents"]
    assert check["status"] == FAIL and "동일 계정에서 연속 3건 실패 (coupang_main" in check["detail"]
    assert "coupang_main 잠김: " in check["detail"]


def test_phase5_manual_items_show_who_and_when(admin_user):
    item = ChecklistItem.objects.get(code="ops-training")
    assert checks()["ops-training"]["status"] == FAIL
    services.checklist_set(item=item, checked=True, user=admin_user, note="3월 교육")
    check = checks()["ops-training"]
    assert check["status"] == READY
    assert check["detail"].startswith(f"admin 확인 ({timezone.localtime():%Y-%m-%d}") and "3월 교육" in check["detail"]


def test_phase5_seven_days_under_5_percent(coupang):
    for offset in range(-7, 0):
        attempts(coupang, ok=96, failed=4, at=seoul_day(offset))  # 4 %
    assert checks()["seven-days-under-5pct"]["status"] == READY
    attempts(coupang, ok=95, failed=5, at=seoul_day(-2, 15))  # that day: 9/200 = 4.5 %
    assert checks()["seven-days-under-5pct"]["status"] == READY
    attempts(coupang, failed=2, at=seoul_day(-2, 16))  # 11/202 = 5.4 %
    check = checks()["seven-days-under-5pct"]
    assert check["status"] == FAIL and seoul_day(-2).date().isoformat() in check["detail"]


def test_phase5_a_day_without_real_sends_is_not_seven_days(coupang):
    for offset in (-7, -6, -5, -3, -2, -1):
        attempts(coupang, ok=100, at=seoul_day(offset))
    attempts(coupang, test_mode=50, at=seoul_day(-4))  # test-mode sends are not operation
    check = checks()["seven-days-under-5pct"]
    assert check["status"] == FAIL and "1일" in check["detail"]


def everything_ready(account, user) -> None:
    make_shipping_policy(account)  # an account without its shipping policy is not ready
    auto_send_candidates(account, 12)
    for offset in range(-7, 0):
        attempts(account, ok=99, failed=1, at=seoul_day(offset))
    attempts(account, ok=50)
    setup_schedules()
    AutomationSettings.objects.filter(pk=1).update(last_monitor_run_at=timezone.now())
    NotificationChannel.objects.create(kind="WEBHOOK", target="https://hooks.example.test/services/T/B/X")
    for item in ChecklistItem.objects.filter(is_automatic=False):
        services.checklist_set(item=item, checked=True, user=user)


def test_all_ready__command_exits_normally(coupang, admin_user):
    everything_ready(coupang, admin_user)
    report = readiness_report()
    assert report["ready"], [c for c in report["checks"] if c["status"] != READY]
    out = io.StringIO()
    call_command("readiness", stdout=out)  # no SystemExit
    assert "준비됨 (통과 " in out.getvalue() and "준비 안 됨" not in out.getvalue()


def test_not_ready__command_exits_1_and_says_why(coupang, admin_user):
    everything_ready(coupang, admin_user)
    ChecklistItem.objects.filter(code="rollback-doc-shared").update(checked=False)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("readiness", stdout=out)
    assert exc.value.code == 1
    text = out.getvalue()
    assert "✗ 실패 롤백 절차 문서 공유: 관리자 화면에서 확인 필요" in text and "준비 안 됨 (통과 " in text
    assert "Phase 1: 사전 체크" in text and "Phase 5: 안정화 후 프로덕션 전환" in text


def test_json_format(coupang):
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("readiness", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["ready"] is False and {c["section"] for c in data["checks"]} == {"phase1", "phase4", "phase5"}
    codes = [c["code"] for c in data["checks"]]
    assert {
        "production-ready-tests",
        "phases-1-4-done",
        "seven-days-under-5pct",
        "ops-training",
        "rollback-doc-shared",
        "monitoring-dashboard",
    } <= set(codes)


def test_resolved_incident_no_longer_blocks(coupang, admin_user):
    everything_ready(coupang, admin_user)
    incident = RollbackIncident.objects.create(rule=RollbackRule.objects.first(), scope_key="global", figures={})
    assert not readiness_report()["ready"]
    services.incident_resolve(incident=incident, user=admin_user)
    assert readiness_report()["ready"]


# --- phase 1: the shipping policy of every active account -------------------------------------------


def test_phase1_shipping_policy__missing_incomplete_complete(coupang):
    from django.urls import reverse

    check = checks()["shipping-policy-coupang_main"]
    assert check["section"] == "phase1" and check["status"] == FAIL and check["name"] == "배송 정책: coupang_main"
    assert check["detail"].startswith(
        "배송 정책이 없습니다 — 빠진 항목: 당일 출고 마감 시각, 택배사, 기본 배송비(원), "
        "반품 배송비(편도, 원), 교환 배송비(왕복, 원), 반품·교환 보낼 주소"
    )
    assert "관리자 화면 '마켓 연동 > 배송 정책'" in check["detail"]
    assert "shipping_policy import FILE --account coupang_main" in check["detail"]
    assert check["url"] == reverse("admin:markets_shippingpolicy_add") + f"?account={coupang.pk}"

    policy = make_shipping_policy(coupang, carrier_code="", return_address="")
    check = checks()["shipping-policy-coupang_main"]
    assert check["status"] == FAIL
    assert check["detail"].startswith("입력이 덜 됐습니다 — 빠진 항목: 택배사, 반품·교환 보낼 주소 — ")
    assert check["url"] == reverse("admin:markets_shippingpolicy_change", args=[policy.pk])

    make_shipping_policy(coupang)
    check = checks()["shipping-policy-coupang_main"]
    assert check["status"] == READY
    assert check["detail"] == "입력 완료 (CJ대한통운, 당일 출고 마감 14:00, 기본 배송비 3,000원)"


def test_phase1_shipping_policy__one_check_per_active_account_and_it_gates_readiness(coupang, admin_user):
    everything_ready(coupang, admin_user)
    assert readiness_report()["ready"]
    store = make_account("smartstore", market="SMARTSTORE")
    report = readiness_report()
    assert not report["ready"]
    assert [c["code"] for c in report["checks"] if c["status"] != READY] == ["shipping-policy-smartstore"]
    store.is_active = False
    store.save()
    assert "shipping-policy-smartstore" not in checks() and readiness_report()["ready"]


def test_phase1_shipping_policy__command_and_page_show_it(coupang, admin_client):
    from django.urls import reverse

    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("readiness", stdout=out)
    assert "✗ 실패 배송 정책: coupang_main: 배송 정책이 없습니다 — 빠진 항목: 당일 출고 마감 시각" in out.getvalue()
    html = admin_client.get(reverse("policy:readiness")).content.decode()
    add_url = reverse("admin:markets_shippingpolicy_add") + f"?account={coupang.pk}"
    assert f'<a href="{add_url}">배송 정책: coupang_main</a>' in html
