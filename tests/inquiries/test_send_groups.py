"""A send sweep's groups (PostgreSQL): one gate check and one lease renewal per group, the calls in
parallel, the delivered rows written together — each row still fenced by its own claim token."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from inquiries.models import Inquiry, InquiryEvent, SendAttempt
from markets.connect import clear_client_cache
from policy.models import AccountRollout
from policy.sending import _send_group, _SweepSettings, claim_batch, reconcile, send_due

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _wide(settings):
    settings.CS_SEND_CONCURRENCY = 16


def test_group_sends_each_row_once_and_records_every_delivery(live):
    rows = [live.inquiry() for _ in range(3)] + [live.inquiry(live.naver) for _ in range(3)]
    AccountRollout.objects.filter(account=live.coupang).update(consecutive_failures=2)
    reports = send_due()
    assert sorted(r.result for r in reports) == ["SENT"] * 6
    for row in rows:
        row.refresh_from_db()
        assert (row.send_status, row.send_attempts, row.claim_token is not None) == ("SENT", 1, True)
        assert row.sent_at is not None and row.lease_expires_at is None and row.final_answer
        assert len(live.answers(row)) == 1
        assert list(SendAttempt.objects.filter(inquiry=row).values_list("outcome", "http_status")) == [
            ("DELIVERED", 200)
        ]
        sent = InquiryEvent.objects.get(inquiry=row, type="SENT")
        assert (sent.actor_label, sent.from_send_status, sent.to_send_status) == ("system:worker", "SENDING", "SENT")
        assert sent.data == {"attempt": 1, "http_status": 200}
        claimed = InquiryEvent.objects.get(inquiry=row, type="CLAIMED")
        assert (claimed.actor_label, claimed.to_send_status) == ("system:worker", "SENDING")
        assert claimed.data == {"attempt": 1, "claim": str(row.claim_token), "mode": "LIVE"}
        attempt = SendAttempt.objects.get(inquiry=row)
        assert (attempt.claim_token, attempt.attempt_no, attempt.account_id, attempt.is_test_mode) == (
            row.claim_token,
            1,
            row.account_id,
            False,
        )
        assert attempt.started_at <= attempt.finished_at and attempt.error == ""
    # a delivery ends the account's failure streak, as on the single-row path
    assert AccountRollout.objects.get(account=live.coupang).consecutive_failures == 0


def test_account_in_test_mode__claimed_as_test_and_never_sent(live):
    from policy.models import Mode
    from policy.services import SYSTEM, get_phase, rollout_unlock

    rollout_unlock(account=live.naver, mode=Mode.TEST, phase=get_phase(3), actor=SYSTEM, reason="test: watch first")
    live_row, test_row = live.inquiry(), live.inquiry(live.naver)
    reports = {r.inquiry_id: r.result for r in send_due()}
    assert reports == {live_row.pk: "SENT", test_row.pk: "TEST_MODE"}
    assert live.answers(test_row) == [] and len(live.answers(live_row)) == 1
    attempt = SendAttempt.objects.get(inquiry=test_row)
    assert (attempt.is_test_mode, attempt.outcome) == (True, "TEST_MODE")
    assert InquiryEvent.objects.get(inquiry=test_row, type="CLAIMED").data["mode"] == "TEST"
    test_row.refresh_from_db()
    assert (test_row.send_status, test_row.is_test_mode) == ("SEND_FAILED", True)


def test_mixed_outcomes_in_one_group__each_row_gets_its_own(live):
    rows = [live.inquiry() for _ in range(4)]
    live.sandbox.store.set_faults(scope="answers", burst_429=1)  # one of the calls is refused
    reports = {r.inquiry_id: r.result for r in send_due()}
    assert sorted(reports.values()) == ["SEND_FAILED", "SENT", "SENT", "SENT"]
    refused = next(pk for pk, result in reports.items() if result == "SEND_FAILED")
    row = Inquiry.objects.get(pk=refused)
    # a 429 is ours to pace: not delivered, the attempt given back, a later retry scheduled
    assert (row.send_status, row.send_attempts) == ("SEND_FAILED", 0)
    assert row.next_attempt_at is not None and "RATE_LIMITED" in row.last_send_error
    assert live.answers(row) == []
    assert sorted(SendAttempt.objects.values_list("outcome", flat=True)) == ["DELIVERED"] * 3 + ["RATE_LIMITED"]
    assert InquiryEvent.objects.filter(type="SENT").count() == 3
    assert len(live.answers()) == 3 and {str(a.external_id) for a in live.answers()} == {
        r.external_id for r in rows if r.pk != refused
    }


def test_lease_run_out_before_the_calls__that_row_is_not_sent(live):
    rows = [live.inquiry() for _ in range(3)]
    current = _SweepSettings()
    claimed, exhausted = claim_batch(current, per_account=3)
    assert exhausted == [] and len(claimed) == 3
    late = rows[1]
    Inquiry.objects.filter(pk=late.pk).update(lease_expires_at="2000-01-01T00:00:00Z")  # as if the worker stalled
    reports = {r.inquiry_id: r.result for r in _send_group(claimed, current, None, [])}
    assert reports == {rows[0].pk: "SENT", late.pk: "FENCED", rows[2].pk: "SENT"}
    assert live.answers(late) == []  # the reconciler may already be asking the marketplace about it
    late.refresh_from_db()
    assert late.send_status == "SENDING"
    # the reconciler settles it: the lease ran out long ago and the marketplace has no answer
    assert [r.result for r in reconcile(stale_after=0)] == ["SEND_FAILED"]
    late.refresh_from_db()
    assert late.send_status == "SEND_FAILED" and late.next_attempt_at is not None  # retried after a back-off


def test_row_taken_over_while_its_call_runs__the_late_delivery_does_not_overwrite(live, settings):
    settings.CS_MARKET_READ_TIMEOUT = 10.0  # the held answer must come back as a 200, not a timeout
    clear_client_cache()
    row = live.inquiry()
    live.sandbox.store.set_faults(scope="answers", hold_answers="after_apply")
    result: dict = {}

    def sweep():
        try:
            result["reports"] = send_due()
        finally:
            connections.close_all()

    worker = threading.Thread(target=sweep)
    worker.start()
    deadline = time.monotonic() + 10
    while live.sandbox.store.held < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.sandbox.store.held == 1, "the sweep never reached the marketplace"
    # the reconciler takes the row over (new token) and finds our answer on the marketplace
    assert [r.result for r in reconcile(stale_after=0)] == ["SENT"]
    live.sandbox.store.set_faults(hold_answers="")
    live.sandbox.store.release()
    worker.join(15)
    assert not worker.is_alive()
    assert [(r.inquiry_id, r.result) for r in result["reports"]] == [(row.pk, "FENCED")]
    row.refresh_from_db()
    assert row.send_status == "SENT" and len(live.answers(row)) == 1
    assert not InquiryEvent.objects.filter(inquiry=row, type="SENT").exists()  # the stale worker wrote nothing
    assert list(SendAttempt.objects.filter(inquiry=row).values_list("outcome", flat=True)) == ["DELIVERED"]


def test_account_deactivated_after_the_claim__none_of_its_rows_is_sent(live):
    from markets.models import MarketAccount

    rows = [live.inquiry() for _ in range(3)]
    current = _SweepSettings()
    claimed, _exhausted = claim_batch(current, per_account=3)
    assert len(claimed) == 3
    MarketAccount.objects.filter(pk=live.coupang.pk).update(is_active=False)
    reports = {r.inquiry_id: r.result for r in _send_group(claimed, current, None, [])}
    assert reports == {row.pk: "BLOCKED" for row in rows}
    assert live.answers() == []
    assert set(Inquiry.objects.values_list("status", flat=True)) == {"HUMAN_REVIEW"}


def test_rate_limiter_store_down__nothing_sent_and_no_failure_counted(live):
    from django.db import OperationalError

    from markets.connect import client_for

    class StoreDown:
        def acquire(self, key, rate, burst, timeout):
            raise OperationalError("connection to the limiter's store failed")

        def penalize(self, key, seconds):
            pass

    rows = [live.inquiry(), live.inquiry(live.naver)]
    reports = send_due(client_factory=lambda account: client_for(account, limiter=StoreDown()))
    assert sorted(r.result for r in reports) == ["SEND_FAILED", "SEND_FAILED"]
    assert live.answers() == []
    for row in rows:
        row.refresh_from_db()
        # not sent, so not an attempt and not a marketplace failure: retried after a pause
        assert (row.send_status, row.send_attempts, row.status) == ("SEND_FAILED", 0, "AUTO_SEND")
        assert row.next_attempt_at is not None and "rate limiter unavailable" in row.last_send_error
        assert list(SendAttempt.objects.filter(inquiry=row).values_list("outcome", flat=True)) == ["RATE_LIMITED"]
    assert set(AccountRollout.objects.values_list("consecutive_failures", flat=True)) == {0}
