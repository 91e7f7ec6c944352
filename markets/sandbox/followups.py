"""Buyers who write again: after a configurable share of the answers the sandbox accepts, the same
buyer asks again about the same order (Coupang online / call-center, Naver customer inquiries: same
order id, same customer id) or, on Naver product Q&A, the same product with the same question and the
same masked writer id — in realistic Korean wording: mostly complaints about the answer, some
repeats of the question.

Deterministic: the n-th eligible answer gets a follow-up when ``floor(n × share)`` grows, and the n-th
follow-up is a repeat (instead of a complaint) when ``floor(n × (1 − complaint_share))`` grows. No
random draw, so a seeded data set stays the same whether follow-ups are on or not.

Configure with ``POST /_sandbox/follow-ups`` ``{"share": 0.3, "intents": ["배송문의"],
"complaint_share": 0.8}`` (``share`` 0 switches it off) or ``market_sandbox --follow-up-share``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox import generator

COMPLAINTS: dict[str, tuple[str, ...]] = {
    "배송문의": (
        "답변 받았는데 그게 아니라요. 송장번호로 조회해도 아직 배송 준비중으로만 나와요.",
        "아직도 배송 조회가 안 되는데요. 언제 받을 수 있는지 정확히 알려주세요.",
        "안내해주신 날짜가 지났는데 여전히 도착을 안 했어요.",
        "질문한 건 그게 아니고요, 출고가 됐는지를 여쭤본 거예요.",
    ),
    "": (
        "답변 받았는데 제 질문이랑 다른 내용이에요. 다시 확인 부탁드려요.",
        "말씀하신 대로 해봤는데 여전히 안 돼요.",
        "답변 주셨는데 그게 아니라요, 제 주문 건으로 확인해 주세요.",
    ),
}
REPEAT_PREFIX = "다시 문의드립니다. "


@dataclass
class FollowUpConfig:
    share: float = 0.0
    intents: list[str] = field(default_factory=list)  # empty: every intent
    complaint_share: float = 0.8
    answers_seen: int = 0
    follow_ups_made: int = 0

    def update(self, changes: dict[str, Any]) -> None:
        for key in ("share", "complaint_share"):
            if key in changes:
                value = float(changes[key])
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{key} must be between 0 and 1")
                setattr(self, key, value)
        if "intents" in changes:
            intents = changes["intents"] or []
            if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
                raise ValueError("intents must be a list of intent names")
            self.intents = list(intents)
        unknown = set(changes) - {"share", "complaint_share", "intents"}
        if unknown:
            raise ValueError(f"unknown follow-up settings: {', '.join(sorted(unknown))}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _grows(n: int, share: float) -> bool:
    return math.floor(n * share + 1e-9) > math.floor((n - 1) * share + 1e-9)


def wanted(config: FollowUpConfig, item: dict[str, Any]) -> bool:
    """Counts one accepted answer; True when it gets a follow-up."""
    if config.share <= 0 or item.get("_follow_up_of") is not None:
        return False
    if config.intents and item.get("_intent") not in config.intents:
        return False
    config.answers_seen += 1
    return _grows(config.answers_seen, config.share)


def _question_text(kind: str, item: dict[str, Any]) -> str:
    if kind == NAVER_QNA:
        return str(item.get("question") or "")
    if kind == NAVER_INQUIRY:
        return str(item.get("inquiryContent") or "")
    if kind == COUPANG_CALLCENTER:
        note = str((item.get("replies") or [{}])[0].get("content") or "")
        return note.split("◼고객문의:", 1)[-1].split("\n", 1)[0].strip() or str(item.get("content") or "")
    return str(item.get("content") or "")


def follow_up_item(
    config: FollowUpConfig, kind: str, item: dict[str, Any], *, new_id: int, sub_ids: tuple[int, int]
) -> dict[str, Any]:
    """The same buyer's next inquiry about ``item`` (a new item of the same kind, unanswered)."""
    config.follow_ups_made += 1
    n = config.follow_ups_made
    original = _question_text(kind, item)
    # Naver product Q&A (and a Coupang product question without an order) names no buyer: only the same
    # question again about the same product can be linked to it, never a guess.
    anonymous = kind == NAVER_QNA or (kind == COUPANG_ONLINE and not item.get("orderIds"))
    repeat = anonymous or _grows(n, 1.0 - config.complaint_share)
    if repeat:
        text = original if anonymous else REPEAT_PREFIX + original
    else:
        wording = COMPLAINTS.get(str(item.get("_intent") or ""), COMPLAINTS[""])
        text = wording[(n - 1) % len(wording)]
    now = datetime.now(UTC)
    new = copy.deepcopy(item)
    new["_follow_up_of"] = str(item.get("inquiryId") or item.get("questionId") or item.get("inquiryNo") or "")
    new["_deleted"] = False
    if kind == COUPANG_ONLINE:
        new.update(inquiryId=new_id, content=text, inquiryAt=generator.coupang_time(now), commentDtoList=[])
    elif kind == COUPANG_CALLCENTER:
        agent = copy.deepcopy((item.get("replies") or [{}])[0])
        agent.update(
            content=(
                f"[판매자이관]\n◼주문번호: {item.get('orderId')}\n◼고객문의: {text}\n판매자 확인 및 답변 부탁드립니다."
            ),
            answerId=sub_ids[0],
            parentAnswerId=0,
            partnerTransferStatus="requestAnswer",
            needAnswer=True,
            replyAt=generator.coupang_time(now),
            answerType="csAgent",
        )
        new.update(
            inquiryId=new_id,
            inquiryAt=generator.coupang_time(now),
            csPartnerCounselingStatus="requestAnswer",
            inquiryStatus="progress",
            answeredAt=None,
            replies=[agent],
        )
    elif kind == NAVER_QNA:
        new.update(questionId=new_id, question=text, createDate=generator.naver_time(now), answer=None, answered=False)
    else:
        new.update(
            inquiryNo=new_id,
            inquiryContent=text,
            title="재문의",
            inquiryRegistrationDateTime=generator.naver_time(now),
            answered=False,
            answerContent=None,
            answerContentId=None,
            answerRegistrationDateTime=None,
        )
    return new
