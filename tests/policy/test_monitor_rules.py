"""The six seeded rollback rules of the guide's table 4.1.2, each with a synthetic history just below
its threshold (no trip), just above it (one incident, the action applied, the next send blocked)
and under its minimum sample (no trip)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from inquiries.models import Inquiry
from policy.controls import load_account_controls, load_global
from policy.models import AccountRollout, AutomationSettings, Mode, RollbackIncident, RollbackRule, RolloutEvent
from policy.monitor import run_monitor
from policy.sending import send_inquiry
from tests.factories import make_inquiry
from tests.policy.history import attempts, rollout_running_since, seoul_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(live):
    """Two accounts live at phase 3 for a month, real sends, business hours always."""
    rollout_running_since(days=30)
    return live


def rule(code: str) -> RollbackRule:
    return RollbackRule.objects.get(code=code)


def set_rule(code: str, **fields) -> None:
    RollbackRule.objects.filter(code=code).update(**fields)


def tripped(report) -> list[str]:
    return [t["rule"] for t in report.trips]


def assert_one_incident(code: str, account=None) -> RollbackIncident:
    incidents = list(RollbackIncident.objects.all())
    assert [(i.rule.code, i.account_id) for i in incidents] == [(code, account.pk if account else None)]
    incident = incidents[0]
    assert incident.status == RollbackIncident.Status.OPEN and not incident.dry_run
    assert RolloutEvent.objects.filter(action="AUTO_ROLLBACK", data__incident=incident.pk).count() == 1
    return incident


def assert_next_send_blocked(live, account, expected: str) -> None:
    """A due AUTO_SEND of the account is claimed and released (or test-moded), never sent."""
    inquiry = live.inquiry(account)
    report = send_inquiry(inquiry.pk)
    assert report.result == expected, report
    assert live.answers(inquiry) == []


# --- risk keyword decided AUTO_SEND → global test mode ------------------------------------------------


def risky_auto_send(account, *, minutes_ago: float = 5, content: str = "답변 없으면 소비자원에 신고하겠습니다"):
    now = timezone.now()
    return make_inquiry(
        account,
        status="AUTO_SEND",
        decision_mode="LIVE",
        decided_at=now - dt.timedelta(minutes=minutes_ago),
        created_at=now - dt.timedelta(minutes=minutes_ago + 1),
        content=content,
        intent="배송문의",
        confidence_score=0.95,
        send_status="SENT",
        draft_answer="곧 출고됩니다.",
    )


def test_risk_auto_send__below__no_trip(running):
    make_inquiry(running.coupang, status="AUTO_SEND", decided_at=timezone.now(), content="배송 언제 되나요?")
    make_inquiry(running.coupang, status="HUMAN_REVIEW", decided_at=timezone.now(), content="소비자원에 신고합니다")
    risky_auto_send(running.coupang, minutes_ago=61)  # outside the one-hour window
    report = run_monitor()
    assert tripped(report) == [] and not RollbackIncident.objects.exists()


def test_risk_auto_send__above__global_test_mode_and_next_send_not_sent(running):
    inquiry = risky_auto_send(running.coupang)
    report = run_monitor()
    assert tripped(report) == ["risk-keyword-auto-send"]
    incident = assert_one_incident("risk-keyword-auto-send")
    assert incident.figures["count"] == 1
    assert incident.figures["inquiries"][0]["inquiry"] == inquiry.pk
    assert "소비자원" in incident.figures["inquiries"][0]["terms"]
    assert AutomationSettings.get_solo().test_mode is True
    assert load_account_controls(running.coupang).effective_mode == Mode.TEST
    assert_next_send_blocked(running, running.coupang, "TEST_MODE")
    assert_next_send_blocked(running, running.naver, "TEST_MODE")


def test_risk_auto_send__keyword_added_after_the_decision_still_counts(running):
    from policy.models import RiskKeyword

    risky_auto_send(running.coupang, content="환불 안 해주면 공정위에 민원 넣겠습니다")
    RiskKeyword.objects.get_or_create(term="공정위", defaults={"category": "REGULATOR"})
    from inquiries.agent import loader

    loader._cache = None  # the agent context is cached for a while; a fresh monitor process reads it anew
    assert tripped(run_monitor()) == ["risk-keyword-auto-send"]


def test_risk_auto_send__under_min_sample__no_trip(running):
    set_rule("risk-keyword-auto-send", min_sample=3)  # judge only on at least 3 AUTO_SEND decisions in the hour
    risky_auto_send(running.coupang)
    make_inquiry(running.coupang, status="AUTO_SEND", decided_at=timezone.now(), content="배송 언제 되나요?")
    assert tripped(run_monitor()) == []
    make_inquiry(running.coupang, status="AUTO_SEND", decided_at=timezone.now(), content="사용법 알려주세요")
    assert tripped(run_monitor()) == ["risk-keyword-auto-send"]


# --- three consecutive failures on one account → lock it -----------------------------------------------


def failures_in_a_row(account, n: int) -> None:
    attempts(account, failed=n)
    AccountRollout.objects.filter(account=account).update(consecutive_failures=n)


def test_consecutive_failures__below__no_trip(running):
    failures_in_a_row(running.coupang, 2)
    assert tripped(run_monitor()) == [] and not RollbackIncident.objects.exists()


def test_consecutive_failures__above__account_locked_and_next_send_blocked(running):
    failures_in_a_row(running.coupang, 3)
    report = run_monitor()
    assert tripped(report) == ["consecutive-failures"]
    incident = assert_one_incident("consecutive-failures", running.coupang)
    assert incident.figures["consecutive_failures"] == 3 and len(incident.figures["last_failures"]) == 3
    controls = load_account_controls(running.coupang)
    assert controls.locked and controls.effective_mode == Mode.SHADOW
    assert "연속 전송 실패 3건" in controls.lock_reason and f"사고 {incident.pk}" in controls.lock_reason
    assert incident.action_taken == "계정 coupang_main 잠금"
    assert_next_send_blocked(running, running.coupang, "BLOCKED")
    # the other account is untouched
    assert load_account_controls(running.naver).effective_mode == Mode.LIVE


def test_consecutive_failures__under_min_sample__no_trip(running):
    set_rule("consecutive-failures", min_sample=4)
    failures_in_a_row(running.coupang, 3)
    assert tripped(run_monitor()) == []


# --- more than 5 SEND_FAILED in one hour → global test mode -------------------------------------------


def test_failed_per_hour__below__no_trip(running):
    attempts(running.coupang, ok=10, failed=3)
    attempts(running.naver, failed=2)
    attempts(running.naver, failed=4, at=timezone.now() - dt.timedelta(minutes=61))  # outside the hour
    report = run_monitor()
    assert tripped(report) == [] and not RollbackIncident.objects.exists()


def test_failed_per_hour__above__global_test_mode_and_next_send_not_sent(running):
    attempts(running.coupang, ok=10, failed=3)
    failed = attempts(running.naver, failed=3, failed_outcome="FAILED_PERMANENT")
    attempts(running.naver, unknown=4)  # not failures (nor attempts) until reconciliation settles them
    report = run_monitor()
    assert tripped(report) == ["failed-per-hour"]
    incident = assert_one_incident("failed-per-hour")
    assert incident.figures["failed"] == 6 and incident.figures["attempts"] == 16
    assert incident.figures["by_account"] == {"coupang_main": 3, "smartstore": 3}
    # the incident lists the failed attempts and their inquiries
    listed = {(row["attempt"], row["inquiry"]) for row in incident.figures["failures"]}
    assert {(a.pk, a.inquiry_id) for a in failed} <= listed and len(listed) == 6
    assert load_global().test_mode is True
    assert_next_send_blocked(running, running.coupang, "TEST_MODE")


def test_failed_per_hour__under_min_sample__no_trip(running):
    set_rule("failed-per-hour", min_sample=10)  # at least 10 real attempts in the hour
    attempts(running.coupang, failed=6)
    assert tripped(run_monitor()) == []
    attempts(running.coupang, ok=4)
    assert tripped(run_monitor()) == ["failed-per-hour"]


def test_failed_per_hour__test_mode_failures_never_count(running):
    attempts(running.coupang, failed=5, test_mode=20)
    # a row marked test mode counts as test mode, whatever its outcome says
    rows = attempts(running.coupang, failed=3)
    type(rows[0]).objects.filter(pk__in=[r.pk for r in rows]).update(is_test_mode=True)
    assert tripped(run_monitor()) == []


# --- 24 h failure rate >= 2 % on an account → lock that account ---------------------------------------


def test_account_failure_rate__below__no_trip(running):
    attempts(running.coupang, ok=50, failed=1)  # 1/51 = 1.96 %
    attempts(running.naver, ok=60)
    attempts(running.naver, failed=5, at=timezone.now() - dt.timedelta(hours=25))  # outside the day
    assert tripped(run_monitor()) == []


def test_account_failure_rate__above__that_account_locked_only(running):
    attempts(running.coupang, ok=49, failed=1)  # 1/50 = exactly 2 %
    attempts(running.naver, ok=50)
    report = run_monitor()
    assert tripped(report) == ["account-failure-rate-24h"]
    incident = assert_one_incident("account-failure-rate-24h", running.coupang)
    assert incident.figures["failure_rate"] == 0.02 and incident.figures["attempts"] == 50
    assert load_account_controls(running.coupang).effective_mode == Mode.SHADOW
    assert "24시간 실패율 2.0% (1/50)" in load_account_controls(running.coupang).lock_reason
    assert_next_send_blocked(running, running.coupang, "BLOCKED")
    # the healthy account still sends
    healthy = running.inquiry(running.naver)
    assert send_inquiry(healthy.pk).result == "SENT"


def test_account_failure_rate__under_min_sample__no_trip(running):
    attempts(running.coupang, ok=48, failed=1)  # 1/49 = 2.04 %, but fewer than 50 attempts
    assert tripped(run_monitor()) == []


# --- 24 h failure rate >= 5 % overall → global test mode ----------------------------------------------


def test_global_failure_rate__below__no_trip(running):
    attempts(running.coupang, ok=10, failed=1)
    attempts(running.naver, ok=10)  # 1/21 = 4.76 %
    assert tripped(run_monitor()) == []


def test_global_failure_rate__above__global_test_mode_and_next_send_not_sent(running):
    attempts(running.coupang, ok=9, failed=1)
    attempts(running.naver, ok=10)  # 1/20 = exactly 5 %
    attempts(running.naver, test_mode=30)  # test-mode sends are neither failures nor in the denominator
    report = run_monitor()
    assert tripped(report) == ["global-failure-rate-24h"]
    incident = assert_one_incident("global-failure-rate-24h")
    assert incident.figures["failure_rate"] == 0.05 and incident.figures["attempts"] == 20
    assert load_account_controls(running.naver).effective_mode == Mode.TEST
    assert_next_send_blocked(running, running.naver, "TEST_MODE")


def test_global_failure_rate__under_min_sample__no_trip(running):
    attempts(running.coupang, ok=8, failed=1)
    attempts(running.naver, ok=10)  # 1/19 = 5.3 %, but fewer than 20 attempts
    assert tripped(run_monitor()) == []


# --- 7 days in a row >= 3 % → back to shadow mode -----------------------------------------------------


def week(
    account, *, per_day: int, failed: int, skip_day: int | None = None, low_day: int | None = None, days=range(-7, 0)
) -> None:
    for offset in days:
        total, bad = (per_day + 1, failed) if offset == low_day else (per_day, failed)
        if offset == skip_day:
            continue
        attempts(account, ok=total - bad, failed=bad, at=seoul_day(offset))


def test_streak__below__no_trip(running):
    week(running.coupang, per_day=33, failed=1, low_day=-4)  # 1/33 = 3.03 % on six days, 1/34 = 2.94 % on one
    report = run_monitor(metrics=("DAILY_FAILURE_RATE_STREAK",))
    assert tripped(report) == []


def test_streak__above__shadow_mode_and_next_send_blocked(running):
    week(running.coupang, per_day=33, failed=1)  # 3.03 % on each of the last seven complete days
    report = run_monitor()
    assert tripped(report) == ["failure-rate-7d-streak"]
    incident = assert_one_incident("failure-rate-7d-streak")
    assert [d["attempts"] for d in incident.figures["days"]] == [33] * 7
    assert incident.figures["days"][-1]["day"] == seoul_day(-1).date().isoformat()
    assert AutomationSettings.get_solo().partial_auto_enabled is False
    assert load_account_controls(running.coupang).effective_mode == Mode.SHADOW
    assert_next_send_blocked(running, running.naver, "BLOCKED")


def test_streak__ending_today_once_today_has_the_min_sample(running):
    week(running.coupang, per_day=33, failed=1, days=range(-6, 1))  # six complete days and today
    now = max(timezone.now(), seoul_day(0)) + dt.timedelta(minutes=1)
    assert tripped(run_monitor(metrics=("DAILY_FAILURE_RATE_STREAK",), now=now)) == ["failure-rate-7d-streak"]


def test_streak__a_day_without_sends_breaks_it(running):
    week(running.coupang, per_day=33, failed=1, skip_day=-3)
    assert tripped(run_monitor(metrics=("DAILY_FAILURE_RATE_STREAK",))) == []


def test_streak__under_min_sample__no_trip(running):
    week(running.coupang, per_day=9, failed=1)  # 11 % a day, but fewer than 10 attempts a day
    assert tripped(run_monitor(metrics=("DAILY_FAILURE_RATE_STREAK",))) == []


# --- every rule, one table ------------------------------------------------------------------------------


def test_seeded_rules_are_the_guides_table():
    rows = {
        r.code: (r.metric, r.comparison, r.threshold, r.action, r.enabled, r.dry_run)
        for r in RollbackRule.objects.all()
    }
    assert rows == {
        "risk-keyword-auto-send": ("RISK_AUTO_SEND", ">=", 1, "GLOBAL_TEST_MODE", True, False),
        "consecutive-failures": ("CONSECUTIVE_FAILURES", ">=", 3, "LOCK_ACCOUNT", True, False),
        "failed-per-hour": ("FAILED_COUNT", ">", 5, "GLOBAL_TEST_MODE", True, False),
        "account-failure-rate-24h": ("ACCOUNT_FAILURE_RATE", ">=", 0.02, "LOCK_ACCOUNT", True, False),
        "global-failure-rate-24h": ("GLOBAL_FAILURE_RATE", ">=", 0.05, "GLOBAL_TEST_MODE", True, False),
        "failure-rate-7d-streak": ("DAILY_FAILURE_RATE_STREAK", ">=", 0.03, "SHADOW_MODE", True, False),
        # not in the guide: unknown outcomes are not failures, but they must not stay unknown
        "unknown-unsettled": ("UNSETTLED_UNKNOWN", ">=", 3, "LOCK_ACCOUNT", True, False),
        # not in the guide: delivered answers that buyers complain about (follow-ups), per account and intent
        "intent-complaint-rate": ("INTENT_COMPLAINT_RATE", ">=", 0.2, "WITHDRAW_INTENT", True, False),
    }
    assert rule("failure-rate-7d-streak").streak_days == 7
    assert (rule("unknown-unsettled").window_minutes, rule("unknown-unsettled").min_sample) == (60, 3)
    assert (rule("intent-complaint-rate").window_minutes, rule("intent-complaint-rate").min_sample) == (7 * 24 * 60, 10)


def test_due_inquiries_are_really_unsent_after_a_global_rollback(running):
    """Sends queued before the rollback (already due) are stopped at claim time, not only new ones."""
    queued = [running.inquiry(running.coupang) for _ in range(2)]
    attempts(running.coupang, ok=10, failed=6)
    run_monitor()
    from policy.sending import send_due

    results = {r.inquiry_id: r.result for r in send_due()}
    assert all(results[i.pk] == "TEST_MODE" for i in queued)
    assert running.answers() == []
    assert Inquiry.objects.filter(pk__in=[i.pk for i in queued], send_status="SENT").count() == 0
