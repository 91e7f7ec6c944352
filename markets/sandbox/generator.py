"""Realistic Korean buyer inquiries for seeding the sandbox marketplace.

Each generator returns an item in the marketplace's *native* shape (field names as in
research/market-apis.md), so the clients parse sandbox data exactly like real data. All randomness
comes from the ``random.Random`` passed in, so a seed reproduces a data set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class Product:
    product_id: int
    name: str
    vendor_item_id: int
    option: str


PRODUCTS: tuple[Product, ...] = (
    Product(7120034501, "무선 블루투스 이어폰 X2 노이즈캔슬링", 85012345001, "화이트"),
    Product(7120034502, "스테인리스 진공 텀블러 500ml", 85012345002, "미드나잇 블루"),
    Product(7120034503, "접이식 경량 캠핑 의자", 85012345003, "카키 / 1개"),
    Product(7120034504, "유기농 현미 5kg (2025년 햅쌀)", 85012345004, "5kg x 1포"),
    Product(7120034505, "아기 물티슈 캡형 100매 x 10팩", 85012345005, "10팩"),
    Product(7120034506, "남성 기능성 반팔 티셔츠", 85012345006, "블랙 / L"),
    Product(7120034507, "LED 무드등 수면등 USB 충전식", 85012345007, "웜화이트"),
    Product(7120034508, "전기 그릴 양면 멀티쿠커", 85012345008, "기본형"),
    Product(7120034509, "고양이 두부모래 7L x 3개", 85012345009, "오리지널"),
    Product(7120034510, "여성 경량 패딩 조끼", 85012345010, "베이지 / 66"),
)

# intent → (title, question) templates; {product} is replaced by the product name.
QUESTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "배송문의": (
        ("배송 언제 되나요?", "주문한 지 3일이 지났는데 아직 배송 준비중으로 나와요. 언제 출고되나요?"),
        ("송장번호 조회가 안돼요", "송장번호가 등록됐는데 택배사 조회가 안 됩니다. 확인 부탁드려요."),
        ("오늘 발송 가능한가요?", "{product} 오늘 주문하면 오늘 발송되나요? 주말 전에 받아야 해서요."),
        ("배송지 변경", "배송지를 회사 주소로 바꾸고 싶은데 아직 변경 가능할까요?"),
    ),
    "사용법": (
        ("페어링 방법", "{product} 휴대폰이랑 연결이 안 돼요. 페어링 어떻게 하나요?"),
        ("세척 방법", "{product} 식기세척기에 넣어도 되나요? 세척 방법 알려주세요."),
        ("충전 시간", "완충까지 얼마나 걸리나요? 충전 표시등이 계속 빨간색이에요."),
    ),
    "상품문의": (
        ("사이즈 문의", "{product} 평소 100 입는데 L 사이즈면 맞을까요?"),
        ("소재 문의", "{product} 소재가 어떻게 되나요? 피부가 예민해서요."),
        ("정품 여부", "이 제품 정품 맞나요? 보증서도 같이 오나요?"),
        ("유통기한", "{product} 유통기한이 언제까지인 제품이 발송되나요?"),
    ),
    "교환반품": (
        ("교환 요청", "{product} 색상이 사진이랑 달라요. 다른 색으로 교환 가능한가요?"),
        ("반품하고 싶어요", "단순 변심인데 반품 가능할까요? 포장은 뜯지 않았습니다."),
        ("불량 교환", "받았는데 전원이 안 켜져요. 불량인 것 같은데 교환해 주세요."),
    ),
    "환불": (
        ("환불 언제 되나요", "반품 회수된 지 일주일이 지났는데 아직 환불이 안 됐어요."),
        ("부분 환불 문의", "세트 중 한 개가 파손돼서 왔어요. 부분 환불 되나요?"),
    ),
    "주문취소": (
        ("주문 취소해주세요", "실수로 두 번 주문했어요. 하나는 취소 부탁드립니다."),
        ("취소 가능 여부", "아직 발송 전이면 취소하고 싶습니다. 가능한가요?"),
    ),
    "재입고": (
        ("재입고 문의", "{product} 품절인데 재입고 언제 되나요?"),
        ("재입고 알림", "다른 색상도 재입고 예정 있나요? 알림 받고 싶어요."),
    ),
    "기타": (
        ("세금계산서", "사업자인데 세금계산서 발행 가능한가요?"),
        ("선물 포장", "선물용인데 포장 가능할까요? 가격표는 빼주세요."),
    ),
}

# Inquiries that must never be auto-answered (risk keywords such as 소비자원/고소/법적).
RISKY: tuple[tuple[str, str, str], ...] = (
    ("환불", "환불 처리 요구", "환불 요청한 지 2주째입니다. 이번 주까지 처리 안 되면 소비자원에 신고하겠습니다."),
    ("교환반품", "불량품 항의", "불량품을 보내놓고 교환도 안 해주시네요. 계속 이러시면 고소하겠습니다."),
    ("배송문의", "배송 지연 항의", "배송이 3주째 안 옵니다. 법적 조치 진행하겠습니다."),
    ("상품문의", "허위 광고 신고", "상세페이지와 전혀 다른 제품입니다. 허위광고로 공정위에 신고할 예정입니다."),
    ("기타", "개인정보 유출", "제 개인정보가 유출된 것 같습니다. 변호사와 상담 중입니다."),
)

ANSWERS: dict[str, str] = {
    "배송문의": "안녕하세요, 고객님. 주문하신 상품은 내일 출고 예정이며, 출고 후 1~2일 내 받아보실 수 있습니다. 감사합니다.",
    "사용법": "안녕하세요, 고객님. 전원 버튼을 5초간 눌러 페어링 모드로 전환한 뒤 휴대폰 블루투스 목록에서 선택해 주세요.",
    "상품문의": "안녕하세요, 고객님. 문의하신 상품은 정품이며 상세페이지의 소재 및 사이즈 정보를 참고해 주세요.",
    "교환반품": "안녕하세요, 고객님. 마이페이지에서 교환/반품 신청해 주시면 회수 기사님이 방문 예정입니다.",
    "환불": "안녕하세요, 고객님. 회수 상품 검수 후 영업일 기준 2~3일 내 환불 처리됩니다.",
    "주문취소": "안녕하세요, 고객님. 요청하신 주문은 취소 처리되었습니다. 감사합니다.",
    "재입고": "안녕하세요, 고객님. 해당 상품은 다음 주 중 재입고 예정입니다.",
    "기타": "안녕하세요, 고객님. 문의 주셔서 감사합니다. 확인 후 안내드리겠습니다.",
}

FAMILY_NAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN_NAMES = ("민준", "서연", "도윤", "하은", "지호", "수아", "예준", "지우", "시우", "서윤", "주원", "하린")
RECEIPT_CATEGORIES = ("배송문의>배송지연>판매자이관", "교환/반품>불량>판매자이관", "상품문의>상품정보>판매자이관", "기타문의>기타>판매자이관")
NAVER_CATEGORIES = {"배송문의": "배송", "사용법": "상품", "상품문의": "상품", "교환반품": "교환", "환불": "환불", "주문취소": "기타", "재입고": "상품", "기타": "기타"}


@dataclass
class Question:
    intent: str
    title: str
    text: str
    risky: bool
    product: Product


def make_question(rng: random.Random, *, risk_ratio: float = 0.1) -> Question:
    product = rng.choice(PRODUCTS)
    if rng.random() < risk_ratio:
        intent, title, text = rng.choice(RISKY)
        return Question(intent, title, text, True, product)
    intent = rng.choice(tuple(QUESTIONS))
    title, text = rng.choice(QUESTIONS[intent])
    return Question(intent, title, text.format(product=product.name), False, product)


def masked_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN_NAMES)
    return f"{rng.choice(FAMILY_NAMES)}*{given[-1]}"


def masked_writer_id(rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return "".join(rng.choice(letters) for _ in range(3)) + "****"


def random_created_at(rng: random.Random, *, days_back: float, now: datetime | None = None) -> datetime:
    now = now or datetime.now(timezone.utc)
    return (now - timedelta(seconds=rng.uniform(60, max(61.0, days_back * 86400)))).astimezone(KST)


def coupang_time(value: datetime) -> str:
    """Coupang's naive KST ``yyyy-MM-dd HH:mm:ss``."""
    return value.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S")


