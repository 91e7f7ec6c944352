"""inquiries.agent.classify: the rules intent classifier."""

from __future__ import annotations

import pytest

from inquiries.agent.classify import FALLBACK_INTENT, INTENTS, IntentClassifier, IntentRule, classify
from inquiries.agent.seed_data import INTENT_PATTERNS


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return IntentClassifier([IntentRule(intent, patterns) for intent, patterns in INTENT_PATTERNS.items()])


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("배송언제와요??", "배송문의"),
        ("세탁기 돌려도 되나요", "사용법"),
        ("평소 M 입는데 사이즈 추천해주세요", "상품문의"),
        ("사이즈가 작아서 교환하고 싶어요", "교환반품"),
        ("반품 완료됐는데 아직 환불이 안됐어요", "환불"),
        ("방금 주문한거 취소좀요", "주문취소"),
        ("블랙 색상 다시 들어오나요?", "재입고"),
        ("현금영수증 발행 해주세요", "기타"),
    ],
)
def test_classify__seed_patterns(classifier, text, intent):
    assert classifier.classify(text).intent == intent


def test_classify__nothing_matches__fallback_with_zero_score(classifier):
    result = classifier.classify("ㅎㅎ")
    assert result.intent == FALLBACK_INTENT and result.score == 0 and not result.matched_anything
    assert result.margin == 0 and not result.mixed


def test_classify__two_strong_topics__mixed_with_lower_margin():
    rules = [IntentRule("교환반품", ["교환"]), IntentRule("배송문의", ["배송"])]
    result = classify("교환 배송", rules)
    assert result.mixed and result.runner_up is not None and result.margin < 0.5


def test_classify__single_topic__not_mixed():
    result = classify("교환 교환하고 싶어요", [IntentRule("교환반품", ["교환"]), IntentRule("배송문의", ["배송"])])
    assert not result.mixed and result.margin == 1.0


def test_classify__longer_pattern_counts_more():
    rules = [IntentRule("A", ["배송"]), IntentRule("B", ["반품배송비"])]
    assert classify("반품배송비", rules).intent == "B"


def test_classify__pattern_inside_a_longer_match__counts_once():
    rules = [IntentRule("기타", ["적립금", "적립"]), IntentRule("환불", ["환불"])]
    result = classify("적립금 말고 카드로 환불해주세요", rules)
    assert result.matched["기타"] == ["적립금"]


def test_classify__the_ask_at_the_end_weighs_more():
    rules = [IntentRule("교환반품", ["반품"]), IntentRule("환불", ["환불"])]
    assert classify("반품했는데 환불은 언제 돼요", rules).intent == "환불"


def test_classify__regex_patterns_run_on_compact_text():
    rules = [IntentRule("배송문의", ["re:언제.{0,2}(?:와|오)"])]
    result = classify("언제 쯤 와요?", rules)
    assert result.intent == "배송문의" and result.matched["배송문의"] == ["re:언제.{0,2}(?:와|오)"]


def test_classify__rule_weight_multiplies():
    rules = [IntentRule("A", ["문의"], weight=3.0), IntentRule("B", ["배송문의"])]
    assert classify("배송문의", rules).intent == "A"


def test_classify__invalid_pattern__recorded_and_skipped():
    classifier = IntentClassifier([IntentRule("A", ["re:(", "배송"])])
    assert classifier.errors and classifier.classify("배송").intent == "A"


def test_seed_patterns__cover_every_intent_and_compile(classifier):
    assert set(INTENT_PATTERNS) == set(INTENTS)
    assert classifier.errors == []


def test_classification__as_dict_is_json_friendly(classifier):
    import json

    json.dumps(classifier.classify("교환 배송 환불").as_dict(), ensure_ascii=False)
