"""When the first answer was accepted, on every path that answers an inquiry, against the sandbox's clock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from inquiries.ingest import poll_account
from inquiries.models import Inquiry, SendAttempt
from markets.connect import client_for
from policy.sending import reconcile, send_due, send_inquiry

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _ledger_at(live, inquiry) -> dt.datetime:
    (answer,) = live.answers(inquiry)
    return dt.datetime.fromisoformat(answer.at)


def test_sent__stamped_when_the_marketplace_accepted_it(live):
    rows = [live.inquiry(), live.inquiry(live.naver)]
    send_due()
    for inquiry in rows:
        inquiry.refresh_from_db()
        accepted = _ledger_at(live, inquiry)
        assert inquiry.send_status == "SENT"
        # our clock notes it once the response arrived: right after the sandbox applied it
        assert accepted <= inquiry.first_answered_at <= accepted + dt.timedelta(seconds=2)
        assert inquiry.first_answered_at == inquiry.sent_at


def test_single_send__stamped(live):
    inquiry = live.inquiry()
    assert send_inquiry(inquiry.pk).result == "SENT"
    inquiry.refresh_from_db()
    assert inquiry.first_answered_at is not None
    assert abs(inquiry.first_answered_at - _ledger_at(live, inquiry)) < dt.timedelta(seconds=2)


def test_unknown_outcome_settled_by_reconciliation__stamped_at_the_attempt_not_at_the_lookup(live):
    inquiry = live.inquiry()
    live.sandbox.store.set_faults(scope="answers", lost_response="drop")
    assert send_inquiry(inquiry.pk).result == "SEND_UNKNOWN"
    inquiry.refresh_from_db()
    assert inquiry.first_answered_at is None  # not known to be answered yet
    live.sandbox.store.set_faults(lost_response="")
    before_lookup = timezone.now()
    assert [r.result for r in reconcile(stale_after=0, include_waiting=True)] == ["SENT"]
    inquiry.refresh_from_db()
    attempt = SendAttempt.objects.get(inquiry=inquiry)
    assert inquiry.first_answered_at == attempt.started_at
    assert inquiry.first_answered_at <= _ledger_at(live, inquiry) < before_lookup


def test_answered_elsewhere__stamped_when_a_poll_first_saw_it(live):
    store = live.sandbox.store
    external_id = store.add_inquiry("COUPANG_ONLINE", owner=live.coupang.vendor_id, days_back=0.1)
    client = client_for(live.coupang)
    poll_account(live.coupang, client=client)
    inquiry = Inquiry.objects.get(external_id=external_id, kind="COUPANG_ONLINE")
    assert inquiry.status == "NEW" and inquiry.first_answered_at is None

    store.mark_answered_elsewhere("COUPANG_ONLINE", external_id)
    before = timezone.now()
    poll_account(live.coupang, client=client)
    inquiry.refresh_from_db()
    assert inquiry.status == "ANSWERED_ELSEWHERE"
    assert before <= inquiry.first_answered_at <= timezone.now()

    # one that was already answered when we first saw it: answered as of that poll
    answered_id = store.add_inquiry("COUPANG_ONLINE", owner=live.coupang.vendor_id, days_back=0.1, answered=True)
    before = timezone.now()
    poll_account(live.coupang, client=client)
    row = Inquiry.objects.get(external_id=answered_id, kind="COUPANG_ONLINE")
    assert row.status == "ANSWERED_ELSEWHERE" and before <= row.first_answered_at <= timezone.now()
