"""The policy engine: every gate, their order, and the trace."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from policy.controls import load_account_controls, load_global
from policy.engine import evaluate
from policy.hours import SEOUL, Calendar
from policy.models import Mode
from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update
from tests.factories import make_account

pytestmark = pytest.mark.django_db

GATE_ORDER = [
    "switch_and_mode",
    "account",
    "risk_keywords",
    "intent_allowlist",
    "confidence",
    "business_hours",
    "daily_quota",
    "answer_checks",
]
OPEN = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SEOUL)  # a Wednesday morning
GOOD = {
    "intent": "배송문의",
    "confidence": 0.95,
    "draft": "안녕하세요 고객님, 오늘 출고됩니다.",
    "risk_hits": [],
    "needs_human": False,
    "reason": "OK",
}


@pytest.fixture
def controls():
    account = make_account("coupang_main")
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False)
    rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(1), actor=SYSTEM)
    return load_account_controls(account)


def run(controls, **changes):
    state = {**GOOD, "controls": controls, "now": OPEN, "quota_used": 0, **changes}
    return evaluate(state)


def test_all_gates_pass__auto_send_with_full_trace(controls):
    allowed, reason, details = run(controls)
    assert allowed and reason == "모든 게이트 통과"
    assert [g["gate"] for g in details["gates"]] == GATE_ORDER
    assert all(g["passed"] for g in details["gates"])
    assert details["final_score"] == 0.95 and details["mode"] == Mode.LIVE


def test_risk_keyword__human_review_whatever_else(controls):
    allowed, _reason, details = run(controls, risk_hits=[{"term": "소비자원", "category": "REGULATOR"}])
    assert not allowed and details["reason_code"] == "RISK_KEYWORD" and details["final_score"] == 0.0


def test_intent_outside_phase__refused_with_guide_message(controls):
    allowed, reason, details = run(controls, intent="환불")
    assert not allowed
    assert reason == "의도 '환불'은(는) 허용 목록에 없습니다 (1단계)"
    gate = next(g for g in details["gates"] if g["gate"] == "intent_allowlist")
    assert gate["detail"].startswith("환불 ∉ 허용: ") and "['" not in gate["detail"]
    assert details["reason_code"] == "INTENT_NOT_ALLOWED"


def test_confidence_below_threshold__refused(controls):
    allowed, reason, details = run(controls, confidence=0.89)
    assert not allowed and details["reason_code"] == "LOW_CONFIDENCE"
    assert reason == "신뢰도 0.89가 기준값 0.90보다 낮습니다"


def test_confidence_at_threshold__passes(controls):
    assert run(controls, confidence=0.90).allowed


def test_quota_used_up__refused(controls):
    allowed, _reason, details = run(controls, quota_used=10)
    assert not allowed and details["reason_code"] == "QUOTA_EXHAUSTED"
    assert run(controls, quota_used=9).allowed


def test_answer_checks(controls):
    assert run(controls, draft="").code == "ANSWER_CHECK"
    assert run(controls, draft="안녕하세요 {product_name} 입니다").code == "ANSWER_CHECK"
    assert run(controls, draft="가" * 1001).code == "ANSWER_CHECK"
    assert run(controls, needs_human=True, reason="NO_KB_MATCH").code == "AGENT_NEEDS_HUMAN"


def test_outside_business_hours__allowed_but_deferred(controls):
    saturday = dt.datetime(2026, 11, 28, 10, 0, tzinfo=SEOUL)
    allowed, _reason, details = run(controls, now=saturday)
    assert allowed
    assert details["deferred_until"] == "2026-11-30T09:00:00+09:00"


def test_first_failing_gate_decides_the_reason__order(controls):
    # risk, intent and confidence all fail: the risk gate comes first
    allowed, _reason, details = run(controls, risk_hits=[{"term": "고소"}], intent="환불", confidence=0.1)
    assert not allowed
    assert details["failed_gates"] == ["RISK_KEYWORD", "INTENT_NOT_ALLOWED", "LOW_CONFIDENCE"]
    assert details["reason_code"] == "RISK_KEYWORD"


def test_inactive_account__refused_before_anything_else(controls):
    inactive = dataclasses.replace(controls, is_active=False)
    allowed, _reason, details = run(inactive, intent="환불")
    assert not allowed and details["reason_code"] == "ACCOUNT_INACTIVE"


def test_phase_3__all_intents_no_quota(controls):
    account = make_account("coupang_sub")
    rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    c = load_account_controls(account)
    assert c.allowed_intents is None and c.daily_quota is None
    assert run(c, intent="환불", quota_used=10_000).allowed


def test_account_intent_override__intersects_phase(controls):
    from inquiries.models import Intent

    account = make_account("smartstore", market="SMARTSTORE")
    rollout = rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(1), actor=SYSTEM)
    rollout.intents_override.set(Intent.objects.filter(name__in=["사용법", "환불"]))
    c = load_account_controls(account)
    assert c.allowed_intents == frozenset({"사용법"})  # the guide's 2순위: 스마트스토어 = 사용법만
    assert not run(c, intent="배송문의").allowed
    assert run(c, intent="사용법").allowed


def test_shadow_mode__still_decides_auto_send_as_candidate(controls):
    account = make_account("shadowed")
    c = load_account_controls(account)
    assert c.effective_mode == Mode.SHADOW and c.phase_number == 1 and c.phase_is_default
    allowed, _reason, details = run(c)
    assert allowed and details["mode"] == Mode.SHADOW


def test_engine_is_deterministic(controls):
    first, second = run(controls), run(controls)
    assert (first.allowed, first.reason, first.code) == (second.allowed, second.reason, second.code)


def test_calendar_disabled__always_open():
    cal = Calendar(enabled=False, weekly={}, overrides={})
    assert cal.is_open(dt.datetime(2026, 1, 1, 3, tzinfo=SEOUL))
    assert load_global().calendar.enabled


def test_the_decision_is_typed_and_unpacks_as_the_guides_triple(controls):
    decision = run(controls, now=dt.datetime(2026, 11, 28, 10, 0, tzinfo=SEOUL))  # Saturday: closed
    allowed, reason, details = decision
    assert (allowed, reason, details) == (decision.allowed, decision.reason, decision.details)
    assert decision.code == details["reason_code"] == "OK"
    # a datetime for the code; ISO text only in the stored trace
    assert decision.deferred_until == dt.datetime(2026, 11, 30, 9, 0, tzinfo=SEOUL)
    assert details["deferred_until"] == decision.deferred_until.isoformat()
