"""Unknown outcomes are not failures until reconciliation says so.

A lost response (the marketplace applied the answer, the reply never arrived) leaves the send
SEND_UNKNOWN. The guide's rollback rules count send failures: such a send trips nothing, and once
reconciliation finds our answer on the marketplace it counts as delivered. Confirmed failures (the
marketplace said no, or reconciliation found no answer) still trip the rules as the guide's table
says, and the incident lists the rows that tripped it. Unknown outcomes that stay unsettled have a
rule of their own.

Marketplace calls go over real HTTP to the sandbox on loopback."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from inquiries.models import Inquiry, SendAttempt
from policy.controls import load_account_controls, load_global
from policy.models import AccountRollout, Mode, RollbackIncident
from policy.monitor import run_monitor
from policy.sending import reconcile, send_due
from policy.services import SYSTEM, rollout_unlock
from tests.factories import make_inquiry
from tests.policy.history import attempts, rollout_running_since, seoul_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(live):
    rollout_running_since(days=30)
    return live


def due(live, per_account: int) -> list[Inquiry]:
    return [live.inquiry(account) for account in (live.coupang, live.naver) for _ in range(per_account)]


def incidents() -> list[tuple[str, str | None]]:
    return sorted((i.rule.code, i.account.name if i.account else None) for i in RollbackIncident.objects.all())


def test_lost_responses_reconciled_as_delivered__no_rule_trips(running):
    # Four answers per account are applied by the marketplace, and every response is lost on the way.
    queued = due(running, 4)
    running.sandbox.store.set_faults(scope="answers", lost_response="drop")
    send_due()
    assert set(Inquiry.objects.filter(pk__in=[i.pk for i in queued]).values_list("send_status", flat=True)) == {
        "SEND_UNKNOWN"
    }
    # Eight unknown outcomes, four in a row on each account: not failures, so nothing trips.
    assert set(AccountRollout.objects.values_list("consecutive_failures", flat=True)) == {0}
    assert run_monitor().trips == [] and not RollbackIncident.objects.exists()

    # Reconciliation finds our answers on the marketplace: all delivered, exactly once.
    running.sandbox.store.set_faults(lost_response="")
    assert [r.result for r in reconcile(stale_after=0, include_waiting=True)] == ["SENT"] * 8
    assert all(len(running.answers(i)) == 1 for i in queued)
    outcomes = SendAttempt.objects.filter(inquiry__in=queued).values_list("outcome", flat=True)
    assert list(outcomes) == ["DELIVERED"] * 8
    assert run_monitor(now=timezone.now() + dt.timedelta(minutes=1)).trips == []
    assert not RollbackIncident.objects.exists() and load_global().test_mode is False
    assert not load_account_controls(running.coupang).locked and not load_account_controls(running.naver).locked


def test_unknowns_confirmed_not_delivered__the_rules_trip_as_the_guide_says_and_list_the_rows(running):
    # Six answers are refused with 503 (the marketplace may have applied them): unknown, not yet failures.
    queued = due(running, 3)
    running.sandbox.store.set_faults(scope="answers", down=True)
    send_due()
    assert run_monitor().trips == [] and not RollbackIncident.objects.exists()

    # Reconciliation finds no answer on the marketplace: six confirmed failures in the hour (> 5), three
    # in a row on each account. The immediate check runs after each one, as after a failed send.
    assert [r.result for r in reconcile(stale_after=0, include_waiting=True)] == ["SEND_FAILED"] * 6
    assert running.answers() == []
    assert incidents() == [
        ("consecutive-failures", "coupang_main"),
        ("consecutive-failures", "smartstore"),
        ("failed-per-hour", None),
    ]
    assert load_global().test_mode is True and load_account_controls(running.coupang).locked

    failed = {(a.pk, a.inquiry_id) for a in SendAttempt.objects.filter(inquiry__in=queued)}
    assert set(SendAttempt.objects.filter(inquiry__in=queued).values_list("outcome", flat=True)) == {"FAILED_RETRYABLE"}
    per_hour = RollbackIncident.objects.get(rule__code="failed-per-hour")
    assert per_hour.figures["failed"] == 6 and per_hour.figures["attempts"] == 6
    assert {(row["attempt"], row["inquiry"]) for row in per_hour.figures["failures"]} == failed
    locked = RollbackIncident.objects.get(rule__code="consecutive-failures", account=running.coupang)
    assert {row["inquiry"] for row in locked.figures["last_failures"]} == {
        i.pk for i in queued if i.account == running.coupang
    }


def test_rate_rules__unknown_outcomes_are_neither_failures_nor_attempts(running):
    attempts(running.coupang, ok=60, unknown=10)  # 14 % if unknowns were failures: the 2 % account rule
    attempts(running.naver, ok=20, unknown=5)  # and the 5 % global rule and "> 5 in 1 hour" would trip
    for offset in range(-7, 0):  # 6 % a day for a week, if unknowns were failures
        attempts(running.naver, ok=30, unknown=2, at=seoul_day(offset))
    assert run_monitor().trips == [] and not RollbackIncident.objects.exists()


def test_rate_rules__confirmed_failures_still_trip(running):
    attempts(running.coupang, ok=49, failed=1, unknown=10)  # 1/50: exactly the guide's 2 %, unknowns aside
    attempts(running.naver, ok=50)
    assert [t["rule"] for t in run_monitor().trips] == ["account-failure-rate-24h"]
    incident = RollbackIncident.objects.get()
    assert (incident.figures["failed"], incident.figures["attempts"]) == (1, 50)
    [row] = incident.figures["failures"]
    assert row["outcome"] == "FAILED_RETRYABLE" and row["account"] == "coupang_main"


# --- unknown outcomes that stay unsettled ------------------------------------------------------------


def unsettled(account, *, minutes_ago: float, status: str = "AUTO_SEND", send_status: str = "SEND_UNKNOWN") -> Inquiry:
    claimed = timezone.now() - dt.timedelta(minutes=minutes_ago)
    inquiry = make_inquiry(
        account,
        status=status,
        decision_mode="LIVE",
        send_status=send_status,
        send_attempts=1,
        claim_token=uuid.uuid4(),
        claimed_at=claimed,
        decided_at=claimed,
        draft_answer="곧 출고됩니다.",
        last_send_error="HTTP 504: Gateway Timeout",
    )
    SendAttempt.objects.create(
        inquiry=inquiry,
        account=account,
        market_code=account.market_code,
        attempt_no=1,
        claim_token=uuid.uuid4(),
        outcome="UNKNOWN",
        http_status=504,
        started_at=claimed,
    )
    return inquiry


def test_unknown_unsettled__below_the_default__no_trip(running):
    unsettled(running.coupang, minutes_ago=61)
    unsettled(running.coupang, minutes_ago=90, status="HUMAN_REVIEW")  # reconciliation gave up: a person checks
    unsettled(running.coupang, minutes_ago=30)  # not an hour yet
    unsettled(running.coupang, minutes_ago=120, status="CLOSED")  # a person closed it: settled
    unsettled(running.naver, minutes_ago=61)
    assert run_monitor().trips == []


def test_unknown_unsettled__three_on_an_account_for_over_an_hour__locks_it_and_lists_them(running):
    rows = [unsettled(running.coupang, minutes_ago=61 + n) for n in range(2)]
    rows.append(unsettled(running.coupang, minutes_ago=200, send_status="SENDING"))  # the worker vanished
    unsettled(running.naver, minutes_ago=61)
    report = run_monitor()
    assert [(t["rule"], t["account"]) for t in report.trips] == [("unknown-unsettled", "coupang_main")]
    incident = RollbackIncident.objects.get()
    assert incident.figures["unsettled"] == 3 and incident.action_taken == "계정 coupang_main 잠금"
    assert [row["inquiry"] for row in incident.figures["inquiries"]] == [r.pk for r in rows]
    assert [row["attempt"] for row in incident.figures["inquiries"]] == [
        SendAttempt.objects.get(inquiry=r).pk for r in rows
    ]
    assert load_account_controls(running.coupang).locked and not load_account_controls(running.naver).locked
    assert "결과 불명 전송 3건이 1시간 넘게 정산되지 않음" in load_account_controls(running.coupang).lock_reason


def test_unknown_unsettled__only_sends_claimed_after_the_unlock_count(running):
    for n in range(3):
        unsettled(running.coupang, minutes_ago=61 + n)
    run_monitor()
    assert load_account_controls(running.coupang).locked
    rollout_unlock(
        account=running.coupang, mode=Mode.LIVE, phase=None, actor=SYSTEM, reason="checked the answers on WING"
    )
    assert run_monitor(now=timezone.now() + dt.timedelta(minutes=1)).trips == []


# --- the incident shows its rows ---------------------------------------------------------------------


def test_incident_page_links_the_rows_that_tripped_it(running, admin_client):
    failed = attempts(running.coupang, ok=10, failed=6)
    run_monitor()
    incident = RollbackIncident.objects.get(rule__code="failed-per-hour")
    page = admin_client.get(reverse("admin:policy_rollbackincident_change", args=[incident.pk])).content.decode()
    for attempt in [a for a in failed if a.outcome == "FAILED_RETRYABLE"]:
        assert reverse("admin:inquiries_inquiry_change", args=[attempt.inquiry_id]) in page
        assert reverse("admin:inquiries_sendattempt_change", args=[attempt.pk]) in page
