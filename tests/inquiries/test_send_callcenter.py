"""Coupang call-center inquiries on the send path, over real HTTP to the sandbox: a reply Coupang refuses
because the inquiry no longer awaits the seller ("The inquiry can't be answer…") is settled by looking
the inquiry up, exactly once — ours → SENT, someone else's → ANSWERED_ELSEWHERE — never sent again and
never a failure; a TRANSFER (finished by Coupang's call centre, only to be confirmed) is never answered."""

from __future__ import annotations

from inquiries.ingest import poll_account
from inquiries.models import Inquiry, InquiryEvent, SendAttempt
from markets.connect import client_for
from policy.models import AccountRollout
from policy.sending import reconcile, send_due

KIND = "COUPANG_CALLCENTER"
NOT_AWAITING = "The inquiry can't be answer. It can do only inquiryStatus:progress, partnerTransferStatus:requestAnswer"
WING_ANSWER = "고객님, WING에서 먼저 답변드렸습니다. 교환 접수해 두었습니다."


def _posts(live) -> int:
    return live.sandbox.store.stats()["answer_requests_by_kind"].get(KIND, 0)


def _lookups(live) -> int:
    return live.sandbox.store.stats()["by_route"].get("coupang.callcenter.get", 0)


def _nothing_more_goes_out(live, row: Inquiry) -> None:
    posts = _posts(live)
    assert send_due() == [] and reconcile(include_waiting=True) == []
    assert _posts(live) == posts
    assert SendAttempt.objects.filter(inquiry=row).count() == 1
    assert AccountRollout.objects.get(account=row.account).consecutive_failures == 0


def test_answered_in_wing__settled_answered_elsewhere_once(live):
    row = live.inquiry(kind=KIND)
    live.sandbox.store.mark_answered_elsewhere(KIND, row.external_id, WING_ANSWER)

    assert [r.result for r in send_due()] == ["ANSWERED_ELSEWHERE"]

    row.refresh_from_db()
    assert (row.status, row.send_status, row.external_answer) == ("ANSWERED_ELSEWHERE", "NOT_SENT", WING_ANSWER)
    attempt = SendAttempt.objects.get(inquiry=row)
    assert (attempt.outcome, attempt.http_status) == ("ALREADY_ANSWERED", 400)
    assert (_posts(live), _lookups(live)) == (1, 1)  # one refused reply, one look-up
    assert live.answers(row) == []  # nothing of ours was applied
    assert InquiryEvent.objects.filter(inquiry=row, type="ANSWERED_ELSEWHERE").count() == 1
    assert not InquiryEvent.objects.filter(inquiry=row, type__in=["SEND_FAILED", "ESCALATED"]).exists()
    _nothing_more_goes_out(live, row)


def test_already_has_our_answer__settled_sent_once(live):
    row = live.inquiry(kind=KIND)
    # An earlier attempt reached Coupang, but its outcome was never recorded.
    assert client_for(live.coupang).post_answer(KIND, row.external_id, row.final_answer, row.reply_context).ok

    assert [r.result for r in send_due()] == ["SENT"]

    row.refresh_from_db()
    assert (row.status, row.send_status, row.last_send_error) == ("AUTO_SEND", "SENT", "")
    assert SendAttempt.objects.get(inquiry=row).outcome == "ALREADY_ANSWERED"
    assert [a.text for a in live.answers(row)] == [row.final_answer]  # delivered exactly once
    assert _posts(live) == 2  # the earlier one and the refused one; never another
    assert InquiryEvent.objects.filter(inquiry=row, type="RECONCILED", to_send_status="SENT").count() == 1
    _nothing_more_goes_out(live, row)


def test_refusal_text_is_the_documented_one(live):
    row = live.inquiry(kind=KIND)
    live.sandbox.store.mark_answered_elsewhere(KIND, row.external_id, WING_ANSWER)
    result = client_for(live.coupang).post_answer(KIND, row.external_id, row.final_answer, row.reply_context)
    assert result.http_status == 400 and NOT_AWAITING in result.error


def test_transfer__ingested_as_answered_by_coupang_and_never_answered(live):
    store = live.sandbox.store
    transfer = store.add_inquiry(KIND, owner=live.coupang.vendor_id, days_back=0.5, transfer=True)
    waiting = store.add_inquiry(KIND, owner=live.coupang.vendor_id, days_back=0.5)

    summary = poll_account(live.coupang, client=client_for(live.coupang))

    assert not summary.errors
    stored = {r.external_id: r for r in Inquiry.objects.filter(kind=KIND)}
    assert stored[waiting].status == "NEW"
    assert (stored[transfer].status, stored[transfer].external_answer) == ("ANSWERED_ELSEWHERE", "")
    assert stored[transfer].reply_context["partnerTransferStatus"] == "transfer"
    assert send_due() == [] and _posts(live) == 0
