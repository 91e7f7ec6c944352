"""Realistic Korean buyer inquiries for seeding the sandbox marketplace.

Each generator returns an item in the marketplace's *native* shape (field names as in
research/market-apis.md), so the clients parse sandbox data exactly like real data. All randomness
comes from the ``random.Random`` passed in, so a seed reproduces a data set.

Order references: an inquiry that names an order is generated for an order *scenario*
(``orders.SCENARIOS``); the store creates that order first and passes its ``OrderLink`` in, so every
reference resolves. Called without a link (benchmarks, parser tests), the items carry detached,
random order ids in the same shapes. Internal keys: ``_intent``, ``_risky``, ``_scenario`` (the order
scenario, ``"policy"`` for a shipping question with no order, else None) and ``_order_lines``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox.questions import (
    OTHER_QUESTIONS,
    RISKY_SCENARIOS,
    SHIPPING_BY_SCENARIO,
    SHIPPING_POLICY,
    SHIPPING_SCENARIO_MIX,
)
from partialauto.calendar import SEOUL

KST = SEOUL

NAVER_CHANNEL_OFFSET = 3_000_000_000  # Naver channel product no = catalogue id + this
COUPANG_SELLER_OFFSET = 1_000_000  # Coupang sellerProductId = catalogue id + this


@dataclass(frozen=True)
class Product:
    product_id: int
    name: str
    vendor_item_id: int
    option: str
    price: int = 19_900  # KRW, sale price
    lead_days: int = 1  # 기준출고일: days after the order day it ships (D+1)

    @property
    def seller_product_id(self) -> int:
        return self.product_id + COUPANG_SELLER_OFFSET

    @property
    def channel_product_no(self) -> int:
        return self.product_id + NAVER_CHANNEL_OFFSET


PRODUCTS: tuple[Product, ...] = (
    Product(7120034501, "무선 블루투스 이어폰 X2 노이즈캔슬링", 85012345001, "화이트", 39_900),
    Product(7120034502, "스테인리스 진공 텀블러 500ml", 85012345002, "미드나잇 블루", 18_900),
    Product(7120034503, "접이식 경량 캠핑 의자", 85012345003, "카키 / 1개", 32_000, 2),
    Product(7120034504, "유기농 현미 5kg (2025년 햅쌀)", 85012345004, "5kg x 1포", 27_900),
    Product(7120034505, "아기 물티슈 캡형 100매 x 10팩", 85012345005, "10팩", 15_900),
    Product(7120034506, "남성 기능성 반팔 티셔츠", 85012345006, "블랙 / L", 12_900),
    Product(7120034507, "LED 무드등 수면등 USB 충전식", 85012345007, "웜화이트", 14_900),
    Product(7120034508, "전기 그릴 양면 멀티쿠커", 85012345008, "기본형", 59_000, 2),
    Product(7120034509, "고양이 두부모래 7L x 3개", 85012345009, "오리지널", 21_900),
    Product(7120034510, "여성 경량 패딩 조끼", 85012345010, "베이지 / 66", 29_900),
)

# Inquiries that must never be auto-answered (risk keywords such as 소비자원/고소/법적).
RISKY: tuple[tuple[str, str, str], ...] = (
    ("환불", "환불 처리 요구", "환불 요청한 지 2주째입니다. 이번 주까지 처리 안 되면 소비자원에 신고하겠습니다."),
    ("교환반품", "불량품 항의", "불량품을 보내놓고 교환도 안 해주시네요. 계속 이러시면 고소하겠습니다."),
    ("배송문의", "배송 지연 항의", "배송이 3주째 안 옵니다. 법적 조치 진행하겠습니다."),
    ("상품문의", "허위 광고 신고", "상세페이지와 전혀 다른 제품입니다. 허위광고로 공정위에 신고할 예정입니다."),
    ("기타", "개인정보 유출", "제 개인정보가 유출된 것 같습니다. 변호사와 상담 중입니다."),
)

ANSWERS: dict[str, str] = {
    "배송문의": (
        "안녕하세요, 고객님. 주문하신 상품은 내일 출고 예정이며, 출고 후 1~2일 내 받아보실 수 있습니다. 감사합니다."
    ),
    "사용법": (
        "안녕하세요, 고객님. 전원 버튼을 5초간 눌러 페어링 모드로 전환한 뒤 휴대폰 블루투스 목록에서 선택해 주세요."
    ),
    "상품문의": "안녕하세요, 고객님. 문의하신 상품은 정품이며 상세페이지의 소재 및 사이즈 정보를 참고해 주세요.",
    "교환반품": "안녕하세요, 고객님. 마이페이지에서 교환/반품 신청해 주시면 회수 기사님이 방문 예정입니다.",
    "환불": "안녕하세요, 고객님. 회수 상품 검수 후 영업일 기준 2~3일 내 환불 처리됩니다.",
    "주문취소": "안녕하세요, 고객님. 요청하신 주문은 취소 처리되었습니다. 감사합니다.",
    "재입고": "안녕하세요, 고객님. 해당 상품은 다음 주 중 재입고 예정입니다.",
    "기타": "안녕하세요, 고객님. 문의 주셔서 감사합니다. 확인 후 안내드리겠습니다.",
}

FAMILY_NAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN_NAMES = ("민준", "서연", "도윤", "하은", "지호", "수아", "예준", "지우", "시우", "서윤", "주원", "하린")
RECEIPT_CATEGORIES = {
    "배송문의": "배송문의>배송지연>판매자이관",
    "교환반품": "교환/반품>불량>판매자이관",
    "환불": "교환/반품>불량>판매자이관",
    "사용법": "상품문의>상품정보>판매자이관",
    "상품문의": "상품문의>상품정보>판매자이관",
    "재입고": "상품문의>상품정보>판매자이관",
}
NAVER_CATEGORIES = {
    "배송문의": "배송",
    "사용법": "상품",
    "상품문의": "상품",
    "교환반품": "교환",
    "환불": "환불",
    "주문취소": "기타",
    "재입고": "상품",
    "기타": "기타",
}
POLICY = "policy"  # _scenario of a shipping question that no order is behind
ORDER_KINDS = (COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_INQUIRY)  # kinds that can name an order
ALWAYS_ORDER_KINDS = (COUPANG_CALLCENTER, NAVER_INQUIRY)  # … and always do
SHIPPING_SHARE = {COUPANG_ONLINE: 0.5, COUPANG_CALLCENTER: 0.5, NAVER_INQUIRY: 0.5, NAVER_QNA: 0.3}
ONLINE_POLICY_SHARE = 0.25  # Coupang product Q&A shipping questions asked before buying
ONLINE_OTHER_ORDER_SHARE = 0.5  # other Coupang product Q&A questions that carry orderIds


@dataclass
class Question:
    intent: str
    title: str
    text: str
    risky: bool
    product: Product
    scenario: str | None = None  # an order scenario (an order is needed), POLICY, or None


@dataclass(frozen=True)
class OrderLink:
    """The order an inquiry refers to: its id, the lines with the inquiry's product, when it was placed."""

    order_id: str
    line_ids: tuple[str, ...]
    ordered_at: datetime


