"""The guide's five production-ready tests (phase 1.1), by name, against the sandbox on loopback."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from inquiries.models import Inquiry, SendAttempt
from policy.sending import claim, next_attempt_number, send_due, send_inquiry
from policy.services import SYSTEM, settings_update


@pytest.mark.django_db
def test_1_idempotency_sending_lock(live):
    """Test 1: Idempotency - SENDING Lock. The claim is taken once; a second claim finds nothing to take."""
    inquiry = live.inquiry()
    first, _row, _controls = claim(inquiry.pk)
    assert first is not None
    inquiry.refresh_from_db()
    assert inquiry.send_status == "SENDING" and inquiry.claim_token == first.token and inquiry.lease_expires_at
    second, _row, _controls = claim(inquiry.pk)
    assert second is None
    assert send_inquiry(inquiry.pk).result == "NOT_CLAIMED"  # a redelivered task sends nothing
    assert live.answers(inquiry) == []
    assert SendAttempt.objects.filter(inquiry=inquiry).count() == 1


@pytest.mark.django_db
def test_1b_idempotency__sent_inquiry_is_never_sent_again(live):
    inquiry = live.inquiry()
    assert send_inquiry(inquiry.pk).result == "SENT"
    assert send_inquiry(inquiry.pk).result == "NOT_CLAIMED"
    assert len(live.answers(inquiry)) == 1


@pytest.mark.django_db
def test_1c_one_inquiry_send_takes_that_row_only(live):
    """One inquiry's send is the sweep's path for a batch of one: the other due rows stay for the sweep."""
    first, other = live.inquiry(), live.inquiry()
    assert send_inquiry(other.pk).result == "SENT"
    first.refresh_from_db()
    assert (first.send_status, first.send_attempts) == ("NOT_SENT", 0) and live.answers(first) == []
    assert len(live.answers(other)) == 1
    assert [r.inquiry_id for r in send_due()] == [first.pk]


@pytest.mark.postgres
@pytest.mark.django_db
def test_2_send_attempts_none_safe(live):
    """Test 2: Send Attempts None-Safe. A legacy row holding NULL is claimed as attempt 1."""
    assert next_attempt_number(None) == 1 and next_attempt_number(2) == 3
    inquiry = live.inquiry()
    with connection.cursor() as cur:  # a legacy schema without the NOT NULL (rolled back with the test)
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush pending FK checks before the DDL
        cur.execute("ALTER TABLE market_inquiry_raw ALTER COLUMN send_attempts DROP NOT NULL")
        cur.execute("UPDATE market_inquiry_raw SET send_attempts = NULL WHERE id = %s", [inquiry.pk])
    claimed, _row, _c = claim(inquiry.pk)
    assert claimed is not None and claimed.attempt_no == 1
    inquiry.refresh_from_db()
    assert inquiry.send_attempts == 1


def test_3_finalize_return_schema_consistency():
    """Test 3: Finalize Return Schema Consistency — the agent returns one schema on every path."""
    from inquiries.agent.pipeline import run_agent
    from inquiries.agent.seed_data import INTENT_PATTERNS, RISK_KEYWORDS, STARTER_KNOWLEDGE_BASE  # noqa: F401
    from tests.inquiries.agent_context import policy_facts, seed_context

    context = seed_context()
    answerable = run_agent(content="배송 언제 되나요? 오늘 주문하면요", context=context, facts=policy_facts())
    human = run_agent(content="답변 안 주면 소비자원에 신고하겠습니다", context=context)
    error = run_agent(content="\x00" * 10, context=context)
    assert not answerable.needs_human and human.needs_human
    keys = set(answerable.as_trace())
    assert set(human.as_trace()) == keys == set(error.as_trace())
    for result in (answerable, human, error):
        assert isinstance(result.confidence, float) and 0.0 <= result.confidence <= 1.0
        assert isinstance(result.risk_hits, list) and isinstance(result.draft, str)
        assert isinstance(result.reason, str) and isinstance(result.needs_human, bool)


@pytest.mark.django_db
def test_4_business_hours_gate(live):
    """Test 4: Business Hours Gate — outside hours an AUTO_SEND is deferred to the next opening, not dropped."""
    settings_update(actor=SYSTEM, hours="mon-fri 09:00-18:00")
    opening = timezone.now() + dt.timedelta(hours=3)
    inquiry = live.inquiry(next_attempt_at=opening)
    assert send_due() == []  # not due before the opening
    assert live.answers(inquiry) == []
    # A send claimed outside hours (a race with a settings change) is released, not dropped or sent.
    Inquiry.objects.filter(pk=inquiry.pk).update(next_attempt_at=None)
    now = timezone.localtime()
    closed_all_week = "mon-sun 00:00-00:01" if now.hour or now.minute > 1 else "mon-sun 23:58-23:59"
    settings_update(actor=SYSTEM, hours=closed_all_week)
    report = send_inquiry(inquiry.pk)
    assert report.result == "DEFERRED"
    inquiry.refresh_from_db()
    assert inquiry.send_status == "NOT_SENT" and inquiry.send_attempts == 0 and inquiry.next_attempt_at > timezone.now()
    assert inquiry.status == "AUTO_SEND" and live.answers(inquiry) == []
    # When the hours open, it goes.
    settings_update(actor=SYSTEM, hours="always")
    Inquiry.objects.filter(pk=inquiry.pk).update(next_attempt_at=timezone.now())
    assert [r.result for r in send_due()] == ["SENT"]
    assert len(live.answers(inquiry)) == 1


@pytest.mark.django_db
def test_5_send_failure_and_retry_state(live):
    """Test 5: Send Failure & Retry State — a definite failure is SEND_FAILED with back-off and retried;
    after the maximum attempts the inquiry goes to a person."""
    inquiry = live.inquiry()
    live.sandbox.store.set_faults(scope="answers", burst_429=1)
    report = send_inquiry(inquiry.pk)
    inquiry.refresh_from_db()
    assert report.result == "SEND_FAILED" and inquiry.send_status == "SEND_FAILED"
    assert inquiry.next_attempt_at > timezone.now() and "RATE_LIMITED" in inquiry.last_send_error
    assert inquiry.send_attempts == 0  # rate limiting is pacing, not the answer's attempt
    assert send_due() == []  # backing off
    Inquiry.objects.filter(pk=inquiry.pk).update(next_attempt_at=timezone.now())
    assert send_inquiry(inquiry.pk).result == "SENT"
    assert len(live.answers(inquiry)) == 1

    # Definite failures until the attempts run out: a person takes over, nothing was sent.
    other = live.inquiry()
    live.sandbox.store.set_faults(scope="answers", down=True)
    live.sandbox.store.set_faults(down=False)
    stopped = live.inquiry()
    live.sandbox.stop()  # connection refused: definitely not delivered
    for _ in range(3):
        Inquiry.objects.filter(pk=stopped.pk).update(next_attempt_at=None)
        send_inquiry(stopped.pk)
    stopped.refresh_from_db()
    assert stopped.send_status == "SEND_FAILED" and stopped.status == "HUMAN_REVIEW" and stopped.send_attempts == 3
    assert Inquiry.objects.needing_review().filter(pk=stopped.pk).exists()
    assert other.send_status == "NOT_SENT"
