"""Answers written from facts (inquiries.agent.grounding through the whole agent run): the order's own
state and tracking, the shipping policy on the business calendar, the product's facts; and every state
in which a person must act going to a person with the facts prefilled."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from inquiries.agent.facts import (
    LOOKUP_FAILED,
    LOOKUP_MIRROR,
    LOOKUP_NOT_FOUND,
    InquiryFacts,
    OrderFact,
    ProductFact,
    ProductFacts,
)
from inquiries.agent.pipeline import run_agent
from inquiries.agent.result import AgentResult
from partialauto.calendar import SEOUL
from tests.inquiries.agent_context import example_policy, seed_context

# A Wednesday morning in Seoul (no holiday near it).
NOW = dt.datetime(2026, 11, 18, 10, 30, tzinfo=SEOUL)
WHERE = "주문한 거 배송 언제 와요?"


@pytest.fixture(scope="module")
def ctx():
    return seed_context(seller_name="행복상점").warm()


def line(status: str, **changes) -> OrderFact:
    values = dict(
        line_id="853138000000005666",
        order_id="31000012345678",
        status=status,
        raw_status=status,
        carrier_name="CJ대한통운",
        tracking_number="684012345678",
        product_name="스테인리스 진공 텀블러 500ml",
        product_ids=("85012345002", "7120034502"),
        synced_at=NOW - dt.timedelta(minutes=3),
        fingerprint="f1" + status.lower(),
    )
    if status in ("SHIPPED", "IN_TRANSIT", "DELIVERED"):
        values.update(shipped_at=NOW - dt.timedelta(days=1), last_movement_at=NOW - dt.timedelta(hours=10))
    if status == "DELIVERED":
        values.update(delivered_at=NOW - dt.timedelta(hours=3))
    if status in ("PAID", "PREPARING"):
        values.update(
            tracking_number="",
            carrier_name="",
            paid_at=NOW - dt.timedelta(hours=20),
            expected_dispatch_date=NOW.date() + dt.timedelta(days=1),
        )
    values.update(changes)
    return OrderFact(**values)


def order_facts(*lines: OrderFact, lookup: str = LOOKUP_MIRROR, **changes) -> InquiryFacts:
    return InquiryFacts(
        now=NOW, order_ids=("31000012345678",), order_lookup=lookup, orders=lines, shipping=example_policy(), **changes
    )


def ask(ctx, content: str, facts: InquiryFacts, **kwargs) -> AgentResult:
    result = run_agent(content=content, context=ctx, facts=facts, **kwargs)
    json.dumps(result.as_trace(), ensure_ascii=False)  # stored as the decision trace
    return result


# --- an order in a normal state: its own facts, sent automatically --------------------------------------


@pytest.mark.parametrize(
    "status, expected",
    [
        ("IN_TRANSIT", ["684012345678", "CJ대한통운", "배송 중", "11월 17일(화)에 출고"]),
        ("SHIPPED", ["684012345678", "CJ대한통운으로 출고", "11월 17일(화)"]),
        ("DELIVERED", ["684012345678", "CJ대한통운", "오늘 11월 18일(수)에 배송 완료"]),
        ("PREPARING", ["상품 준비 중", "내일 11월 19일(목)에 출고될 예정"]),
        ("PAID", ["결제가 완료", "내일 11월 19일(목)에 출고될 예정"]),
    ],
)
def test_order_in_a_normal_state__answered_with_its_own_facts(ctx, status, expected):
    result = ask(ctx, WHERE, order_facts(line(status)))
    assert result.reason == "OK" and not result.needs_human and result.grounded
    assert result.answer_kind == "order_status" and result.confidence >= 0.9
    for text in expected:
        assert text in result.draft, (text, result.draft)
    assert result.draft.startswith("안녕하세요, 고객님. 행복상점입니다.")
    assert result.facts[0] == {
        "source": "order",
        "id": "853138000000005666",
        "fetched_at": (NOW - dt.timedelta(minutes=3)).isoformat(),
        "detail": f"order 31000012345678: {status}",
    }
    assert result.order_fingerprint == f"853138000000005666:f1{status.lower()}"


def test_preparing_without_a_promised_date__the_policy_computes_it(ctx):
    # Paid on Friday evening after the 14:00 cut-off → the next dispatch day is Monday.
    friday_evening = dt.datetime(2026, 11, 13, 19, 0, tzinfo=SEOUL)
    result = ask(ctx, WHERE, order_facts(line("PREPARING", expected_dispatch_date=None, paid_at=friday_evening)))
    assert result.reason == "OK" and "11월 16일(월)에 출고될 예정" in result.draft
    assert {f["source"] for f in result.facts} == {"order", "shipping_policy"}


def test_split_shipment__every_box_with_its_own_tracking(ctx):
    first = line("DELIVERED", line_id="1001", tracking_number="111122223333", fingerprint="a")
    second = line(
        "IN_TRANSIT", line_id="1002", tracking_number="444455556666", carrier_name="한진택배", fingerprint="b"
    )
    result = ask(ctx, WHERE, order_facts(first, second))
    assert result.reason == "OK" and "2개로 나뉘어" in result.draft
    assert "111122223333" in result.draft and "444455556666" in result.draft and "한진택배" in result.draft
    assert result.order_fingerprint == "1001:a,1002:b"


def test_the_asked_about_item__picks_its_box(ctx):
    mine = line("IN_TRANSIT", line_id="2001", tracking_number="999900001111", product_ids=("85012345007",))
    other = line("IN_TRANSIT", line_id="2002", tracking_number="777700002222", product_ids=("85012345003",))
    result = ask(ctx, WHERE, order_facts(mine, other), item_ids=["85012345007"])
    assert "999900001111" in result.draft and "777700002222" not in result.draft


# --- states where a person must act ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "order, content, code",
    [
        (line("CANCELLED", claim_type="CANCEL", claim_status="CANCEL_DONE", tracking_number=""), WHERE, "cancelled"),
        (line("PREPARING", claim_type="CANCEL", claim_status="CANCEL_REQUEST"), WHERE, "cancelled"),
        (line("RETURNED", claim_type="RETURN", claim_status="RETURNS_UNCHECKED"), WHERE, "returned"),
        (line("DELIVERED", claim_type="RETURN", claim_status="RETURN_REQUEST"), WHERE, "returned"),
        (line("EXCHANGED", claim_type="EXCHANGE", claim_status="EXCHANGE_DONE"), WHERE, "exchanged"),
        (line("IN_TRANSIT", delivery_issue="WRONG_TRACKING"), WHERE, "delivery_issue"),
        (line("DELIVERED"), "배송완료라고 뜨는데 문 앞에 아무것도 없어요. 다른 집에 간 것 같아요", "misdelivered"),
        (line("DELIVERED"), "택배 아직 못받았는데 배송완료로 나와요", "misdelivered"),
        (
            line("IN_TRANSIT", shipped_at=NOW - dt.timedelta(days=7), last_movement_at=NOW - dt.timedelta(days=6)),
            "송장 조회가 며칠째 그대로예요 언제 와요",
            "stalled",
        ),
        (line("PREPARING", expected_dispatch_date=NOW.date() - dt.timedelta(days=2)), WHERE, "late_dispatch"),
    ],
)
def test_state_a_person_must_act_on__goes_to_a_person_with_the_facts(ctx, order, content, code):
    result = ask(ctx, content, order_facts(order))
    # A parcel the buyer says they never got is also a risk (DELIVERY_LOSS): either way a person answers.
    assert result.needs_human and result.reason in ("ORDER_NEEDS_PERSON", "RISK_KEYWORD")
    assert not result.grounded
    assert code in result.reason_detail or result.reason == "RISK_KEYWORD"
    assert result.facts and result.facts[0]["source"] == "order"  # prefilled for the person
    assert result.draft and result.order_fingerprint == ""
    trace = next(r for r in result.trace if r["step"] == "ground")
    assert trace["attention"] == [code]


def test_delivered_and_the_buyer_just_asks__answered(ctx):
    result = ask(ctx, "배송 언제쯤 오나요?", order_facts(line("DELIVERED")))
    assert result.reason == "OK" and "배송 완료되었습니다" in result.draft


@pytest.mark.parametrize(
    "lookup, reason", [(LOOKUP_NOT_FOUND, "ORDER_NOT_FOUND"), (LOOKUP_FAILED, "ORDER_LOOKUP_FAILED")]
)
def test_named_order_not_found_or_not_askable__a_person_answers(ctx, lookup, reason):
    result = ask(ctx, WHERE, order_facts(lookup=lookup, lookup_error="HTTP 503" if lookup == LOOKUP_FAILED else ""))
    assert result.needs_human and result.reason == reason
    assert result.facts == [
        {
            "source": "order_lookup",
            "id": "31000012345678",
            "fetched_at": NOW.isoformat(),
            "detail": lookup + (": HTTP 503" if lookup == LOOKUP_FAILED else ""),
        }
    ]


# --- no order: the shipping policy ------------------------------------------------------------------------


def policy_only(now: dt.datetime = NOW, **changes) -> InquiryFacts:
    return InquiryFacts(now=now, shipping=example_policy(**changes))


@pytest.mark.parametrize(
    "now, expected",
    [
        (NOW, "오늘 11월 18일(수)에 출고될 예정"),  # Wednesday before the cut-off
        (NOW.replace(hour=15), "내일 11월 19일(목)에 출고될 예정"),  # after the cut-off
        (dt.datetime(2026, 11, 20, 16, 0, tzinfo=SEOUL), "11월 23일(월)에 출고될 예정"),  # Friday after → Monday
        (dt.datetime(2026, 12, 24, 15, 0, tzinfo=SEOUL), "12월 28일(월)에 출고될 예정"),  # Christmas is a holiday
    ],
)
def test_dispatch_timing__on_the_business_calendar(ctx, now, expected):
    result = ask(ctx, "오늘 주문하면 언제 출고되나요?", policy_only(now))
    assert result.reason == "OK" and result.answer_kind == "shipping_policy"
    assert expected in result.draft and "오후 2시 전에" in result.draft
    assert result.facts == [
        {
            "source": "shipping_policy",
            "id": "test-account",
            "fetched_at": "2026-11-30T00:00:00+00:00",
            "detail": "timing",
        }
    ]


@pytest.mark.parametrize(
    "content, expected, absent",
    [
        ("배송비 얼마예요? 무료배송 기준이 있나요", ["3,000원", "30,000원 이상"], []),
        ("제주도도 배송되나요? 추가 배송비 있어요?", ["제주 지역은 3,000원", "도서산간 지역은 5,000원"], []),
        ("새벽배송 되나요?", ["새벽배송은 제공하지 않"], []),
        ("편의점 픽업 가능한가요", ["편의점 픽업은 제공하지 않"], []),
        ("해외배송 되나요? 미국으로 받고 싶어요", ["해외배송은 하지 않"], []),
        ("택배사 어디 쓰세요?", ["CJ대한통운으로 보내드립니다"], ["3,000원"]),
        ("택배는 어디 거로 보내세요?", ["CJ대한통운으로 보내드립니다"], ["3,000원"]),
        # the days the seller ships on, how long it takes, when an order placed at an hour leaves
        ("주말에도 발송하시나요?", ["주말·공휴일 제외", "출고될 예정"], []),
        ("일요일에 주문하면 월요일에 발송되나요?", ["주말·공휴일 제외", "출고될 예정"], []),
        ("택배 얼마만에 받아요?", ["출고될 예정", "받아보실 수 있습니다"], []),
        ("서울인데 이틀이면 오나요?", ["출고될 예정", "받아보실 수 있습니다"], []),
        ("오후 5시에 주문하면 내일 출고예요?", ["출고될 예정"], []),
    ],
)
def test_policy_topics__answered_from_the_policy(ctx, content, expected, absent):
    result = ask(ctx, content, policy_only())
    assert result.reason == "OK" and result.grounded, result.reason_detail
    for text in expected:
        assert text in result.draft, (text, result.draft)
    for text in absent:
        assert text not in result.draft


def test_services_the_seller_offers__said_so(ctx):
    result = ask(ctx, "새벽배송 되나요?", policy_only(dawn_delivery=True))
    assert "새벽배송으로 보내드리고 있습니다" in result.draft


def test_return_fee_question__from_the_policy(ctx):
    result = ask(ctx, "단순변심 반품하면 배송비 얼마 내야 해요?", policy_only())
    assert result.intent == "교환반품" and result.reason == "OK"
    assert "반품 배송비 3,000원" in result.draft and "왕복 배송비 6,000원" in result.draft


def test_own_order_without_naming_it__a_person_answers(ctx):
    result = ask(ctx, "어제 주문했는데 언제 받을 수 있을까요?", policy_only())
    assert result.needs_human and result.reason == "NO_ORDER_REFERENCE"


@pytest.mark.parametrize("facts", [InquiryFacts(now=NOW), policy_only(complete=False)])
def test_no_or_incomplete_policy__the_general_guidance_never_goes_out_alone(ctx, facts):
    result = ask(ctx, "배송 보통 며칠 걸리나요?", facts)
    assert result.needs_human and result.reason == "NO_FACTS" and not result.grounded
    assert result.draft  # the general text is still there for the person to start from


# --- products ----------------------------------------------------------------------------------------------


GRILL = ProductFacts(
    "7120034508",
    "전기 그릴 양면 멀티쿠커",
    (
        ProductFact(
            "11",
            (
                "그릴 플레이트는 분리해서 식기세척기에 넣어 세척하실 수 있지만, "
                "본체는 물에 담그지 말고 젖은 천으로 닦아 주세요."
            ),
        ),
        ProductFact("12", "온도는 다이얼로 80도부터 230도까지 5단계로 조절됩니다."),
        ProductFact("13", "소비전력은 1,400W이며 220V 전용입니다."),
        ProductFact("14", "타이머는 최대 60분까지 설정할 수 있고, 시간이 끝나면 자동으로 전원이 꺼집니다."),
    ),
    dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
)


@pytest.mark.parametrize(
    "content, fact",
    [
        ("그릴판 식세기 돌려도 되나요?", "11"),
        ("타이머 몇 분까지 설정돼요?", "14"),
        ("소비전력이 몇 와트인가요", "13"),
        # a call-centre summary: its own wording ("… 여부 안내 요청") is not part of the question
        ("[판매자이관] 고객문의: 타이머 최대 설정 시간 및 자동 꺼짐 여부 안내 요청", "14"),
    ],
)
def test_product_question__answered_from_the_matching_fact(ctx, content, fact):
    result = ask(ctx, content, InquiryFacts(now=NOW, product=GRILL))
    assert result.reason == "OK" and result.answer_kind == "product_facts", result.reason_detail
    assert result.facts[0]["source"] == "product_knowledge" and result.facts[0]["id"] == fact
    assert dict((f.id, f.text) for f in GRILL.facts)[fact] in result.draft


def test_product_question_no_fact_answers__a_person_answers(ctx):
    result = ask(
        ctx, "이거 캠핑장에서 인버터로 써도 될까요? 블루투스 연결도 되나요", InquiryFacts(now=NOW, product=GRILL)
    )
    assert result.needs_human and result.reason == "NO_FACTS"


def test_usage_question_without_product_knowledge__general_guidance_is_not_an_answer(ctx):
    result = ask(ctx, "세탁기에 돌려도 되나요?", InquiryFacts(now=NOW))
    assert result.intent == "사용법" and result.needs_human and result.reason == "NO_FACTS"
