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

The order's answers are in :mod:`inquiries.agent.grounding_orders`, the shipping policy's in
:mod:`inquiries.agent.grounding_policy`, the result and the shared formatting in
:mod:`inquiries.agent.grounding_result`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from inquiries.agent.facts import InquiryFacts
from inquiries.agent.grounding_orders import ground_order
from inquiries.agent.grounding_policy import ground_policy, shipping_topics
from inquiries.agent.grounding_result import NO_FACTS, NO_ORDER_REFERENCE, P_PAST, Grounding, compose
from inquiries.agent.normalize import NormalizedText
from inquiries.agent.past_answers import PastMatch
from inquiries.agent.product_match import answering_facts, match_facts

SHIPPING, USAGE, PRODUCT, RETURNS = "배송문의", "사용법", "상품문의", "교환반품"

# Cues on the compact text.
_OWN_ORDER = re.compile(
    r"제주문|내주문|제가주문|주문한(?:거|것|게|상품|물건|제품)|시킨(?:거|것|게)|어디쯤|조회(?:해|좀|부탁)|송장(?:번호)?(?:알려|좀|부탁|뭐|어떻게)|"
    r"운송장(?:번호)?(?:알려|좀|부탁)|주문번호\d{6,}|\d{12,}|확인(?:좀)?(?:부탁|해주|해줘|바랍)|결제했는데|결제한지|주문한지|주문했는데"
)
_RETURN_FEE = re.compile(
    r"(?:반품|교환|왕복|회수)\w{0,6}(?:배송비|택배비|비용|요금|얼마)|(?:배송비|택배비)\w{0,6}(?:반품|교환)"
)


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
        compose(list(quoted), seller),
        [product.ref(m.fact) for m in chosen],
        False,
        "",
        "product facts",
        p_answer,
        "product_facts",
        record=record,
        seller_text=quoted,
    )


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
        return ground_order(facts, text, item_ids, seller_name)
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
        return ground_policy(topics, facts, seller_name) or Grounding(False)
    if intent in (USAGE, PRODUCT):
        return _ground_product(facts, question, seller_name)
    if intent == RETURNS and _RETURN_FEE.search(text.compact):
        return ground_policy(["return_fee"], facts, seller_name) or Grounding(False)
    return Grounding(False)
