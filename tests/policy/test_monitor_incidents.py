"""One incident per trip: what the monitor does on the next minute, after a resolution, after a person
lifts the action, for dry-run rules, for ``monitor --dry-run``, and when an action fails."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from policy import services
from policy.controls import load_account_controls
from policy.models import (
    AccountRollout,
    AutomationSettings,
    Mode,
    Notification,
    NotificationChannel,
    RollbackIncident,
    RollbackRule,
    RolloutEvent,
)
from policy.monitor import run_monitor
from policy.services import SYSTEM, Actor, get_phase, rollout_unlock, settings_update
from tests.factories import make_account
from tests.policy.history import attempts, rollout_running_since

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts():
    """Two accounts live at phase 3 for a month (no marketplace needed: nothing is sent here)."""
    coupang = make_account("coupang_main")
    naver = make_account("smartstore", market="SMARTSTORE")
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    for account in (coupang, naver):
        rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    rollout_running_since(days=30)
    NotificationChannel.objects.create(kind="EMAIL", target="ops@example.test")
    return coupang, naver


def failures_in_a_row(account, n: int) -> None:
    attempts(account, failed=n)
    AccountRollout.objects.filter(account=account).update(consecutive_failures=n)


def snapshot() -> dict:
    conf = AutomationSettings.get_solo()
    return {
        "incidents": list(RollbackIncident.objects.values_list("id", "status")),
        "events": RolloutEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "locks": list(AccountRollout.objects.values_list("account__name", "locked_at")),
        "settings": (conf.test_mode, conf.partial_auto_enabled, conf.last_monitor_run_at),
    }


def test_a_rule_fires_once_per_incident_not_every_minute(accounts):
    coupang, _ = accounts
    failures_in_a_row(coupang, 3)
    first = run_monitor()
    assert len(first.opened) == 1
    locked_at = AccountRollout.objects.get(account=coupang).locked_at
    before = snapshot()
    for minute in range(1, 4):
        later = run_monitor(now=timezone.now() + dt.timedelta(minutes=minute))
        assert later.opened == []
    after = snapshot()
    assert after["incidents"] == before["incidents"] and len(after["incidents"]) == 1
    assert after["events"] == before["events"] and after["notifications"] == before["notifications"] == 1
    assert AccountRollout.objects.get(account=coupang).locked_at == locked_at


def test_a_global_rule_reports_but_does_not_reopen_while_its_incident_is_open(accounts):
    coupang, _ = accounts
    attempts(coupang, failed=6)
    assert [i.rule.code for i in run_monitor().opened] == ["failed-per-hour"]
    again = run_monitor()
    assert [t["rule"] for t in again.trips] == ["failed-per-hour"] and again.opened == []
    incident = RollbackIncident.objects.get()
    services.incident_acknowledge(incident=incident, user=None)
    assert run_monitor().opened == []  # acknowledged is still open
    assert RollbackIncident.objects.count() == 1


def test_resolved_while_the_condition_still_holds__a_new_incident(accounts):
    coupang, _ = accounts
    attempts(coupang, failed=6)
    first = run_monitor().opened[0]
    services.incident_resolve(incident=first, user=None, note="looked at it")
    second = run_monitor().opened
    assert [i.rule.code for i in second] == ["failed-per-hour"] and second[0].pk != first.pk
    assert RollbackIncident.objects.filter(status="OPEN").count() == 1
    assert RollbackIncident.objects.filter(status="RESOLVED").count() == 1
    assert "이미 적용됨" in second[0].action_taken  # test mode was still on
    assert Notification.objects.filter(incident=second[0]).count() == 1  # the new incident is announced


def test_resolved_and_the_condition_gone__no_new_incident(accounts):
    coupang, _ = accounts
    attempts(coupang, failed=6, at=timezone.now() - dt.timedelta(minutes=50))
    incident = run_monitor().opened[0]
    services.incident_resolve(incident=incident, user=None)
    assert run_monitor(now=timezone.now() + dt.timedelta(minutes=15)).opened == []  # the failures left the hour


def test_unlocked_by_a_person__old_failures_do_not_relock(accounts):
    coupang, _ = accounts
    attempts(coupang, ok=49, failed=1)
    incident = run_monitor().opened[0]
    assert incident.rule.code == "account-failure-rate-24h"
    rollout_unlock(account=coupang, mode=Mode.LIVE, phase=None, actor=Actor("ops"), reason="token renewed")
    assert run_monitor().opened == []
    assert load_account_controls(coupang).effective_mode == Mode.LIVE


def test_a_change_that_lifts_nothing_does_not_restart_the_count(accounts):
    coupang, _ = accounts
    attempts(coupang, ok=49, failed=1)  # 2 % in the last 24 h
    attempts(coupang, failed=6)  # and six failures in the hour
    rollout_unlock(account=coupang, mode=Mode.LIVE, phase=get_phase(2), actor=Actor("ops"), reason="phase 2")
    settings_update(actor=Actor("ops"), reason="saved again", test_mode=False, partial_auto=True)
    assert {i.rule.code for i in run_monitor().opened} == {
        "account-failure-rate-24h",
        "failed-per-hour",
        "global-failure-rate-24h",
    }


def test_unlocked_while_the_incident_is_open__new_failures_lock_again(accounts):
    """An open incident never disarms its rule: once a person lifted the lock, fresh evidence re-locks."""
    coupang, _ = accounts
    failures_in_a_row(coupang, 3)
    first = run_monitor().opened[0]
    services.incident_acknowledge(incident=first, user=None)
    rollout_unlock(account=coupang, mode=Mode.LIVE, phase=None, actor=Actor("ops"), reason="marketplace fixed")
    assert AccountRollout.objects.get(account=coupang).consecutive_failures == 0
    assert run_monitor().opened == []

    failures_in_a_row(coupang, 3)
    second = run_monitor(metrics=("CONSECUTIVE_FAILURES",), now=timezone.now() + dt.timedelta(seconds=1)).opened
    assert [i.rule.code for i in second] == ["consecutive-failures"]
    first.refresh_from_db()
    assert first.status == "RESOLVED" and first.resolution_note.startswith("대체됨")
    assert load_account_controls(coupang).locked


def test_test_mode_turned_off_by_a_person__counts_restart(accounts):
    coupang, _ = accounts
    attempts(coupang, failed=6)
    incident = run_monitor().opened[0]
    assert AutomationSettings.get_solo().test_mode
    settings_update(actor=Actor("ops"), reason="cause fixed", test_mode=False)
    assert run_monitor().opened == []  # the six failures were before the lift
    attempts(coupang, failed=6, at=timezone.now() + dt.timedelta(seconds=1))
    reopened = run_monitor(now=timezone.now() + dt.timedelta(seconds=2)).opened
    assert [i.rule.code for i in reopened] == ["failed-per-hour"] and reopened[0].figures["failed"] == 6
    incident.refresh_from_db()
    assert incident.status == "RESOLVED"
    assert AutomationSettings.get_solo().test_mode is True


def test_dry_run_rule__incident_marked_dry_run_and_no_action(accounts):
    coupang, _ = accounts
    RollbackRule.objects.filter(code="consecutive-failures").update(dry_run=True)
    failures_in_a_row(coupang, 3)
    events_before = RolloutEvent.objects.count()
    report = run_monitor()
    incident = report.opened[0]
    assert incident.dry_run and incident.action_taken == "시험 실행 — 실행했다면: 계정 coupang_main 잠금"
    assert not load_account_controls(coupang).locked
    assert RolloutEvent.objects.count() == events_before  # no lock, no rollback event
    assert Notification.objects.filter(incident=incident).count() == 1  # reported, as promised
    assert run_monitor().opened == []  # once per incident, dry run too

    # Switched to live, the rule acts at once: the open dry-run incident does not hold it back.
    RollbackRule.objects.filter(code="consecutive-failures").update(dry_run=False)
    live = run_monitor().opened
    assert len(live) == 1 and not live[0].dry_run and load_account_controls(coupang).locked
    assert RollbackIncident.objects.filter(status="OPEN").count() == 2


def test_disabled_rule_is_not_evaluated(accounts):
    coupang, _ = accounts
    RollbackRule.objects.filter(code="consecutive-failures").update(enabled=False)
    failures_in_a_row(coupang, 5)
    report = run_monitor()
    assert report.evaluated == 7 and report.trips == []


def test_monitor_command_dry_run_writes_nothing(accounts):
    coupang, _ = accounts
    failures_in_a_row(coupang, 3)
    attempts(coupang, failed=3)
    before = snapshot()
    out = io.StringIO()
    call_command("monitor", "--dry-run", stdout=out)
    assert snapshot() == before
    text = out.getvalue()
    assert "2개 발동 (시험 실행: 아무것도 바꾸지 않음)" in text
    assert "실행했다면: 계정 coupang_main 잠금" in text and "실행했다면: 전체 테스트 모드 켬" in text
    # every rule's current value against its threshold and minimum sample, tripped or not
    lines = text.splitlines()
    header = next(line for line in lines if "현재 값" in line)
    assert "기준" in header and "표본/최소 표본" in header
    consecutive = next(line for line in lines if line.strip().startswith("동일 계정에서 연속 3건 실패"))
    assert "coupang_main" in consecutive and ">= 3" in consecutive and "발동" in consecutive
    assert sum(1 for line in lines if line.strip().endswith(("정상", "발동", "표본 부족"))) == 8


def test_monitor_command_acts_and_reports(accounts, mailoutbox):
    coupang, _ = accounts
    failures_in_a_row(coupang, 3)
    out = io.StringIO()
    call_command("monitor", stdout=out)
    incident = RollbackIncident.objects.get()
    text = out.getvalue()
    assert f"사고 #{incident.pk}: 계정 coupang_main 잠금" in text and "연속 전송 실패 3건" in text
    assert "알림 1건 보냄" in text and len(mailoutbox) == 1
    assert AutomationSettings.get_solo().last_monitor_run_at is not None
    out = io.StringIO()
    call_command("monitor", stdout=out)
    assert "0개 발동, 새 사고 0건" in out.getvalue()  # the locked account is no longer evaluated


def test_heartbeat_only_from_a_full_run():
    run_monitor(metrics=("CONSECUTIVE_FAILURES",))
    assert AutomationSettings.get_solo().last_monitor_run_at is None
    run_monitor()
    assert AutomationSettings.get_solo().last_monitor_run_at is not None


def test_a_failing_action_still_records_the_incident_and_the_other_rules_act(accounts, monkeypatch):
    coupang, _ = accounts
    failures_in_a_row(coupang, 3)
    attempts(coupang, failed=3)  # 6 failures in the hour as well

    def broken_lock(**kwargs):
        raise RuntimeError("database said no")

    monkeypatch.setattr(services, "rollout_lock", broken_lock)
    report = run_monitor()
    by_rule = {i.rule.code: i for i in report.opened}
    assert set(by_rule) == {"consecutive-failures", "failed-per-hour"}
    assert by_rule["consecutive-failures"].action_taken.startswith("조치 실패 (계정 coupang_main 잠금)")
    assert "database said no" in report.errors[0]
    assert AutomationSettings.get_solo().test_mode is True  # the global rule still acted
    assert Notification.objects.filter(incident=by_rule["consecutive-failures"]).exists()


def test_test_mode_sends_never_count_as_failures(live_test_mode):
    """Real test-mode sends through the pipeline: SEND_FAILED with the mark, never a failure."""
    from policy.sending import send_inquiry

    for _ in range(6):
        inquiry = live_test_mode.inquiry()
        assert send_inquiry(inquiry.pk).result == "TEST_MODE"
    assert AccountRollout.objects.get(account=live_test_mode.coupang).consecutive_failures == 0
    report = run_monitor()
    assert report.trips == [] and not RollbackIncident.objects.exists()
    assert live_test_mode.answers() == []


@pytest.fixture
def live_test_mode(live):
    rollout_unlock(account=live.coupang, mode=Mode.TEST, phase=None, actor=SYSTEM)
    rollout_running_since(days=30)
    return live


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_monitors_open_one_incident_and_act_once():
    coupang = make_account("coupang_main")
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False)
    rollout_unlock(account=coupang, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    rollout_running_since(days=30)
    attempts(coupang, failed=6)
    barrier = threading.Barrier(4)
    opened: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            opened.extend(i.pk for i in run_monitor(metrics=("FAILED_COUNT",)).opened)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(opened) == 1 and RollbackIncident.objects.count() == 1
    assert RolloutEvent.objects.filter(action="AUTO_ROLLBACK").count() == 1


def test_incident_acknowledged_and_resolved_in_the_admin(accounts, admin_client, admin_user):
    from django.urls import reverse

    coupang, _ = accounts
    attempts(coupang, failed=6)
    incident = run_monitor().opened[0]
    url = reverse("admin:policy_rollbackincident_changelist")
    admin_client.post(url, {"action": "acknowledge", "_selected_action": [incident.pk]})
    incident.refresh_from_db()
    assert incident.status == "ACKNOWLEDGED" and incident.acknowledged_by == admin_user
    assert run_monitor().opened == []
    admin_client.post(url, {"action": "resolve", "_selected_action": [incident.pk]})
    incident.refresh_from_db()
    assert incident.status == "RESOLVED" and incident.resolved_by == admin_user and incident.resolved_at
    # the failures are still in the hour: the rule fires again, as a new incident
    assert [i.rule.code for i in run_monitor().opened] == ["failed-per-hour"]


def test_monitor_dry_run__nothing_tripped__still_shows_every_rule_against_its_threshold(accounts):
    out = io.StringIO()
    call_command("monitor", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "0개 발동" in text and "evaluated" not in text
    rows = [line for line in text.splitlines() if line.strip().endswith(("정상", "표본 부족"))]
    assert len(rows) == 8 and all(">=" in row or ">" in row for row in rows)
