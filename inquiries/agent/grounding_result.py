"""What grounding gives back (:class:`Grounding`), the reason codes it answers with when a person must
answer, how sure each kind of grounded draft is, and the sentence formatting every grounded draft shares
(the greeting, days, amounts, an order line's product)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from inquiries.agent.facts import FactRef, OrderFact
from inquiries.agent.knowledge import PLACEHOLDER_DEFAULTS, placeholder_value, render
from partialauto.calendar import SEOUL, WEEKDAYS_KO

# Why a person answers (the agent's reason codes; Korean labels in inquiries.agent.labels).
ORDER_NEEDS_PERSON = "ORDER_NEEDS_PERSON"
ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
ORDER_LOOKUP_FAILED = "ORDER_LOOKUP_FAILED"
NO_ORDER_REFERENCE = "NO_ORDER_REFERENCE"
NO_FACTS = "NO_FACTS"

# How sure we are that the draft answers what was asked (scoring's p_answer).
P_ORDER = 0.99
P_POLICY = 0.97
P_PAST = 0.98

_OPEN = "{customer_greeting} {seller_name}입니다.\n"
_CLOSE = "\n감사합니다."


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


def day_text(day: dt.date, today: dt.date) -> str:
    label = f"{day.month}월 {day.day}일({WEEKDAYS_KO[day.weekday()]})"
    if day == today:
        return f"오늘 {label}"
    if day == today + dt.timedelta(days=1):
        return f"내일 {label}"
    return label


def when_text(at: dt.datetime, today: dt.date) -> str:
    return day_text(at.astimezone(SEOUL).date(), today)


def won(amount: int) -> str:
    return f"{amount:,}원"


def compose(body: Iterable[str], seller_name: str) -> str:
    text = _OPEN + "\n".join(line for line in body if line) + _CLOSE
    return render(text, {"seller_name": seller_name})[0]


def line_product(line: OrderFact) -> str:
    return placeholder_value(line.product_name) or PLACEHOLDER_DEFAULTS["product_name"]


def product_subject(product: str) -> str:
    """The subject of a sentence about an order line. "상품(…)은" reads naturally whatever the name ends
    with (a model number, a size, a Latin letter)."""
    return f"상품({product})은"