def naver_time(value: datetime) -> str:
    """Naver's ``yyyy-MM-dd'T'HH:mm:ss.SSS+09:00``."""
    return value.astimezone(KST).isoformat(timespec="milliseconds")


def coupang_online_item(
    rng: random.Random, *, inquiry_id: int, created_at: datetime, answered: bool, comment_id: int, risk_ratio: float = 0.1
) -> dict[str, Any]:
    q = make_question(rng, risk_ratio=risk_ratio)
    item: dict[str, Any] = {
        "inquiryId": inquiry_id,
        "productId": q.product.product_id,
        "sellerProductId": q.product.product_id + 1_000_000,
        "sellerItemId": q.product.vendor_item_id + 1_000_000,
        "vendorItemId": q.product.vendor_item_id,
        "content": q.text,
        "inquiryAt": coupang_time(created_at),
        "orderIds": [rng.randint(10**13, 10**14 - 1)] if rng.random() < 0.6 else None,
        "commentDtoList": [],
        "_intent": q.intent,
        "_risky": q.risky,
    }
    if answered:
        at = created_at + timedelta(hours=rng.uniform(0.5, 20))
        item["commentDtoList"].append(
            {"inquiryCommentId": comment_id, "inquiryId": inquiry_id, "content": ANSWERS[q.intent], "inquiryCommentAt": coupang_time(at)}
        )
    return item


