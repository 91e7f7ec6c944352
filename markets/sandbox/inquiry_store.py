"""The inquiry half of ``SandboxStore``: add generated or given inquiries, read, delete or answer them
outside the API, and the changes an answer makes to a stored item.

A mixin on top of the order half (``OrderStore``): a generated question that names an order gets that
order first. Every method takes the store lock.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from markets.clients.types import (
    ALL_KINDS,
    COUPANG_CALLCENTER,
    COUPANG_ONLINE,
    KST,
    NAVER_INQUIRY,
    NAVER_QNA,
)
from markets.sandbox import generator
from markets.sandbox.order_store import OrderStore

# Of the unanswered call-center inquiries `market_sandbox --seed-inquiries` generates, the share that are
# TRANSFERs (finished by Coupang's call centre; the seller only confirms them).
SEED_TRANSFER_SHARE = 0.1

COUPANG_KINDS = (COUPANG_ONLINE, COUPANG_CALLCENTER)
NAVER_KINDS = (NAVER_QNA, NAVER_INQUIRY)

ID_FIELD = {
    COUPANG_ONLINE: "inquiryId",
    COUPANG_CALLCENTER: "inquiryId",
    NAVER_QNA: "questionId",
    NAVER_INQUIRY: "inquiryNo",
}
# Distinct id ranges per kind make an answer posted to the wrong resource fail loudly.
ID_BASE = {
    COUPANG_ONLINE: 100_000,
    COUPANG_CALLCENTER: 1_015_000_000,
    NAVER_QNA: 500_000_000,
    NAVER_INQUIRY: 700_000_000,
}


class InquiryStore(OrderStore):
    """Inquiry methods of ``SandboxStore`` (mixed in; the store provides the state below)."""

    transfer_rng: random.Random
    items: dict[str, dict[int, dict[str, Any]]]
    _next_id: dict[str, int]
    _next_sub_id: int

    # -- inquiries --

    def _default_owner(self, kind: str) -> str:
        with self.lock:
            pool = self.coupang_accounts if kind in COUPANG_KINDS else self.naver_accounts
            if not pool:
                raise ValueError(
                    f"register a {'Coupang' if kind in COUPANG_KINDS else 'Naver'} "
                    f"account before adding {kind} inquiries"
                )
            return next(iter(pool))

    def new_sub_id(self) -> int:
        with self.lock:
            self._next_sub_id += 1
            return self._next_sub_id

    def _new_id(self, kind: str) -> int:
        with self.lock:
            self._next_id[kind] += 1
            return self._next_id[kind]

    def add_inquiry(
        self,
        kind: str,
        *,
        owner: str | None = None,
        created_at: datetime | str | None = None,
        answered: bool = False,
        content: str | None = None,
        title: str | None = None,
        answer: str | None = None,
        risk_ratio: float = 0.0,
        days_back: float = 3.0,
        intent: str | None = None,
        scenario: str | None = None,
        order: str | int | None = None,
        transfer: bool = False,
        **native: Any,
    ) -> str:
        """Add one inquiry; returns its external id (str).

        Convenience arguments are mapped to the native fields; anything else in ``native`` overrides
        native fields verbatim (e.g. ``inquiryStatus="complete"``), including the id field. ``transfer``
        makes an unanswered call-center inquiry a TRANSFER: finished by Coupang's call centre, the seller
        only confirms it.

        Orders: a generated question that names an order (``_scenario`` set) gets that order created
        first, its last event shortly before the inquiry. ``scenario`` asks a shipping question about a
        new order in that state (or ``"policy"``: no order); ``intent`` forces the intent; ``order``
        names an existing order or line id instead (the question then fits that line's state).
        """
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        with self.lock:
            rng = self.rng
            if isinstance(created_at, str):
                parsed = datetime.fromisoformat(created_at)
                created_at = parsed if parsed.tzinfo else parsed.replace(tzinfo=KST)
            link = None
            if order is not None:
                link, product, line_scenario, last = self._existing_order(kind, owner, str(order))
                owner = owner or self.orders.orders[link.order_id].owner
                shipping = intent in (None, "배송문의")
                question = generator.make_question(
                    rng,
                    kind=kind,
                    intent=None if shipping else intent,
                    product=product,
                    scenario=line_scenario if shipping else None,
                    risk_ratio=0.0,
                )
                question.scenario = line_scenario
                now = datetime.now(UTC)
                when = created_at or max(last + timedelta(seconds=1), now - timedelta(minutes=rng.uniform(1, 20)))
            else:
                owner = owner or self._default_owner(kind)
                when = created_at or generator.random_created_at(rng, days_back=days_back)
                question = generator.make_question(
                    rng, kind=kind, risk_ratio=risk_ratio, intent=intent, scenario=scenario
                )
                if generator.needs_order(question):
                    link = self._order_for_question(kind, owner, question, when)
            id_field = ID_FIELD[kind]
            inquiry_id = int(native[id_field]) if id_field in native else self._new_id(kind)
            if kind == COUPANG_ONLINE:
                item = generator.coupang_online_item(
                    rng,
                    inquiry_id=inquiry_id,
                    created_at=when,
                    answered=answered,
                    comment_id=self.new_sub_id(),
                    question=question,
                    order=link,
                )
                if content is not None:
                    item["content"] = content
                if answer is not None and item["commentDtoList"]:
                    item["commentDtoList"][0]["content"] = answer
            elif kind == COUPANG_CALLCENTER:
                item = generator.coupang_callcenter_item(
                    rng,
                    inquiry_id=inquiry_id,
                    created_at=when,
                    answered=answered,
                    answer_ids=(self.new_sub_id(), self.new_sub_id()),
                    question=question,
                    order=link,
                    transfer=transfer,
                )
                if content is not None:
                    label = "상담완료 이관" if item["csPartnerCounselingStatus"] == "transfer" else "판매자이관"
                    item["replies"][0]["content"] = f"[{label}]\n◼주문번호: {item['orderId']}\n◼고객문의: {content}"
                if title is not None:
                    item["content"] = title
                if answer is not None and len(item["replies"]) > 1:
                    item["replies"][1]["content"] = answer
            elif kind == NAVER_QNA:
                item = generator.naver_qna_item(
                    rng, question_id=inquiry_id, created_at=when, answered=answered, question=question
                )
                if content is not None:
                    item["question"] = content
                if answer is not None and answered:
                    item["answer"] = answer
            else:
                item = generator.naver_inquiry_item(
                    rng,
                    inquiry_no=inquiry_id,
                    created_at=when,
                    answered=answered,
                    comment_no=self.new_sub_id(),
                    question=question,
                    order=link,
                )
                if content is not None:
                    item["inquiryContent"] = content
                if title is not None:
                    item["title"] = title
                if answer is not None and answered:
                    item["answerContent"] = answer
            item.update(native)
            item["_owner"] = owner
            item["_deleted"] = False
            self.items[kind][inquiry_id] = item
            return str(inquiry_id)

    def add_inquiries(
        self,
        kind: str,
        count: int = 1,
        *,
        owner: str | None = None,
        answered_ratio: float = 0.2,
        risk_ratio: float = 0.1,
        days_back: float = 3.0,
        start: datetime | None = None,
        end: datetime | None = None,
        transfer_ratio: float = 0.0,
    ) -> list[str]:
        """Add ``count`` generated inquiries (about ``answered_ratio`` already answered; of the unanswered
        call-center ones, about ``transfer_ratio`` TRANSFERs that only need a confirmation).

        Creation times are random within the last ``days_back`` days, or evenly spread over
        [start, end] when both are given.
        """
        if count < 0 or count > 100_000:
            raise ValueError("count must be between 0 and 100000")
        ids = []
        with self.lock:
            for index in range(count):
                created_at = None
                if start is not None and end is not None:
                    step = (end - start) / max(1, count - 1) if count > 1 else timedelta(0)
                    created_at = start + step * index
                answered = self.rng.random() < answered_ratio
                transfer = kind == COUPANG_CALLCENTER and not answered and self.transfer_rng.random() < transfer_ratio
                ids.append(
                    self.add_inquiry(
                        kind,
                        owner=owner,
                        created_at=created_at,
                        answered=answered,
                        risk_ratio=risk_ratio,
                        days_back=days_back,
                        transfer=transfer,
                    )
                )
        return ids

    def get_inquiry(self, kind: str, external_id: str | int) -> dict[str, Any] | None:
        """A copy of one stored item (native shape, internal ``_`` keys included)."""
        with self.lock:
            item = self.items.get(kind, {}).get(int(external_id))
            return copy.deepcopy(item) if item is not None else None

    def list_items(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(item) for item in self.items[kind].values()]

    def delete_inquiry(self, kind: str, external_id: str | int) -> bool:
        with self.lock:
            item = self.items.get(kind, {}).get(int(external_id))
            if item is None:
                return False
            item["_deleted"] = True
            return True

    def mark_answered_elsewhere(
        self, kind: str, external_id: str | int, text: str = "판매자센터에서 직접 답변했습니다."
    ) -> None:
        """Simulate a person answering in the seller centre (no ledger entry: not via the API)."""
        with self.lock:
            item = self.items[kind][int(external_id)]
            now = datetime.now(UTC)
            if kind == COUPANG_ONLINE:
                item["commentDtoList"].append(
                    {
                        "inquiryCommentId": self.new_sub_id(),
                        "inquiryId": item["inquiryId"],
                        "content": text,
                        "inquiryCommentAt": generator.coupang_time(now),
                    }
                )
            elif kind == COUPANG_CALLCENTER:
                _apply_callcenter_answer(self, item, text, "wing-user", None)
            elif kind == NAVER_QNA:
                item.update(answer=text, answered=True)
            else:
                _apply_inquiry_answer(self, item, text)


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    """The item as the marketplace would serve it (internal keys removed)."""
    return {key: copy.deepcopy(value) for key, value in item.items() if not key.startswith("_")}


def _apply_callcenter_answer(
    store: InquiryStore, item: dict[str, Any], text: str, reply_by: str, parent_answer_id: int | None
) -> None:
    now = datetime.now(UTC)
    for reply in item["replies"]:
        if reply.get("partnerTransferStatus") == "requestAnswer" and (
            parent_answer_id is None or reply.get("answerId") == parent_answer_id
        ):
            reply["partnerTransferStatus"] = "answered"
            reply["needAnswer"] = False
            parent_answer_id = reply.get("answerId")
    item["replies"].append(
        {
            "receptionistName": "샌드박스몰",
            "receptionist": reply_by,
            "replyAt": generator.coupang_time(now),
            "content": text,
            "answerId": store.new_sub_id(),
            "parentAnswerId": parent_answer_id or 0,
            "partnerTransferStatus": None,
            "partnerTransferCompleteReason": "NONE",
            "answerType": "vendor",
            "needAnswer": False,
        }
    )
    item["csPartnerCounselingStatus"] = "answered"
    item["answeredAt"] = generator.coupang_time(now)


def awaiting_confirm(item: dict[str, Any]) -> dict[str, Any] | None:
    """The call-centre row of a TRANSFER that still waits for the seller's confirmation, if any."""
    return next(
        (
            r
            for r in item["replies"]
            if r.get("answerType") == "csAgent" and r.get("partnerTransferStatus") == "transfer"
        ),
        None,
    )


def _apply_callcenter_confirm(item: dict[str, Any]) -> None:
    """The seller confirmed a TRANSFER: the consultation is over."""
    transfer = awaiting_confirm(item)
    if transfer is not None:
        transfer["partnerTransferStatus"] = "answered"
    item["csPartnerCounselingStatus"] = "answered"
    item["inquiryStatus"] = "complete"
    item["answeredAt"] = generator.coupang_time(datetime.now(UTC))


def _apply_inquiry_answer(store: InquiryStore, item: dict[str, Any], text: str) -> int:
    comment_no = store.new_sub_id()
    item.update(
        answered=True,
        answerContent=text,
        answerContentId=comment_no,
        answerRegistrationDateTime=generator.naver_time(datetime.now(UTC)),
    )
    return comment_no
