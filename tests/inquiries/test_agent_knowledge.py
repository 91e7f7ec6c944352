"""inquiries.agent.knowledge: entry selection and placeholder rendering."""

from __future__ import annotations

import pytest

from inquiries.agent.knowledge import KnowledgeBase, KnowledgeEntry, render
from inquiries.agent.normalize import normalize


def entry(id_: str, *, keywords=("배송",), account=None, product=None, priority=0, intent="배송문의", body="본문 {x}"):
    return KnowledgeEntry(
        id=id_,
        intent=intent,
        title=id_,
        keywords=list(keywords),
        body=body,
        account_name=account,
        product_id=product,
        priority=priority,
    )


def test_best__specific_entries_win_over_general_ones():
    kb = KnowledgeBase(
        [
            entry("general", keywords=("배송", "언제", "도착")),
            entry("acct", account="coupang_main"),
            entry("product", product="P1"),
        ]
    )
    text = normalize("배송 언제 도착해요")
    assert kb.best("배송문의", text).entry.id == "general"
    assert kb.best("배송문의", text, account_name="coupang_main").entry.id == "acct"
    assert kb.best("배송문의", text, account_name="coupang_main", product_id="P1").entry.id == "product"


def test_best__other_accounts_and_products_are_out_of_scope():
    kb = KnowledgeBase([entry("other", account="naver_main"), entry("p2", product="P2")])
    assert kb.best("배송문의", normalize("배송"), account_name="coupang_main", product_id="P1") is None


def test_best__relevant_beats_specific_but_irrelevant():
    kb = KnowledgeBase([entry("general", keywords=("송장",)), entry("acct", keywords=("반품",), account="a")])
    assert kb.best("배송문의", normalize("송장 번호 알려주세요"), account_name="a").entry.id == "general"


def test_quality__grows_with_distinct_keywords():
    kb = KnowledgeBase([entry("e", keywords=("배송", "언제", "도착", "배송조회"))])
    assert kb.best("배송문의", normalize("택배")).quality == 0.0
    assert kb.best("배송문의", normalize("배송")).quality == 0.5
    assert kb.best("배송문의", normalize("배송 언제")).quality == 0.75
    # 배송 inside 배송조회 is the same evidence: three keywords, not four
    assert kb.best("배송문의", normalize("배송조회 언제 도착")).quality == 0.875


def test_entry_without_keywords__applies_to_any_question_of_its_intent():
    kb = KnowledgeBase([entry("catch-all", keywords=())])
    match = kb.best("배송문의", normalize("아무 말"))
    assert match.is_relevant and match.quality == 0.5


def test_priority__breaks_ties():
    kb = KnowledgeBase([entry("low", priority=0), entry("high", priority=5)])
    assert kb.best("배송문의", normalize("배송")).entry.id == "high"


def test_render__fills_known_placeholders():
    text, unknown = render(
        "{customer_greeting} {seller_name}입니다. {product_name} 안내드립니다.",
        {"seller_name": "행복상점", "product_name": "무선 청소기"},
    )
    assert text == "안녕하세요, 고객님. 행복상점입니다. 무선 청소기 안내드립니다." and unknown == []


def test_render__empty_values_use_defaults_and_unknown_placeholders_vanish():
    text, unknown = render(
        "{seller_name}입니다. {order_no} 주문 {product_name}", {"seller_name": "", "product_name": None}
    )
    assert "{" not in text and "}" not in text
    assert text == "저희 스토어입니다. 주문 문의하신 상품"
    assert unknown == ["order_no"]


@pytest.mark.parametrize(
    ("name", "template", "expected"),
    [
        ("운동화", "{product_name}은(는) 좋아요", "운동화는 좋아요"),
        ("가방", "{product_name}은(는) 좋아요", "가방은 좋아요"),
        ("텐트", "{product_name}이(가) 와요", "텐트가 와요"),
        ("접시", "{product_name}을(를) 보내요", "접시를 보내요"),
        ("서울", "{product_name}(으)로 가요", "서울로 가요"),
        ("부산", "{product_name}(으)로 가요", "부산으로 가요"),
        ("X100", "{product_name}은(는) 좋아요", "X100은(는) 좋아요"),
    ],
)
def test_render__paired_particles_follow_the_value(name, template, expected):
    assert render(template, {"product_name": name})[0] == expected


def test_render__braces_in_values_and_odd_placeholders_never_reach_the_draft():
    text, _unknown = render("{product.name} {product_name}", {"product_name": "세일 {discount} 상품"})
    assert "{" not in text and "}" not in text


def test_render__long_value_is_trimmed_to_one_line():
    text, _unknown = render("{product_name}", {"product_name": "가" * 500 + "\n두번째 줄"})
    assert len(text) == 80 and "\n" not in text
