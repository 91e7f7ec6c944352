"""Answers from the seller's shipping policy: which shipping topics a question asks about (dispatch day,
fees, regions, carrier, services, the return fee) and the sentences the policy states for each."""

from __future__ import annotations

import datetime as dt
import re

from inquiries.agent.facts import InquiryFacts, ShippingFacts
from inquiries.agent.grounding_result import P_POLICY, Grounding, compose, day_text, won
from inquiries.agent.knowledge import render
from inquiries.agent.normalize import NormalizedText
from partialauto.calendar import SEOUL

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
            f"지금 결제하시면 {day_text(day, today)}에 출고될 예정이고, 출고 후 보통 "
            f"{policy.transit_days_min}~{policy.transit_days_max}일 안에 받아보실 수 있습니다.",
        ]
    if topic == "fee" and policy.base_fee is not None:
        if policy.base_fee == 0:
            return ["모든 상품은 무료배송입니다."]
        free = (
            f", {won(policy.free_shipping_threshold)} 이상 구매하시면 무료배송입니다"
            if policy.free_shipping_threshold
            else ""
        )
        return [f"배송비는 {won(policy.base_fee)}{free}."]
    if topic == "remote" and (policy.jeju_surcharge is not None or policy.remote_surcharge is not None):
        parts = []
        if policy.jeju_surcharge is not None:
            parts.append(
                f"제주 지역은 {won(policy.jeju_surcharge)}" if policy.jeju_surcharge else "제주 지역은 추가 비용 없이"
            )
        if policy.remote_surcharge is not None:
            parts.append(
                f"제주 외 도서산간 지역은 {won(policy.remote_surcharge)}"
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
            f"단순 변심으로 반품하실 때는 반품 배송비 {won(policy.return_fee)}, 교환하실 때는 왕복 배송비 "
            f"{won(policy.exchange_fee)}이 듭니다.",
            "받으신 상품에 문제가 있거나 주문과 다른 상품이 온 경우에는 배송비 없이 처리해 드립니다.",
        ]
    return []


def ground_policy(topics: list[str], facts: InquiryFacts, seller: str) -> Grounding | None:
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
        compose(sentences, seller),
        refs,
        False,
        "",
        "shipping policy: " + ", ".join(topics),
        P_POLICY,
        "shipping_policy",
    )


def shipping_topics(text: NormalizedText) -> list[str]:
    return [name for name, pattern in _TOPICS if pattern.search(text.compact)]
