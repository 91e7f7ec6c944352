"""An emergency stop or test mode holds a person's approved answer back; it never uses it up. The answer
waits (not a test send, not back in the review queue) and goes out once, without a second approval,
when test mode is off again. Automatic answers keep the test-mode record."""

from __future__ import annotations

import io
import multiprocessing
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from inquiries.models import Inquiry, InquiryEvent, SendAttempt
from inquiries.review import inquiry_approve
from policy.controls import human_sends_held_q, load_account_controls
from policy.models import Mode
from policy.selectors import approved_answers_held
from policy.sending import _send_group, _SweepSettings, claim, send_due, send_inquiry
from policy.services import SYSTEM, emergency_stop, resume, rollout_lock, rollout_unlock, settings_update
from tests.factories import make_account


def approved(live, account=None, **fields) -> Inquiry:
    return live.inquiry(account, status="APPROVED", **fields)


def in_review_queue(row: Inquiry) -> bool:
    return Inquiry.objects.needing_review().filter(pk=row.pk).exists()


def test_global_test_mode__approved_answer_waits_then_sent_once(live):
    row = approved(live)
    settings_update(actor=SYSTEM, test_mode=True)
    assert send_due() == []  # not claimed at all: nothing recorded as a test send
    assert send_inquiry(row.pk).result == "NOT_CLAIMED"  # nor by the task queued at approval
    row.refresh_from_db()
    assert (row.status, row.send_status, row.is_test_mode, row.send_attempts) == ("APPROVED", "NOT_SENT", False, 0)
    assert not in_review_queue(row)
    assert approved_answers_held() == 1
    settings_update(actor=SYSTEM, test_mode=False)
    assert [r.result for r in send_due()] == ["SENT"]
    assert len(live.answers(row)) == 1
    assert approved_answers_held() == 0


def test_emergency_stop_and_resume__held_until_test_mode_off(live):
    row = approved(live)
    emergency_stop(reason="wrong answers", actor=SYSTEM)
    assert send_due() == []
    resume(actor=SYSTEM)
    assert send_due() == []  # test mode stays on after a resume: still waiting
    settings_update(actor=SYSTEM, test_mode=False)
    assert [r.result for r in send_due()] == ["SENT"]
    assert len(live.answers(row)) == 1 and not in_review_queue(row)


def test_account_test_mode__approved_answer_waits_until_the_account_leaves_it(live):
    row = approved(live)
    other = approved(live, live.naver)
    rollout_unlock(account=live.coupang, mode=Mode.TEST, phase=None, actor=SYSTEM)
    assert [(r.inquiry_id, r.result) for r in send_due()] == [(other.pk, "SENT")]
    row.refresh_from_db()
    assert (row.send_status, row.is_test_mode) == ("NOT_SENT", False) and not in_review_queue(row)
    rollout_unlock(account=live.coupang, mode=Mode.LIVE, phase=None, actor=SYSTEM)
    assert [r.result for r in send_due()] == ["SENT"]
    assert len(live.answers(row)) == 1


@override_settings(CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS="smartstore")
def test_env_allowed_accounts__others_approved_answers_wait(live):
    row = approved(live)
    listed = approved(live, live.naver)
    assert [(r.inquiry_id, r.result) for r in send_due()] == [(listed.pk, "SENT")]
    with override_settings(CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS=None):
        assert [(r.inquiry_id, r.result) for r in send_due()] == [(row.pk, "SENT")]


def test_automatic_answer_in_test_mode__still_a_test_send(live):
    auto = live.inquiry()
    settings_update(actor=SYSTEM, test_mode=True)
    assert [r.result for r in send_due()] == ["TEST_MODE"]
    auto.refresh_from_db()
    assert (auto.send_status, auto.is_test_mode) == ("SEND_FAILED", True) and in_review_queue(auto)
    settings_update(actor=SYSTEM, test_mode=False)
    assert send_due() == [] and live.answers() == []


