"""Answers from the buyer's order: its own state, carrier, tracking number and dates, or — when a person
must act on it (cancelled, returned, exchanged, a delivery problem, "delivered" but not received, tracking
that stopped, a late dispatch, an order we cannot find) — a draft stating the facts for the person."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from inquiries.agent.facts import (
    LOOKUP_FAILED,
    LOOKUP_NOT_FOUND,
    LOOKUP_NOT_MIRRORED,
    InquiryFacts,
    OrderFact,
    ShippingFacts,
)
from inquiries.agent.grounding_result import (
    ORDER_LOOKUP_FAILED,
    ORDER_NEEDS_PERSON,
    ORDER_NOT_FOUND,
    P_ORDER,
    Grounding,
    compose,
    day_text,
    line_product,
    product_subject,
    when_text,
)
from inquiries.agent.knowledge import render
from inquiries.agent.normalize import NormalizedText, strip_framing
from partialauto.calendar import SEOUL

# Cues on the compact text.
_NOT_RECEIVED = re.compile(
    r"못받|안받았|받지못|받은적없|수령(?:을)?못|안왔|안와|안옴|없어요|없는데|없습니다|없네|다른집|옆집|다른주소|다른곳|"
    r"다른사람|엉뚱한|잘못배달|잘못배송된|오배달|분실|도난|사라졌|가져갔|못찾|어디에도없|배송완료(?:라|로|라고)?(?:뜨|떴|나오|되어|돼|됐)"
    r"\w{0,8}(?:없|못|안)"
)
# An order's status answers a question about where it is or when it comes; a request about the order
# (change the address, tell the courier, send it together, hold it) is for a person even when its
# status is fine.
_STATUS_QUESTION = re.compile(
    r"언제|어디|며칠|몇일|얼마나|송장|운송장|조회|추적|상태|현황|진행|출고|발송|출발|도착|받을수|받아볼수|오나|올까|와요|왔나|"
    r"오는지|오는거|되나|됐나|된건가|맞나|인가요|나요|까요|where|when|status|tracking"
)
_ORDER_REQUEST = re.compile(
    r"부탁|해주세요|해 주세요|해주실|주세요|바꿔|변경|맡겨|놓아|두세요|둬주|놔주|전달|묶어|"
    r"합배송|같이보내|보류|늦게보내|"
    r"빨리보내|취소"
)


def _relevant_lines(facts: InquiryFacts, item_ids: Iterable[str]) -> tuple[OrderFact, ...]:
    """The lines of the named order(s); only those of the asked-about item when the inquiry names one."""
    wanted = set(item_ids)
    if wanted:
        lines = tuple(line for line in facts.orders if wanted & set(line.product_ids))
        if lines:
            return lines
    return facts.orders


def _attention(
    line: OrderFact, text: NormalizedText, policy: ShippingFacts | None, today: dt.date, now: dt.datetime
) -> tuple[str, str] | None:
    """(code, person-facing sentence about the facts) when a person must act on this line."""
    product = product_subject(line_product(line))
    tracking = f"{line.carrier_name} 운송장 {line.tracking_number}".strip() if line.tracking_number else ""
    if line.status == "CANCELLED" or (line.claim_type == "CANCEL" and line.status not in ("RETURNED", "EXCHANGED")):
        state = (
            "취소된 상태입니다" if line.status == "CANCELLED" else f"취소 요청이 접수된 상태입니다({line.claim_status})"
        )
        return "cancelled", f"주문하신 {product} {state}."
    if line.status == "RETURNED" or line.claim_type == "RETURN":
        return "returned", f"주문하신 {product} 반품이 접수된 상태입니다({line.claim_status or line.raw_status})."
    if line.status == "EXCHANGED" or line.claim_type == "EXCHANGE":
        return "exchanged", f"주문하신 {product} 교환이 진행된 주문입니다({line.claim_status or line.raw_status})."
    if line.delivery_issue:
        return "delivery_issue", (
            f"주문하신 {product} 배송 정보에 문제가 있어({line.delivery_issue}) 택배사 확인이 "
            f"필요합니다{f' ({tracking})' if tracking else ''}."
        )
    if line.status == "DELIVERED" and _NOT_RECEIVED.search(text.compact):
        when = when_text(line.delivered_at, today) if line.delivered_at else ""
        return "misdelivered", (
            f"주문하신 {product} {tracking} 기준으로 {when} 배송 완료로 조회되지만 받지 못하셨다고 "
            f"하셔서, 택배사에 실제 배송 위치를 확인하겠습니다."
        )
    if line.status in ("SHIPPED", "IN_TRANSIT"):
        stalled_after = dt.timedelta(days=policy.stalled_after_days if policy else 4)
        moved = line.last_movement_at or line.shipped_at
        if moved is None or now - moved > stalled_after:
            since = when_text(moved, today) if moved else "출고 이후"
            return "stalled", (
                f"주문하신 {product} {tracking} 기준으로 {since} 이후 배송 조회가 갱신되지 않고 있어 "
                f"택배사에 확인을 요청하겠습니다."
            )
        if not line.tracking_number and line.status == "SHIPPED" and line.raw_status != "DEPARTURE":
            return "no_tracking", f"주문하신 {product} 출고되었지만 운송장 번호가 없어 배송 방법을 확인하겠습니다."
    if line.status in ("PAID", "PREPARING"):
        promised = line.expected_dispatch_date
        if promised is not None and promised < today:
            return "late_dispatch", (
                f"주문하신 {product} 출고 예정일({day_text(promised, today)})이 지났지만 아직 "
                f"출고 전입니다. 출고 일정을 확인해 다시 안내드리겠습니다."
            )
    return None


def _line_sentences(line: OrderFact, policy: ShippingFacts | None, today: dt.date) -> list[str] | None:
    """What the buyer wants to know about a line in a normal state; None when a fact is missing."""
    product = product_subject(line_product(line))
    transit = (
        f" 보통 출고 후 {policy.transit_days_min}~{policy.transit_days_max}일 안에 받아보실 수 있습니다."
        if policy
        else ""
    )
    if line.status in ("PAID", "PREPARING"):
        day = line.expected_dispatch_date
        if day is None and policy is not None and line.paid_at is not None:
            day = policy.dispatch_date(line.paid_at)
        if day is None:
            return None
        state = "결제가 완료되어 출고를 기다리고 있으며" if line.status == "PAID" else "현재 상품 준비 중이며"
        return [
            f"주문하신 {product} {state}, {day_text(day, today)}에 출고될 예정입니다.",
            "출고되면 송장번호가 등록되어 주문 상세에서 바로 배송 조회를 하실 수 있습니다." + transit,
        ]
    if not line.tracking_number or not line.carrier_name:
        return None
    carrier = render("{x}(으)로", {"x": line.carrier_name})[0]
    if line.status == "SHIPPED":
        when = f"{when_text(line.shipped_at, today)}에 " if line.shipped_at else ""
        return [
            f"주문하신 {product} {when}{carrier} 출고되었고, 운송장 번호는 {line.tracking_number}입니다.",
            "택배사가 상품을 인수한 직후에는 배송 조회에 반영되기까지 반나절 정도 걸릴 수 있습니다." + transit,
        ]
    if line.status == "IN_TRANSIT":
        when = f"{when_text(line.shipped_at, today)}에 출고되어 " if line.shipped_at else ""
        return [
            f"주문하신 {product} {when}현재 {line.carrier_name}에서 배송 중입니다.",
            f"운송장 번호는 {line.tracking_number}이며, 택배사 배송 조회에서 현재 위치를 확인하실 수 있습니다."
            + transit,
        ]
    if line.status == "DELIVERED":
        when = f"{when_text(line.delivered_at, today)}에 " if line.delivered_at else ""
        return [
            f"주문하신 {product} {when}배송 완료되었습니다({line.carrier_name}, 운송장 번호 {line.tracking_number}).",
            "문 앞이나 경비실, 택배함에 보관되었을 수 있으니 한 번 확인해 주세요.",
        ]
    return None


def ground_order(facts: InquiryFacts, text: NormalizedText, item_ids: Iterable[str], seller: str) -> Grounding:
    lookup = facts.lookup_ref()
    if not facts.orders:
        reason = {
            LOOKUP_NOT_FOUND: ORDER_NOT_FOUND,
            LOOKUP_FAILED: ORDER_LOOKUP_FAILED,
            LOOKUP_NOT_MIRRORED: ORDER_NOT_FOUND,
        }.get(facts.order_lookup, ORDER_NOT_FOUND)
        return Grounding(
            True,
            "",
            [lookup],
            True,
            reason,
            f"order {','.join(facts.order_ids)}: {facts.order_lookup} {facts.lookup_error}".strip(),
            kind="person",
        )
    today = facts.now.astimezone(SEOUL).date()
    lines = _relevant_lines(facts, item_ids)
    refs = [line.ref() for line in lines]
    asked = strip_framing(text.compact)  # "판매자 확인 및 답변 부탁드립니다" is the marketplace's, not a request
    if _ORDER_REQUEST.search(asked) and not _STATUS_QUESTION.search(asked):
        return Grounding(
            True,
            "",
            refs,
            True,
            ORDER_NEEDS_PERSON,
            "a request about the order, not a status question",
            kind="person",
            record={"attention": ["request"]},
        )
    person, sentences = [], []
    for line in lines:
        attention = _attention(line, text, facts.shipping, today, facts.now)
        if attention is not None:
            person.append(attention)
            continue
        said = _line_sentences(line, facts.shipping, today)
        if said is None:
            person.append(
                (
                    "missing_fact",
                    f"주문하신 {product_subject(line_product(line))} 현재 상태({line.status})를 확인하겠습니다.",
                )
            )
        else:
            sentences += said
    if len(lines) > 1 and sentences and not person:
        sentences.insert(0, f"주문하신 상품은 {len(lines)}개로 나뉘어 발송됩니다.")
    if facts.shipping is not None and any(line.status in ("PAID", "PREPARING") for line in lines):
        refs.append(facts.shipping.ref("dispatch"))
    if person:
        codes = sorted({code for code, _sentence in person})
        draft = compose([sentence for _code, sentence in person] + sentences, seller)
        return Grounding(
            True,
            draft,
            refs,
            True,
            ORDER_NEEDS_PERSON,
            "order needs a person: " + ", ".join(codes),
            kind="person",
            record={"attention": codes},
        )
    return Grounding(True, compose(sentences, seller), refs, False, "", "order status", P_ORDER, "order_status", lines)
