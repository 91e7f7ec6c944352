"""Answers written from facts: the buyer's order, the seller's shipping policy, the product's facts.

:func:`ground` looks at the classified intent and the :class:`~inquiries.agent.facts.InquiryFacts`:

* 배송문의 naming an order → that order's own state, carrier, tracking number and dates. States where a
  person must act (cancelled, returned, exchanged, a claim, a delivery problem the marketplace reports,
  "delivered" but the buyer has nothing, tracking that stopped moving, dispatch later than promised, an
  order we cannot find) go to a person, with a draft stating the facts for them to check.
* 배송문의 without an order → the shipping policy (dispatch day on the business calendar, fees, regions,
  carrier, services). A request to look up *their* order without saying which goes to a person.
* 사용법 / 상품문의 → the product's facts that answer the question; none → a person.
* 교환반품 asking about the return fee → the shipping policy.

Anything else is left to the knowledge base (:mod:`inquiries.agent.knowledge`). The result says which
facts the draft used; a draft without any never goes out on its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from inquiries.agent.facts import (
    LOOKUP_FAILED,
    LOOKUP_NOT_FOUND,
    LOOKUP_NOT_MIRRORED,
    FactRef,
    InquiryFacts,
    OrderFact,
    ShippingFacts,
)
from inquiries.agent.knowledge import PLACEHOLDER_DEFAULTS, placeholder_value, render
from inquiries.agent.normalize import NormalizedText, strip_framing
from inquiries.agent.past_answers import PastMatch
from inquiries.agent.product_match import answering_facts, match_facts
from partialauto.calendar import SEOUL, WEEKDAYS_KO

# Why a person answers (the agent's reason codes; Korean labels in inquiries.agent.labels).
ORDER_NEEDS_PERSON = "ORDER_NEEDS_PERSON"
ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
ORDER_LOOKUP_FAILED = "ORDER_LOOKUP_FAILED"
NO_ORDER_REFERENCE = "NO_ORDER_REFERENCE"
NO_FACTS = "NO_FACTS"

SHIPPING, USAGE, PRODUCT, RETURNS = "배송문의", "사용법", "상품문의", "교환반품"

# How sure we are that the draft answers what was asked (scoring's p_answer).
P_ORDER = 0.99
P_POLICY = 0.97
P_PAST = 0.98

_OPEN = "{customer_greeting} {seller_name}입니다.\n"
_CLOSE = "\n감사합니다."

# Cues on the compact text.
_NOT_RECEIVED = re.compile(
    r"못받|안받았|받지못|받은적없|수령(?:을)?못|안왔|안와|안옴|없어요|없는데|없습니다|없네|다른집|옆집|다른주소|다른곳|"
    r"다른사람|엉뚱한|잘못배달|잘못배송된|오배달|분실|도난|사라졌|가져갔|못찾|어디에도없|배송완료(?:라|로|라고)?(?:뜨|떴|나오|되어|돼|됐)"
    r"\w{0,8}(?:없|못|안)"
)
_OWN_ORDER = re.compile(
    r"제주문|내주문|제가주문|주문한(?:거|것|게|상품|물건|제품)|시킨(?:거|것|게)|어디쯤|조회(?:해|좀|부탁)|송장(?:번호)?(?:알려|좀|부탁|뭐|어떻게)|"
    r"운송장(?:번호)?(?:알려|좀|부탁)|주문번호\d{6,}|\d{12,}|확인(?:좀)?(?:부탁|해주|해줘|바랍)|결제했는데|결제한지|주문한지|주문했는데"
)
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("dawn", re.compile(r"새벽배송|새벽에(?:받|도착|와)|샛별")),
    (
        "pickup",
        re.compile(
            r"편의점(?:픽업|수령|택배|으로|에서)|픽업|방문수령|직접수령|찾으러|반값택배|"
            r"(?:cu|gs25|세븐일레븐|이마트24|미니스톱)(?:편의점|반값|택배|픽업|로|으로|에서)"
        ),
    ),
    ("overseas", re.compile(r"해외배송|해외로|해외에|외국|국외|미국|일본|중국으로|캐나다|호주|overseas|international")),
    ("remote", re.compile(r"(?<!어)제주|도서산간|산간|섬지역|울릉|백령|추가배송비")),
    ("fee", re.compile(r"배송비|택배비|배송료|무료배송|무배|착불|선불")),
    (
        "carrier",
        re.compile(
            r"택배사|어디택배|무슨택배|어느택배|어떤택배|택배회사|대한통운|우체국택배|롯데택배|한진|로젠|cj|"
            r"택배(?:는|사는)?(?:어디|어느|무슨)(?:거|걸|꺼|회사)"
        ),
    ),
    (
        "timing",
        re.compile(
            r"언제\w{0,2}(?:출고|발송|도착|와|오|받|배송|보내|출발|나가|들어)|며칠|몇일|얼마나\w{0,2}걸|"
            r"오늘\w{0,4}(?:나가|출고|발송|보내|출발|배송|받)|당일\w{0,2}(?:출고|발송|배송|출발)|"
            r"(?:내일|모레|이번주|주말|월요일|화요일|수요일|목요일|금요일|토요일|일요일|\d{1,2}일)\w{0,6}(?:도착|받|와요|오나|올까|까지|전에)|"
            r"(?:배송|도착|출고|발송)\w{0,3}(?:기간|예정|일정|빠른|빠르|빨라|걸려|걸리|까지|는언제|언제)|빨리\w{0,3}(?:받|보내|와|발송)|"
            r"받을수|받아볼수|마감시간|몇시까지\w{0,4}(?:주문|결제)|\d{1,2}시\w{0,2}(?:전|이전|까지)\w{0,4}(?:주문|결제)|"
            r"(?:연휴|명절|공휴일|설날|추석)\w{0,6}(?:발송|출고|배송|보내)|delivery|ship|"
            # the days the seller ships on, how many days it takes, when an order placed at an hour leaves
            r"(?:주말|토요일|일요일)\w{0,3}(?:발송|출고|배송|보내|택배|나가)|(?:요일|주말)\w{0,2}(?:주문|결제)\w{0,3}(?:하면|시)|얼마만에|"
            r"(?:하루|이틀|사흘|나흘|일주일|며칠)\w{0,3}(?:이면|안에|만에|내로|내에)|"
            r"(?:내일|모레)\w{0,3}(?:출고|발송|출발|나가)|\d{1,2}시\w{0,3}(?:주문|결제)\w{0,4}(?:하면|시|해도)"
        ),
    ),
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
_RETURN_FEE = re.compile(
    r"(?:반품|교환|왕복|회수)\w{0,6}(?:배송비|택배비|비용|요금|얼마)|(?:배송비|택배비)\w{0,6}(?:반품|교환)"
)


@dataclass
class Grounding:
    """What grounding made of an inquiry. ``handled`` False: leave it to the knowledge base."""

    handled: bool = False
    draft: str = ""
    facts: list[FactRef] = field(default_factory=list)
    needs_person: bool = False
    reason: str = ""
    detail: str = ""
    p_answer: float = 0.0
    kind: str = ""  # order_status | shipping_policy | product_facts | person
    order_lines: tuple[OrderFact, ...] = ()  # lines whose state the draft states (checked again at send time)
    record: dict = field(default_factory=dict)
    # Sentences the draft quotes as the seller wrote them (product facts): the seller's own wording, like
    # the product name, is not scanned as the draft's ("화상을 입지 않도록…" in a manual is no incident).
    seller_text: tuple[str, ...] = ()

    def as_trace(self) -> dict:
        return {
            "handled": self.handled,
            "kind": self.kind,
            "needs_person": self.needs_person,
            "reason": self.reason,
            "detail": self.detail,
            "p_answer": self.p_answer,
            "fact_ids": [f.id for f in self.facts],  # the facts themselves are in the agent's result once
            **self.record,
        }


# --- formatting -----------------------------------------------------------------------------------


def _day_text(day: dt.date, today: dt.date) -> str:
    label = f"{day.month}월 {day.day}일({WEEKDAYS_KO[day.weekday()]})"
    if day == today:
        return f"오늘 {label}"
    if day == today + dt.timedelta(days=1):
        return f"내일 {label}"
    return label


def _when_text(at: dt.datetime, today: dt.date) -> str:
    return _day_text(at.astimezone(SEOUL).date(), today)


def _won(amount: int) -> str:
    return f"{amount:,}원"


def _compose(body: Iterable[str], seller_name: str) -> str:
    text = _OPEN + "\n".join(line for line in body if line) + _CLOSE
    return render(text, {"seller_name": seller_name})[0]


def _product(line: OrderFact) -> str:
    return placeholder_value(line.product_name) or PLACEHOLDER_DEFAULTS["product_name"]


def _topic(product: str) -> str:
    """The subject of a sentence about an order line. "상품(…)은" reads naturally whatever the name ends
    with (a model number, a size, a Latin letter)."""
    return f"상품({product})은"


# --- orders ------------------------------------------------------------------------------------------


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
    product = _topic(_product(line))
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
        when = _when_text(line.delivered_at, today) if line.delivered_at else ""
        return "misdelivered", (
            f"주문하신 {product} {tracking} 기준으로 {when} 배송 완료로 조회되지만 받지 못하셨다고 "
            f"하셔서, 택배사에 실제 배송 위치를 확인하겠습니다."
        )
    if line.status in ("SHIPPED", "IN_TRANSIT"):
        stalled_after = dt.timedelta(days=policy.stalled_after_days if policy else 4)
        moved = line.last_movement_at or line.shipped_at
        if moved is None or now - moved > stalled_after:
            since = _when_text(moved, today) if moved else "출고 이후"
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
                f"주문하신 {product} 출고 예정일({_day_text(promised, today)})이 지났지만 아직 "
                f"출고 전입니다. 출고 일정을 확인해 다시 안내드리겠습니다."
            )
    return None


def _line_sentences(line: OrderFact, policy: ShippingFacts | None, today: dt.date) -> list[str] | None:
    """What the buyer wants to know about a line in a normal state; None when a fact is missing."""
    product = _topic(_product(line))
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
            f"주문하신 {product} {state}, {_day_text(day, today)}에 출고될 예정입니다.",
            "출고되면 송장번호가 등록되어 주문 상세에서 바로 배송 조회를 하실 수 있습니다." + transit,
        ]
    if not line.tracking_number or not line.carrier_name:
        return None
    carrier = render("{x}(으)로", {"x": line.carrier_name})[0]
    if line.status == "SHIPPED":
        when = f"{_when_text(line.shipped_at, today)}에 " if line.shipped_at else ""
        return [
            f"주문하신 {product} {when}{carrier} 출고되었고, 운송장 번호는 {line.tracking_number}입니다.",
            "택배사가 상품을 인수한 직후에는 배송 조회에 반영되기까지 반나절 정도 걸릴 수 있습니다." + transit,
        ]
    if line.status == "IN_TRANSIT":
        when = f"{_when_text(line.shipped_at, today)}에 출고되어 " if line.shipped_at else ""
        return [
            f"주문하신 {product} {when}현재 {line.carrier_name}에서 배송 중입니다.",
            f"운송장 번호는 {line.tracking_number}이며, 택배사 배송 조회에서 현재 위치를 확인하실 수 있습니다."
            + transit,
        ]
    if line.status == "DELIVERED":
        when = f"{_when_text(line.delivered_at, today)}에 " if line.delivered_at else ""
        return [
            f"주문하신 {product} {when}배송 완료되었습니다({line.carrier_name}, 운송장 번호 {line.tracking_number}).",
            "문 앞이나 경비실, 택배함에 보관되었을 수 있으니 한 번 확인해 주세요.",
        ]
    return None


def _ground_order(facts: InquiryFacts, text: NormalizedText, item_ids: Iterable[str], seller: str) -> Grounding:
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
                ("missing_fact", f"주문하신 {_topic(_product(line))} 현재 상태({line.status})를 확인하겠습니다.")
            )
        else:
            sentences += said
    if len(lines) > 1 and sentences and not person:
        sentences.insert(0, f"주문하신 상품은 {len(lines)}개로 나뉘어 발송됩니다.")
    if facts.shipping is not None and any(line.status in ("PAID", "PREPARING") for line in lines):
        refs.append(facts.shipping.ref("dispatch"))
    if person:
        codes = sorted({code for code, _sentence in person})
        draft = _compose([sentence for _code, sentence in person] + sentences, seller)
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
    return Grounding(True, _compose(sentences, seller), refs, False, "", "order status", P_ORDER, "order_status", lines)


# --- the shipping policy ------------------------------------------------------------------------------


def _policy_sentences(topic: str, policy: ShippingFacts, now: dt.datetime) -> list[str]:
    today = now.astimezone(SEOUL).date()
    if topic == "timing":
        day = policy.dispatch_date(now)
        cutoff = policy.dispatch_cutoff
        if day is None or cutoff is None:  # the day is None exactly when there is no cut-off
            return []
        cutoff_text = f"{'오전' if cutoff.hour < 12 else '오후'} {cutoff.hour % 12 or 12}시" + (
            f" {cutoff.minute}분" if cutoff.minute else ""
        )
        days = "월~토요일" if policy.ships_on_saturday else "평일"
        rule = (
            f"{days} {cutoff_text} 전에 결제하신 주문은 "
            + (
                "당일 출고되며"
                if policy.dispatch_lead_days == 0
                else f"{policy.dispatch_lead_days}영업일 안에 출고되며"
            )
            + ", 그 이후 결제 건은 다음 출고일에 보내드립니다(주말·공휴일 제외)."
        )
        return [
            rule,
            f"지금 결제하시면 {_day_text(day, today)}에 출고될 예정이고, 출고 후 보통 "
            f"{policy.transit_days_min}~{policy.transit_days_max}일 안에 받아보실 수 있습니다.",
        ]
    if topic == "fee" and policy.base_fee is not None:
        if policy.base_fee == 0:
            return ["모든 상품은 무료배송입니다."]
        free = (
            f", {_won(policy.free_shipping_threshold)} 이상 구매하시면 무료배송입니다"
            if policy.free_shipping_threshold
            else ""
        )
        return [f"배송비는 {_won(policy.base_fee)}{free}."]
    if topic == "remote" and (policy.jeju_surcharge is not None or policy.remote_surcharge is not None):
        parts = []
        if policy.jeju_surcharge is not None:
            parts.append(
                f"제주 지역은 {_won(policy.jeju_surcharge)}" if policy.jeju_surcharge else "제주 지역은 추가 비용 없이"
            )
        if policy.remote_surcharge is not None:
            parts.append(
                f"제주 외 도서산간 지역은 {_won(policy.remote_surcharge)}"
                if policy.remote_surcharge
                else "도서산간 지역은 추가 비용 없이"
            )
        return [
            ", ".join(parts) + "의 추가 배송비가 붙습니다."
            if any(("원" in p) for p in parts)
            else "제주와 도서산간 지역도 추가 배송비 없이 보내드립니다."
        ]
    if topic == "carrier" and policy.carrier_name:
        carrier = render("{x}(으)로", {"x": policy.carrier_name})[0]
        return [f"상품은 {carrier} 보내드립니다."]
    if topic == "dawn":
        return [
            "새벽배송으로 보내드리고 있습니다."
            if policy.dawn_delivery
            else "죄송하지만 새벽배송은 제공하지 않고, 일반 택배로 보내드립니다."
        ]
    if topic == "pickup":
        return [
            "편의점 픽업으로도 받으실 수 있습니다."
            if policy.convenience_pickup
            else "죄송하지만 편의점 픽업은 제공하지 않고, 입력하신 배송지로 택배 발송해 드립니다."
        ]
    if topic == "overseas":
        return [
            "해외배송도 가능합니다."
            if policy.overseas_shipping
            else "죄송하지만 현재 해외배송은 하지 않고, 국내 배송지로만 보내드립니다."
        ]
    if topic == "return_fee" and policy.return_fee is not None and policy.exchange_fee is not None:
        return [
            f"단순 변심으로 반품하실 때는 반품 배송비 {_won(policy.return_fee)}, 교환하실 때는 왕복 배송비 "
            f"{_won(policy.exchange_fee)}이 듭니다.",
            "받으신 상품에 문제가 있거나 주문과 다른 상품이 온 경우에는 배송비 없이 처리해 드립니다.",
        ]
    return []


def _ground_policy(topics: list[str], facts: InquiryFacts, seller: str) -> Grounding | None:
    policy = facts.shipping
    if policy is None or not policy.complete:
        return None
    sentences, refs = [], []
    for topic in topics:
        said = _policy_sentences(topic, policy, facts.now)
        if said:
            sentences += said
            refs.append(policy.ref(topic))
    if not sentences:
        return None
    return Grounding(
        True,
        _compose(sentences, seller),
        refs,
        False,
        "",
        "shipping policy: " + ", ".join(topics),
        P_POLICY,
        "shipping_policy",
    )


def shipping_topics(text: NormalizedText) -> list[str]:
    return [name for name, pattern in _TOPICS if pattern.search(text.compact)]


# --- products -----------------------------------------------------------------------------------------


def _ground_product(facts: InquiryFacts, question: str, seller: str) -> Grounding:
    product = facts.product
    if product is None or not product.facts:
        return Grounding(False)
    matches = match_facts(question, product)
    chosen = answering_facts(matches)
    record = {
        "product": product.product_id,
        "candidates": [
            {"fact": m.fact.id, "score": m.score, "coverage": m.coverage, "shared": list(m.shared[:8])}
            for m in matches[:3]
        ],
    }
    if not chosen:
        return Grounding(
            True, "", [], True, NO_FACTS, "no product fact answers the question", kind="person", record=record
        )
    coverage = chosen[0].coverage
    p_answer = round(min(0.99, 0.82 + 0.3 * coverage), 4)
    quoted = tuple(m.fact.text.strip() for m in chosen)
    return Grounding(
        True,
        _compose(list(quoted), seller),
        [product.ref(m.fact) for m in chosen],
        False,
        "",
        "product facts",
        p_answer,
        "product_facts",
        record=record,
        seller_text=quoted,
    )


# --- entry point ---------------------------------------------------------------------------------------


def ground(
    intent: str,
    text: NormalizedText,
    question: str,
    facts: InquiryFacts,
    *,
    seller_name: str,
    item_ids: Iterable[str] = (),
    past: PastMatch | None = None,
) -> Grounding:
    """Write the answer from facts where the intent allows it (see the module docstring). ``past``: a
    near-duplicate question a person already answered — its answer is used, unless the inquiry names
    an order (that order's own facts come first)."""
    if intent == SHIPPING and facts.names_order:
        return _ground_order(facts, text, item_ids, seller_name)
    if past is not None:
        return Grounding(
            True,
            past.entry.answer.strip(),
            [past.ref()],
            False,
            "",
            "answer a person sent before",
            P_PAST,
            "past_answer",
            record={"similarity": past.similarity},
        )
    if intent == SHIPPING:
        topics = shipping_topics(text)
        if _OWN_ORDER.search(text.compact) and not any(t != "timing" for t in topics):
            return Grounding(
                True, "", [], True, NO_ORDER_REFERENCE, "asks about their own order without naming it", kind="person"
            )
        return _ground_policy(topics, facts, seller_name) or Grounding(False)
    if intent in (USAGE, PRODUCT):
        return _ground_product(facts, question, seller_name)
    if intent == RETURNS and _RETURN_FEE.search(text.compact):
        return _ground_policy(["return_fee"], facts, seller_name) or Grounding(False)
    return Grounding(False)