def test_stop_between_claim_and_call__claim_given_back_and_answer_waits(live):
    row = approved(live)
    claim_, inquiry, _controls = claim(row.pk)
    assert claim_ is not None
    emergency_stop(reason="wrong answers", actor=SYSTEM)
    [report] = _send_group([(claim_, inquiry)], _SweepSettings(), None, [])
    assert report.result == "HELD"
    row.refresh_from_db()
    assert (row.status, row.send_status, row.send_attempts, row.is_test_mode) == ("APPROVED", "NOT_SENT", 0, False)
    assert list(SendAttempt.objects.filter(inquiry=row).values_list("outcome", flat=True)) == ["BLOCKED"]
    assert not in_review_queue(row) and live.answers() == []
    resume(actor=SYSTEM)
    settings_update(actor=SYSTEM, test_mode=False)
    assert [r.result for r in send_due()] == ["SENT"]
    assert len(live.answers(row)) == 1


@pytest.mark.parametrize(
    "setup",
    [
        "live",
        "test_mode",
        "stop",
        "account_test",
        "env_test",
        "env_list_other",
        "env_list_by_id",
        "shadow_account",
        "locked_account",
        "switch_off",
    ],
)
def test_held_condition__agrees_with_the_mode_a_person_answer_is_sent_in(db, setup):
    account = make_account("coupang_main")
    rollout_unlock(account=account, mode=Mode.LIVE, phase=None, actor=SYSTEM)
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False)
    env: dict = {}
    if setup == "test_mode":
        settings_update(actor=SYSTEM, test_mode=True)
    elif setup == "stop":
        emergency_stop(reason="x", actor=SYSTEM)
        settings_update(actor=SYSTEM, test_mode=False)  # the stop alone still holds
    elif setup == "account_test":
        rollout_unlock(account=account, mode=Mode.TEST, phase=None, actor=SYSTEM)
    elif setup == "env_test":
        env = {"CS_ENV_TEST_MODE": True}
    elif setup == "env_list_other":
        env = {"CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS": "coupang_sub"}
    elif setup == "env_list_by_id":
        env = {"CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS": f"coupang_sub,{account.id}"}
    elif setup == "shadow_account":
        rollout_unlock(account=account, mode=Mode.SHADOW, phase=None, actor=SYSTEM)
    elif setup == "locked_account":
        rollout_lock(account=account, reason="x", actor=SYSTEM)
    elif setup == "switch_off":
        settings_update(actor=SYSTEM, partial_auto=False)
    row = Inquiry.objects.create(
        account=account,
        market_code="COUPANG",
        kind="COUPANG_ONLINE",
        external_id="1",
        created_at=timezone.now(),
        content="?",
        status="APPROVED",
        final_answer="답변입니다.",
    )
    with override_settings(**env):
        expected = load_account_controls(account).send_mode("APPROVED") == Mode.TEST
        assert Inquiry.objects.filter(human_sends_held_q(), pk=row.pk).exists() is expected


def test_rollout_command__says_what_waits_and_what_is_sent_now(live):
    approved(live)
    approved(live, live.naver)
    out = io.StringIO()
    call_command("rollout", "emergency-stop", "--reason", "점검", stdout=out)
    assert "승인된 답변은 테스트 전송으로 소모되지 않고 전송 대기합니다" in out.getvalue()
    assert send_due() == []
    out = io.StringIO()
    call_command("rollout", "resume", "--reason", "점검 끝", stdout=out)
    assert "승인 답변 2건이 전송 대기 중입니다" in out.getvalue()
    out = io.StringIO()
    call_command("rollout", "status", stdout=out)
    assert "승인 답변 2건이 테스트 모드·긴급 정지가 끝나기를 기다리는 중" in out.getvalue()
    out = io.StringIO()
    call_command("rollout", "settings", "--test-mode", "off", "--reason", "재개", stdout=out)
    assert "대기하던 승인 답변 2건을 이제 전송합니다" in out.getvalue()
    assert sorted(r.result for r in send_due()) == ["SENT", "SENT"]


def test_admin_settings_page__turning_test_mode_off_says_how_many_are_sent(live, admin_client):
    from policy.models import AutomationSettings

    row = approved(live)
    settings_update(actor=SYSTEM, test_mode=True)
    assert send_due() == []
    conf = AutomationSettings.get_solo()
    form = {
        "partial_auto_enabled": "on",
        "auto_send_threshold": conf.auto_send_threshold,  # test_mode left unticked
        "observe_public_holidays": "on",
        "agent_backend": conf.agent_backend,
        "max_send_attempts": conf.max_send_attempts,
        "lease_seconds": conf.lease_seconds,
        "change_reason": "테스트 모드 종료",
        "confirm_risk": "on",
    }
    response = admin_client.post(f"/admin/policy/automationsettings/{conf.pk}/change/", form, follow=True)
    assert response.status_code == 200
    assert AutomationSettings.get_solo().test_mode is False
    assert "대기하던 승인 답변 1건을 이제 전송합니다" in response.content.decode()
    assert [r.result for r in send_due()] == ["SENT"] and len(live.answers(row)) == 1