def make_question(
    rng: random.Random,
    *,
    risk_ratio: float = 0.1,
    kind: str | None = None,
    intent: str | None = None,
    scenario: str | None = None,
    product: Product | None = None,
) -> Question:
    """A question for ``kind``: ``scenario`` forces a shipping question about that order state (or
    POLICY); ``intent`` forces the intent; otherwise the kind's realistic mix (risky per ``risk_ratio``)."""
    product = product or rng.choice(PRODUCTS)
    coupang = kind in (COUPANG_ONLINE, COUPANG_CALLCENTER)
    if scenario is not None:
        if scenario != POLICY and scenario not in SHIPPING_BY_SCENARIO:
            raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SHIPPING_BY_SCENARIO)} or {POLICY}")
        if scenario == POLICY and kind in ALWAYS_ORDER_KINDS:
            raise ValueError(f"{kind} inquiries always name an order; a policy question needs another kind")
        if scenario != POLICY and kind not in ORDER_KINDS:
            raise ValueError(f"{kind} inquiries cannot name an order")
        if coupang and scenario == "exchanged":
            raise ValueError("Coupang exchanges are not served by the sandbox")
        return _shipping(rng, product, scenario)
    if intent is None and rng.random() < risk_ratio:
        intent, title, text = rng.choice(RISKY)
        with_order = kind in ALWAYS_ORDER_KINDS or (kind == COUPANG_ONLINE and rng.random() < ONLINE_OTHER_ORDER_SHARE)
        return Question(
            intent, title, text, True, product, RISKY_SCENARIOS.get(intent, "delivered") if with_order else None
        )
    if intent is None:
        shipping = rng.random() < SHIPPING_SHARE.get(kind or NAVER_QNA, 0.3)
        intent = "배송문의" if shipping else rng.choice(tuple(OTHER_QUESTIONS))
    if intent == "배송문의":
        if kind not in ORDER_KINDS or (kind == COUPANG_ONLINE and rng.random() < ONLINE_POLICY_SHARE):
            return _shipping(rng, product, POLICY)
        mix = {s: w for s, w in SHIPPING_SCENARIO_MIX.items() if not (coupang and s == "exchanged")}
        return _shipping(rng, product, rng.choices(list(mix), weights=list(mix.values()))[0])
    if intent not in OTHER_QUESTIONS:
        raise ValueError(f"unknown intent {intent!r}")
    title, text, hint = rng.choice(OTHER_QUESTIONS[intent])
    with_order = kind in ALWAYS_ORDER_KINDS or (kind == COUPANG_ONLINE and rng.random() < ONLINE_OTHER_ORDER_SHARE)
    return Question(
        intent, title, text.format(product=product.name), False, product, (hint or "delivered") if with_order else None
    )