def coupang_callcenter_item(
    rng: random.Random, *, inquiry_id: int, created_at: datetime, answered: bool, answer_ids: tuple[int, int], risk_ratio: float = 0.1
) -> dict[str, Any]:
    q = make_question(rng, risk_ratio=risk_ratio)
    transfer_at = created_at + timedelta(minutes=rng.uniform(1, 30))
    order_id = rng.randint(10**13, 10**14 - 1)
    agent_reply = {
        "receptionistName": "쿠팡 고객센터",
        "receptionist": "cs" + str(rng.randint(10000, 99999)),
        "replyAt": coupang_time(transfer_at),
        "content": f"[판매자이관]\n◼주문번호: {order_id}\n◼고객문의: {q.text}\n판매자 확인 및 답변 부탁드립니다.",
        "answerId": answer_ids[0],
        "parentAnswerId": 0,
        "partnerTransferStatus": "answered" if answered else "requestAnswer",
        "partnerTransferCompleteReason": "NONE",
        "answerType": "csAgent",
        "needAnswer": not answered,
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
        "csPartnerCounselingStatus": "answered" if answered else "requestAnswer",
        "inquiryStatus": "progress",
        "vendorItemId": [q.product.vendor_item_id],
        "itemName": f"{q.product.name}, {q.product.option}",
        "content": q.title,
        "answeredAt": coupang_time(transfer_at + timedelta(hours=1)) if answered else None,
        "replies": replies,
        "inquiryAt": coupang_time(created_at),
        "buyerEmail": "",
        "buyerPhone": f"010-****-{rng.randint(1000, 9999)}",
        "orderId": order_id,
        "orderDate": coupang_time(created_at - timedelta(days=rng.uniform(1, 5))),
        "receiptCategory": rng.choice(RECEIPT_CATEGORIES),
        "saleStartedAt": "2024-01-01",
        "saleEndedAt": "2099-12-30",
        "_intent": q.intent,
        "_risky": q.risky,
    }


def naver_qna_item(
    rng: random.Random, *, question_id: int, created_at: datetime, answered: bool, risk_ratio: float = 0.1
) -> dict[str, Any]:
    q = make_question(rng, risk_ratio=risk_ratio)
    return {
        "createDate": naver_time(created_at),
        "question": q.text,
        "answer": ANSWERS[q.intent] if answered else None,
        "answered": answered,
        "productId": q.product.product_id + 3_000_000_000,
        "productName": q.product.name,
        "maskedWriterId": masked_writer_id(rng),
        "questionId": question_id,
        "_intent": q.intent,
        "_risky": q.risky,
    }


def naver_inquiry_item(
    rng: random.Random, *, inquiry_no: int, created_at: datetime, answered: bool, comment_no: int, risk_ratio: float = 0.1
) -> dict[str, Any]:
    q = make_question(rng, risk_ratio=risk_ratio)
    order_id = str(rng.randint(2024_0000_0000_0000, 2025_9999_9999_9999))
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
        "orderId": order_id,
        "productNo": str(q.product.product_id + 3_000_000_000),
        "productOrderIdList": f"{order_id}01",
        "productName": q.product.name,
        "productOrderOption": q.product.option,
        "customerId": masked_writer_id(rng),
        "customerName": masked_name(rng),
        "_intent": q.intent,
        "_risky": q.risky,
    }
