"""Fresh at send time: right before the marketplace call, an answer stating an order's state is checked
against the order mirror; an order that changed since the draft is never answered with the old state."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from inquiries.models import Inquiry, InquiryEvent
from markets.clients.orders import order_fingerprint
from markets.models import MarketOrder
from policy.decide import decide_new
from policy.sending import send_due

ANSWER = "안녕하세요, 고객님. 주문하신 상품은 CJ대한통운으로 배송 중이며 운송장 번호는 684012345678입니다."


def mirror(account, line_id: str, status: str, **changes) -> MarketOrder:
    values = dict(
        account=account,
        market_code=account.market_code,
        order_id="31000012345678",
        line_id=line_id,
        status=status,
        raw_status={"IN_TRANSIT": "DELIVERING", "CANCELLED": "ACCEPT"}.get(status, status),
        carrier_code="CJGLS",
        carrier_name="CJ대한통운",
        tracking_number="684012345678",
        shipped_at=timezone.now() - dt.timedelta(days=1),
        last_movement_at=timezone.now() - dt.timedelta(hours=5),
        product_ids=["85012345002"],
        product_name="스테인리스 진공 텀블러 500ml",
        synced_at=timezone.now(),
    )
    values.update(changes)
    row = MarketOrder(**values)
    row.fingerprint = order_fingerprint(
        row.status,
        row.raw_status,
        row.claim_type,
        row.claim_status,
        row.delivery_issue,
        row.carrier_code,
        row.tracking_number,
        row.delivered_at,
        row.expected_dispatch_date,
    )
    row.save()
    return row


def change(row: MarketOrder, **fields) -> None:
    """What a later order sync does: new facts, a new fingerprint."""
    for name, value in fields.items():
        setattr(row, name, value)
    row.fingerprint = order_fingerprint(
        row.status,
        row.raw_status,
        row.claim_type,
        row.claim_status,
        row.delivery_issue,
        row.carrier_code,
        row.tracking_number,
        row.delivered_at,
        row.expected_dispatch_date,
    )
    row.save()


def grounded(live, line: MarketOrder, **fields) -> Inquiry:
    return live.inquiry(
        answer=ANSWER,
        order_fingerprint=f"{line.line_id}:{line.fingerprint}",
        order_id=line.order_id,
        order_refs={"order_ids": [line.order_id]},
        **fields,
    )


def test_order_unchanged__sent(live):
    line = mirror(live.coupang, "900000000000000001", "IN_TRANSIT")
    row = grounded(live, line)
    assert [r.result for r in send_due()] == ["SENT"]
    assert len(live.answers(row)) == 1


def test_order_cancelled_after_the_draft__not_sent_and_drafted_again(live):
    line = mirror(live.coupang, "900000000000000002", "IN_TRANSIT")
    row = grounded(live, line)
    Inquiry.objects.filter(pk=row.pk).update(content="주문한 텀블러 배송 언제 와요?")
    change(line, status="CANCELLED", claim_type="CANCEL", claim_status="CANCEL_DONE")
    reports = send_due()
    assert [(r.result, r.detail) for r in reports] == [
        ("BLOCKED", "order changed since the draft (900000000000000002)")
    ]
    assert live.answers(row) == []  # the marketplace never heard of the stale answer
    row.refresh_from_db()
    assert (row.status, row.send_status, row.send_attempts, row.claim_token) == ("NEW", "NOT_SENT", 0, None)
    blocked = InquiryEvent.objects.get(inquiry=row, type="BLOCKED")
    assert blocked.to_status == "NEW" and "drafting again" in blocked.message
    # The next decision is written from the order as it is now: cancelled, so a person answers.
    decide_new()
    row.refresh_from_db()
    assert row.status == "HUMAN_REVIEW" and row.decision_trace["agent"]["reason"] == "ORDER_NEEDS_PERSON"
    assert "취소된 상태" in row.draft_answer and row.order_fingerprint == ""
    assert [f["source"] for f in row.decision_trace["agent"]["facts"]] == ["order"]


def test_persons_answer_order_changed__back_to_the_person(live):
    line = mirror(live.coupang, "900000000000000003", "IN_TRANSIT")
    row = grounded(live, line, status="APPROVED")
    change(line, tracking_number="999999999999")
    assert [r.result for r in send_due()] == ["BLOCKED"]
    row.refresh_from_db()
    assert (row.status, row.send_status) == ("HUMAN_REVIEW", "NOT_SENT") and live.answers(row) == []
    assert "a person checks" in InquiryEvent.objects.get(inquiry=row, type="BLOCKED").message


def test_order_line_gone_from_the_mirror__treated_as_changed(live):
    line = mirror(live.coupang, "900000000000000004", "IN_TRANSIT")
    row = grounded(live, line)
    line.delete()
    assert [r.result for r in send_due()] == ["BLOCKED"] and live.answers(row) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_group_send__only_the_stale_row_is_held(live, settings):
    settings.CS_SEND_CONCURRENCY = 16
    fresh_line = mirror(live.coupang, "900000000000000005", "IN_TRANSIT")
    stale_line = mirror(live.naver, "2025090298765431", "IN_TRANSIT", order_id="2025090212345671")
    fresh = grounded(live, fresh_line)
    stale = live.inquiry(live.naver, answer=ANSWER, order_fingerprint=f"{stale_line.line_id}:{stale_line.fingerprint}")
    plain = live.inquiry()
    change(stale_line, status="DELIVERED", raw_status="DELIVERED", delivered_at=timezone.now())
    reports = {r.inquiry_id: r.result for r in send_due()}
    assert reports == {fresh.pk: "SENT", stale.pk: "BLOCKED", plain.pk: "SENT"}
    assert live.answers(stale) == [] and len(live.answers(fresh)) == 1 and len(live.answers(plain)) == 1
    assert Inquiry.objects.get(pk=stale.pk).status == "NEW"