def _shipping(rng: random.Random, product: Product, scenario: str) -> Question:
    title, text = rng.choice(SHIPPING_POLICY if scenario == POLICY else SHIPPING_BY_SCENARIO[scenario])
    return Question("배송문의", title, text.format(product=product.name), False, product, scenario)


def needs_order(question: Question) -> bool:
    return question.scenario is not None and question.scenario != POLICY


def _link(
    rng: random.Random,
    question: Question,
    order: OrderLink | None,
    created_at: datetime,
    *,
    naver: bool,
    always: bool = False,
) -> OrderLink | None:
    """The given link, or (called without a store) detached random ids in the marketplace's format."""
    if order is not None or not (always or needs_order(question)):
        return order
    ordered_at = created_at - timedelta(days=rng.uniform(1, 5))
    if naver:
        day = ordered_at.astimezone(KST).strftime("%Y%m%d")
        return OrderLink(
            day + str(rng.randint(10**7, 10**8 - 1)), (day + str(rng.randint(10**7, 10**8 - 1)),), ordered_at
        )
    return OrderLink(
        str(rng.randint(2 * 10**13, 4 * 10**13 - 1)), (str(rng.randint(5 * 10**17, 9 * 10**17 - 1)),), ordered_at
    )


def _internal(question: Question, link: OrderLink | None) -> dict[str, Any]:
    return {
        "_intent": question.intent,
        "_risky": question.risky,
        "_scenario": question.scenario,
        "_order_lines": list(link.line_ids) if link else [],
    }


def masked_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN_NAMES)
    return f"{rng.choice(FAMILY_NAMES)}*{given[-1]}"