# --------------------------------------------------------------------------------------------
# under load, PostgreSQL, real worker processes


def _sweeper(stop_flag, errors):
    try:
        while not stop_flag.is_set():
            send_due(limit=50)
            time.sleep(0.02)
    except Exception as exc:  # pragma: no cover - reported to the test
        errors.put(repr(exc))
    finally:
        connections.close_all()


def _approve_all(ids: list[int], user_id: int, spacing: float) -> None:
    try:
        user = get_user_model().objects.get(pk=user_id)
        for pk in ids:
            row = Inquiry.objects.get(pk=pk)
            inquiry_approve(inquiry=row, user=user, answer=row.draft_answer)
            time.sleep(spacing)
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_emergency_stop_under_load__every_approved_answer_delivered_once_never_approved_again(live):
    """Workers keep sweeping through a stop while approved answers come due (people approve, retries fall
    due) next to automatic ones; after resume and test mode off every approved answer reaches the
    marketplace exactly once and none went back to the review queue."""
    reviewer = get_user_model().objects.create_superuser("reviewer", "r@example.com", "x")
    accounts = (live.coupang, live.naver)
    # answers people approve during the stop, retries of approved answers that fall due during it, and
    # automatic answers (these become test-mode records, as in any test mode)
    to_approve = [live.inquiry(accounts[i % 2], status="HUMAN_REVIEW") for i in range(24)]
    retry_at = timezone.now() + timedelta(seconds=1.5)
    retries = [
        approved(live, accounts[i % 2], send_status="SEND_FAILED", send_attempts=1, next_attempt_at=retry_at)
        for i in range(12)
    ]
    automatic = [live.inquiry(accounts[i % 2]) for i in range(12)]
    live.sandbox.store.set_faults(latency_ms=5)

    emergency_stop(reason="wrong answers suspected", actor=SYSTEM)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    stop_flag, errors = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_sweeper, args=(stop_flag, errors)) for _ in range(3)]
    for p in workers:
        p.start()
    try:
        approver = threading.Thread(target=_approve_all, args=([r.pk for r in to_approve], reviewer.pk, 0.05))
        approver.start()
        approver.join(30)
        time.sleep(max(0.0, (retry_at - timezone.now()).total_seconds()) + 1.0)  # the retries fall due, workers sweep
        resume(actor=SYSTEM, reason="cause found")
        time.sleep(1.0)  # test mode is still on: the sweeps go on holding
        assert live.answers() == [], "a real send went out during the stop or before test mode was off"
        settings_update(actor=SYSTEM, test_mode=False, reason="sending again")
        wanted = to_approve + retries
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(live.answers()) < len(wanted):
            time.sleep(0.1)
        time.sleep(0.5)  # a late double answer would land now
    finally:
        stop_flag.set()
        for p in workers:
            p.join(30)
    assert all(p.exitcode == 0 for p in workers) and errors.empty()

    ledger = [(a.kind, str(a.external_id)) for a in live.answers()]
    assert len(ledger) == len(set(ledger)), "an inquiry was answered twice"
    assert sorted(ledger) == sorted((r.kind, r.external_id) for r in wanted)
    rows = Inquiry.objects.filter(pk__in=[r.pk for r in wanted])
    assert set(rows.values_list("status", "send_status", "is_test_mode")) == {("APPROVED", "SENT", False)}
    assert not Inquiry.objects.needing_review().filter(pk__in=[r.pk for r in wanted]).exists()
    assert not InquiryEvent.objects.filter(inquiry__in=rows, type=InquiryEvent.Type.TEST_MODE).exists()
    approvals = InquiryEvent.objects.filter(inquiry__in=[r.pk for r in to_approve], type=InquiryEvent.Type.APPROVED)
    assert approvals.count() == len(to_approve)  # approved once each, never again
    auto = Inquiry.objects.filter(pk__in=[r.pk for r in automatic])
    assert set(auto.values_list("send_status", "is_test_mode")) == {("SEND_FAILED", True)}
