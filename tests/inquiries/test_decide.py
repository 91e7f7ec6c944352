"""process_inquiries: the agent proposes, the policy decides, the trace and the events are recorded."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from inquiries.models import Inquiry
from policy.controls import load_account_controls
from policy.decide import decide_new, decide_one
from policy.models import Mode
from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update
from tests.factories import make_account, make_inquiry, make_shipping_policy

pytestmark = pytest.mark.django_db

# A routine shipping question the account's shipping policy answers (no order named).
SHIPPING = "오늘 주문하면 언제 받을 수 있을까요?"
RISKY = "답변 안 주시면 소비자원에 신고하겠습니다. 배송 언제 와요?"
REFUND = "무통장입금으로 결제했는데 환불은 어디로 받아요?"


@pytest.fixture
def live_account():
    account = make_account("coupang_main")
    make_shipping_policy(account)
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(1), actor=SYSTEM)
    return account


def test_shadow__auto_send_is_a_candidate_for_a_person(django_capture_on_commit_callbacks):
    account = make_account("coupang_main")
    make_shipping_policy(account)
    inquiry = make_inquiry(account, content=SHIPPING)
    with django_capture_on_commit_callbacks() as callbacks:
        summary = decide_new()
    inquiry.refresh_from_db()
    assert summary.shadow_candidates == 1 and summary.auto_send == 0
    assert inquiry.status == "AUTO_SEND" and inquiry.decision_mode == "SHADOW"
    assert inquiry.draft_answer and inquiry.final_answer == ""
    assert Inquiry.objects.needing_review().filter(pk=inquiry.pk).exists()
    assert not Inquiry.objects.due_for_send().filter(pk=inquiry.pk).exists()
    assert callbacks == []  # nothing queued for sending


def test_live__auto_send_queued_with_full_trace(live_account, django_capture_on_commit_callbacks):
    inquiry = make_inquiry(live_account, content=SHIPPING)
    with django_capture_on_commit_callbacks() as callbacks:
        decide_new()
    inquiry.refresh_from_db()
    assert inquiry.status == "AUTO_SEND" and inquiry.decision_mode == "LIVE"
    assert inquiry.intent == "배송문의" and inquiry.confidence_score >= 0.9
    assert inquiry.final_answer == inquiry.draft_answer != ""
    gates = [g["gate"] for g in inquiry.decision_trace["policy"]["gates"]]
    assert gates[0] == "switch_and_mode" and gates[-1] == "answer_checks"
    assert "trace" in inquiry.decision_trace["agent"]
    assert len(callbacks) == 1
    assert list(inquiry.events.values_list("type", flat=True)) == ["DECIDED"]


def test_risk_and_intent_outside_phase__human_review(live_account):
    risky = make_inquiry(live_account, content=RISKY)
    refund = make_inquiry(live_account, content=REFUND)
    decide_new()
    risky.refresh_from_db()
    refund.refresh_from_db()
    assert risky.status == "HUMAN_REVIEW" and risky.risk_hits and risky.decision_reason.startswith("위험 키워드 발견: ")
    assert refund.status == "HUMAN_REVIEW" and refund.decision_reason.startswith(
        "의도 '환불'은(는) 허용 목록에 없습니다"
    )


def test_outside_hours__deferred_to_the_opening(live_account):
    settings_update(actor=SYSTEM, hours="mon-fri 09:00-18:00")
    import datetime as dt

    from policy.hours import SEOUL

    saturday = dt.datetime(2026, 11, 28, 11, tzinfo=SEOUL)
    inquiry = make_inquiry(live_account, content=SHIPPING)
    decide_one(inquiry, controls=load_account_controls(live_account), now=saturday, used=0)
    inquiry.refresh_from_db()
    assert inquiry.status == "AUTO_SEND"
    assert inquiry.next_attempt_at == dt.datetime(2026, 11, 30, 9, tzinfo=SEOUL)
    assert inquiry.events.filter(type="DEFERRED").exists()


def test_decided_once__a_second_processor_finds_nothing(live_account):
    inquiry = make_inquiry(live_account, content=SHIPPING)
    controls = load_account_controls(live_account)
    assert decide_one(inquiry, controls=controls, used=0) is not None
    assert decide_one(inquiry, controls=controls, used=0) is None
    assert inquiry.events.filter(type="DECIDED").count() == 1


def test_quota_counts_within_a_batch(live_account):
    from policy.models import AccountRollout

    AccountRollout.objects.filter(account=live_account).update(quota_override=2)
    for _ in range(4):
        make_inquiry(live_account, content=SHIPPING)
    summary = decide_new()
    assert summary.auto_send == 2 and summary.by_reason.get("QUOTA_EXHAUSTED") == 2


def test_command__prints_summary(live_account):
    make_inquiry(live_account, content=SHIPPING)
    make_inquiry(live_account, content=RISKY)
    out = io.StringIO()
    call_command("process_inquiries", "--limit", "10", stdout=out)
    assert "판정 2건" in out.getvalue()
    assert re.search(r"위험 키워드\s+RISK_KEYWORD\s+1$", out.getvalue(), flags=re.M), out.getvalue()


def _hook_prepare(monkeypatch, target_pk, action):
    """Run ``action(decision)`` right after the agent and the policy decided ``target_pk``, before the write."""
    import policy.decide as decide

    prepare = decide._prepare

    def prepare_then_act(inquiry, **kwargs):
        decision = prepare(inquiry, **kwargs)
        if inquiry.pk == target_pk:
            action(decision)
        return decision

    monkeypatch.setattr(decide, "_prepare", prepare_then_act)


def test_batch_refused__the_other_rows_are_written_one_at_a_time(live_account, monkeypatch):
    inquiries = [make_inquiry(live_account, content=SHIPPING) for _ in range(4)]
    bad = inquiries[1]

    def out_of_range(decision):
        decision.fields["confidence_score"] = 5.0  # the table's check constraint refuses it

    _hook_prepare(monkeypatch, bad.pk, out_of_range)
    summary = decide_new()
    assert summary.decided == 3 and summary.errors == 1
    bad.refresh_from_db()
    assert bad.status == "NEW" and not bad.events.filter(type="DECIDED").exists()
    for inquiry in inquiries:
        if inquiry.pk != bad.pk:
            inquiry.refresh_from_db()
            assert inquiry.status == "AUTO_SEND" and inquiry.events.filter(type="DECIDED").count() == 1


def test_row_left_new_after_the_read__not_overwritten(live_account, monkeypatch):
    inquiries = [make_inquiry(live_account, content=SHIPPING) for _ in range(3)]
    taken = inquiries[0]

    def answered_meanwhile(_decision):
        Inquiry.objects.filter(pk=taken.pk).update(status="ANSWERED_ELSEWHERE", external_answer="판매자센터에서 답변")

    _hook_prepare(monkeypatch, taken.pk, answered_meanwhile)
    summary = decide_new()
    assert summary.decided == 2 and summary.errors == 0
    taken.refresh_from_db()
    assert taken.status == "ANSWERED_ELSEWHERE" and taken.draft_answer == "" and taken.decided_at is None
    assert not taken.events.filter(type="DECIDED").exists()
    assert Inquiry.objects.filter(status="AUTO_SEND").count() == 2


def test_send_sweep__queued_once_per_batch_with_a_sendable_decision(live_account, django_capture_on_commit_callbacks):
    for content in (SHIPPING, SHIPPING, SHIPPING, SHIPPING, RISKY, RISKY):
        make_inquiry(live_account, content=content)
    with django_capture_on_commit_callbacks() as callbacks:
        summary = decide_new(batch_size=2)  # batches: 2 sendable, 2 sendable, 2 risky (nothing to send)
    assert summary.auto_send == 4 and summary.human_review == 2
    assert len(callbacks) == 2


def test_quota_counts_across_batches_of_a_run(live_account):
    from policy.models import AccountRollout

    AccountRollout.objects.filter(account=live_account).update(quota_override=3)
    for _ in range(5):
        make_inquiry(live_account, content=SHIPPING)
    summary = decide_new(batch_size=2)
    assert summary.auto_send == 3 and summary.by_reason.get("QUOTA_EXHAUSTED") == 2