def masked_writer_id(rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return "".join(rng.choice(letters) for _ in range(3)) + "****"


def random_created_at(rng: random.Random, *, days_back: float, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return (now - timedelta(seconds=rng.uniform(60, max(61.0, days_back * 86400)))).astimezone(KST)


def coupang_time(value: datetime) -> str:
    """Coupang's naive KST ``yyyy-MM-dd HH:mm:ss``."""
    return value.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S")


def naver_time(value: datetime) -> str:
    """Naver's ``yyyy-MM-dd'T'HH:mm:ss.SSS+09:00``."""
    return value.astimezone(KST).isoformat(timespec="milliseconds")


def coupang_online_item(
    rng: random.Random,
    *,
    inquiry_id: int,
    created_at: datetime,
    answered: bool,
    comment_id: int,
    risk_ratio: float = 0.1,
    question: Question | None = None,
    order: OrderLink | None = None,
) -> dict[str, Any]:
    q = question or make_question(rng, risk_ratio=risk_ratio, kind=COUPANG_ONLINE)
    link = _link(rng, q, order, created_at, naver=False)
    item: dict[str, Any] = {
        "inquiryId": inquiry_id,
        "productId": q.product.product_id,
        "sellerProductId": q.product.seller_product_id,
        "sellerItemId": q.product.vendor_item_id + 1_000_000,
        "vendorItemId": q.product.vendor_item_id,
        "content": q.text,
        "inquiryAt": coupang_time(created_at),
        "orderIds": [int(link.order_id)] if link else None,
        "commentDtoList": [],
        **_internal(q, link),
    }
    if answered:
        at = created_at + timedelta(hours=rng.uniform(0.5, 20))
        item["commentDtoList"].append(
            {
                "inquiryCommentId": comment_id,
                "inquiryId": inquiry_id,
                "content": ANSWERS[q.intent],
                "inquiryCommentAt": coupang_time(at),
            }
        )
    return item


def coupang_callcenter_item(
    rng: random.Random,
    *,
    inquiry_id: int,
    created_at: datetime,
    answered: bool,
    answer_ids: tuple[int, int],
    risk_ratio: float = 0.1,
    question: Question | None = None,
    order: OrderLink | None = None,
    transfer: bool = False,
) -> dict[str, Any]:
    """A call-centre inquiry transferred to the seller: awaiting the seller's answer, answered, or (``transfer``)
    a TRANSFER the call centre finished itself, which the seller only confirms (``…/confirms``)."""
    q = question or make_question(rng, risk_ratio=risk_ratio, kind=COUPANG_CALLCENTER)
    link = _link(rng, q, order, created_at, naver=False, always=True)
    assert link is not None  # call-centre transfers always name the order
    transfer_at = created_at + timedelta(minutes=rng.uniform(1, 30))
    transfer = transfer and not answered
    if transfer:
        note = (
            f"[상담완료 이관]\n◼주문번호: {link.order_id}\n"
            f"◼고객문의: {q.text}\n"
            f"고객님께 안내 완료했습니다. 판매자 확인 부탁드립니다."
        )
        status = "transfer"
    else:
        note = f"[판매자이관]\n◼주문번호: {link.order_id}\n◼고객문의: {q.text}\n판매자 확인 및 답변 부탁드립니다."
        status = "answered" if answered else "requestAnswer"
    agent_reply = {
        "receptionistName": "쿠팡 고객센터",
        "receptionist": "cs" + str(rng.randint(10000, 99999)),
        "replyAt": coupang_time(transfer_at),
        "content": note,
        "answerId": answer_ids[0],
        "parentAnswerId": 0,
        "partnerTransferStatus": status,
        "partnerTransferCompleteReason": "NONE",
        "answerType": "csAgent",
        "needAnswer": status == "requestAnswer",
    }
    replies = [agent_reply]
    if answered:
        replies.append(
            {
                "receptionistName": "샌드박스몰",
                "receptionist": "sandbox-cs",
                "replyAt": coupang_time(transfer_at + timedelta(hours=1)),
                "content": ANSWERS[q.intent],
                "answerId": answer_ids[1],
                "parentAnswerId": answer_ids[0],
                "partnerTransferStatus": None,
                "partnerTransferCompleteReason": "NONE",
                "answerType": "vendor",
                "needAnswer": False,
            }
        )
    return {
        "inquiryId": inquiry_id,
        "csPartnerCounselingStatus": status,
        "inquiryStatus": "progress",
        "vendorItemId": [q.product.vendor_item_id],
        "itemName": f"{q.product.name}, {q.product.option}",
        "content": q.title,
        "answeredAt": coupang_time(transfer_at + timedelta(hours=1)) if answered else None,
        "replies": replies,
        "inquiryAt": coupang_time(created_at),
        "buyerEmail": "",
        "buyerPhone": f"010-****-{rng.randint(1000, 9999)}",
        "orderId": int(link.order_id),
        "orderDate": coupang_time(link.ordered_at),
        "receiptCategory": RECEIPT_CATEGORIES.get(q.intent, "기타문의>기타>판매자이관"),
        "saleStartedAt": "2024-01-01",
        "saleEndedAt": "2099-12-30",
        **_internal(q, link),
    }


def naver_qna_item(
    rng: random.Random,
    *,
    question_id: int,
    created_at: datetime,
    answered: bool,
    risk_ratio: float = 0.1,
    question: Question | None = None,
) -> dict[str, Any]:
    """Product Q&A names no order (research order-apis §3): only product and policy questions."""
    q = question or make_question(rng, risk_ratio=risk_ratio, kind=NAVER_QNA)
    return {
        "createDate": naver_time(created_at),
        "question": q.text,
        "answer": ANSWERS[q.intent] if answered else None,
        "answered": answered,
        "productId": q.product.channel_product_no,
        "productName": q.product.name,
        "maskedWriterId": masked_writer_id(rng),
        "questionId": question_id,
        **_internal(q, None),
    }


def naver_inquiry_item(
    rng: random.Random,
    *,
    inquiry_no: int,
    created_at: datetime,
    answered: bool,
    comment_no: int,
    risk_ratio: float = 0.1,
    question: Question | None = None,
    order: OrderLink | None = None,
) -> dict[str, Any]:
    q = question or make_question(rng, risk_ratio=risk_ratio, kind=NAVER_INQUIRY)
    link = _link(rng, q, order, created_at, naver=True, always=True)
    assert link is not None  # 고객 문의 are about an order
    answered_at = created_at + timedelta(hours=rng.uniform(0.5, 20))
    return {
        "inquiryNo": inquiry_no,
        "category": NAVER_CATEGORIES.get(q.intent, "기타"),
        "title": q.title,
        "inquiryContent": q.text,
        "inquiryRegistrationDateTime": naver_time(created_at),
        "answerContentId": comment_no if answered else None,
        "answerContent": ANSWERS[q.intent] if answered else None,
        "answerTemplateNo": None,
        "answerRegistrationDateTime": naver_time(answered_at) if answered else None,
        "answered": answered,
        "orderId": link.order_id,
        "productNo": str(q.product.channel_product_no),
        "productOrderIdList": ",".join(link.line_ids),
        "productName": q.product.name,
        "productOrderOption": q.product.option,
        "customerId": masked_writer_id(rng),
        "customerName": masked_name(rng),
        **_internal(q, link),
    }
