"""inquiries.agent.scoring: confidence that means something."""

from __future__ import annotations

import math

import pytest

from inquiries.agent.classify import Classification
from inquiries.agent.knowledge import KBMatch, KnowledgeEntry
from inquiries.agent.normalize import normalize
from inquiries.agent.scoring import (
    AGENT_MIN_CONFIDENCE,
    LLM_NO_KB_CAP,
    NO_KB_CAP,
    asks_lookup,
    score_llm,
    score_rules,
)

ENTRY = KnowledgeEntry(id="1", intent="배송문의", title="t", keywords=["a"], body="b")


def cls(score=3.0, runner=0.0, *, mixed=False, intent="배송문의") -> Classification:
    margin = (score - runner) / score if score else 0.0
    return Classification(intent, score, "환불" if runner else None, runner, margin, mixed)


def kb(quality: float) -> KBMatch:
    return KBMatch(ENTRY, quality, ())


TEXT = normalize("배송은 보통 며칠 걸리나요")


def test_clear_question_with_a_well_matched_entry__clears_the_default_threshold():
    assert score_rules(cls(3.0), kb(0.875), TEXT).confidence >= 0.90


def test_one_matching_keyword__is_not_enough_for_auto_send():
    assert score_rules(cls(3.0), kb(0.5), TEXT).confidence < 0.90


@pytest.mark.parametrize("match", [None, kb(0.0)])
def test_no_relevant_entry__low_confidence_and_no_kb_reason(match):
    score = score_rules(cls(5.0), match, TEXT)
    assert score.confidence <= NO_KB_CAP < AGENT_MIN_CONFIDENCE and score.reason == "NO_KB_MATCH"


def test_nothing_classified__zero_confidence():
    score = score_rules(cls(0.0), kb(0.875), TEXT)
    assert score.confidence == 0.0 and score.reason == "LOW_CONFIDENCE"


def test_mixed_topics__lower_confidence():
    clear = score_rules(cls(3.0), kb(0.875), TEXT).confidence
    mixed = score_rules(cls(3.0, 2.0, mixed=True), kb(0.875), TEXT).confidence
    assert mixed < clear * 0.9


@pytest.mark.parametrize("text", ["배송요", "가" * 400])
def test_very_short_or_very_long_text__lower_confidence(text):
    assert (
        score_rules(cls(3.0), kb(0.875), normalize(text)).confidence < score_rules(cls(3.0), kb(0.875), TEXT).confidence
    )


def test_generic_my_order_question__no_discount_but_lookup_request__discounted():
    assert not asks_lookup(normalize("제 주문 언제 와요?"))
    assert asks_lookup(normalize("주문번호 20240115123456 확인 부탁드려요"))
    plain = score_rules(cls(3.0), kb(0.875), normalize("제 주문 언제 와요?"))
    lookup = score_rules(cls(3.0), kb(0.875), normalize("제 주문 언제 와요? 확인 부탁드려요"))
    assert "lookup" not in plain.factors and lookup.factors["lookup"] < 1


def test_confidence__is_the_product_of_the_recorded_factors():
    score = score_rules(cls(2.0, 1.5, mixed=True), kb(0.75), normalize("배송"))
    assert math.isclose(score.confidence, math.prod(score.factors.values()), abs_tol=1e-3)


def test_llm__disagreeing_with_the_rules_classifier__cannot_reach_the_threshold():
    score = score_llm(llm_confidence=1.0, llm_intent="환불", classification=cls(3.0), kb=kb(0.875), text=TEXT)
    assert score.confidence < 0.90


def test_llm__agreeing_and_grounded__keeps_its_confidence():
    score = score_llm(llm_confidence=0.95, llm_intent="배송문의", classification=cls(3.0), kb=kb(0.875), text=TEXT)
    assert score.confidence >= 0.90 and score.reason == "OK"


def test_llm__without_a_knowledge_entry__capped():
    score = score_llm(llm_confidence=1.0, llm_intent="배송문의", classification=cls(3.0), kb=None, text=TEXT)
    assert score.confidence <= LLM_NO_KB_CAP and score.reason == "NO_KB_MATCH"
