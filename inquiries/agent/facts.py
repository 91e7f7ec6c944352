"""The facts an answer may be written from, as plain values (the agent never reads the database).

``inquiries.facts`` builds an :class:`InquiryFacts` per inquiry from the order mirror, the account's
shipping policy and the seller's product knowledge; :mod:`inquiries.agent.grounding` writes answers
from it; every fact an answer used is listed in the decision trace as a :class:`FactRef`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from partialauto.calendar import SEOUL, kr_holiday_name

# Where a fact came from (the decision trace and the review queue show it).
SOURCE_ORDER = "order"
SOURCE_ORDER_LOOKUP = "order_lookup"
SOURCE_SHIPPING_POLICY = "shipping_policy"
SOURCE_PRODUCT = "product_knowledge"
SOURCE_KNOWLEDGE = "knowledge_entry"

# How an inquiry's order references were resolved.
LOOKUP_NONE = "none"  # the inquiry names no order
LOOKUP_MIRROR = "mirror"  # found in the order mirror
LOOKUP_FOUND = "found"  # not mirrored; one targeted look-up found it
LOOKUP_NOT_FOUND = "not_found"  # the marketplace does not know it
LOOKUP_FAILED = "failed"  # the look-up could not be made (outage, auth…)
LOOKUP_NOT_MIRRORED = "not_mirrored"  # not mirrored and no look-up was allowed (simulation)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class FactRef:
    """One fact behind a draft: its source, the source's id, and when we last had it from there."""

    source: str
    id: str
    fetched_at: str | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "id": self.id, "fetched_at": self.fetched_at, "detail": self.detail}


@dataclass(frozen=True)
class OrderFact:
    line_id: str
    order_id: str
    status: str
    raw_status: str = ""
    claim_type: str = ""
    claim_status: str = ""
    delivery_issue: str = ""
    carrier_name: str = ""
    tracking_number: str = ""
    paid_at: dt.datetime | None = None
    shipped_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    expected_dispatch_date: dt.date | None = None
    last_movement_at: dt.datetime | None = None
    product_ids: tuple[str, ...] = ()
    product_name: str = ""
    synced_at: dt.datetime | None = None
    fingerprint: str = ""

    def ref(self) -> FactRef:
        detail = self.status + (f"/{self.claim_type}:{self.claim_status}" if self.claim_type else "")
        return FactRef(SOURCE_ORDER, self.line_id, _iso(self.synced_at), f"order {self.order_id}: {detail}")


@dataclass(frozen=True)
class ShippingFacts:
    """The account's shipping policy (``markets.ShippingPolicy``) as the answers need it."""

    account_id: str
    complete: bool
    dispatch_cutoff: dt.time | None = None
    dispatch_lead_days: int = 0
    ships_on_saturday: bool = False
    carrier_name: str = ""
    transit_days_min: int = 1
    transit_days_max: int = 2
    base_fee: int | None = None
    free_shipping_threshold: int | None = None
    jeju_surcharge: int | None = None
    remote_surcharge: int | None = None
    return_fee: int | None = None
    exchange_fee: int | None = None
    return_address: str = ""
    dawn_delivery: bool = False
    convenience_pickup: bool = False
    overseas_shipping: bool = False
    stalled_after_days: int = 4
    updated_at: dt.datetime | None = None

    def ref(self, topic: str) -> FactRef:
        return FactRef(SOURCE_SHIPPING_POLICY, self.account_id, _iso(self.updated_at), topic)

    def is_dispatch_day(self, day: dt.date) -> bool:
        """Whether parcels leave on ``day``: weekdays (and Saturdays if so set), never on public holidays."""
        if day.weekday() == 6 or (day.weekday() == 5 and not self.ships_on_saturday):
            return False
        return kr_holiday_name(day) is None

    def next_dispatch_day(self, day: dt.date) -> dt.date:
        day += dt.timedelta(days=1)
        for _ in range(60):
            if self.is_dispatch_day(day):
                return day
            day += dt.timedelta(days=1)
        return day

    def dispatch_date(self, paid_at: dt.datetime) -> dt.date | None:
        """When an order paid at ``paid_at`` leaves: the same dispatch day before the cut-off, the next
        one after it, then ``dispatch_lead_days`` more dispatch days. None without a cut-off."""
        if self.dispatch_cutoff is None:
            return None
        local = paid_at.astimezone(SEOUL)
        day = local.date()
        if not self.is_dispatch_day(day) or local.time() >= self.dispatch_cutoff:
            day = self.next_dispatch_day(day)
        for _ in range(self.dispatch_lead_days):
            day = self.next_dispatch_day(day)
        return day


@dataclass(frozen=True)
class ProductFact:
    id: str
    text: str


@dataclass(frozen=True)
class ProductFacts:
    """What the seller knows about the product an inquiry is about."""

    product_id: str
    name: str
    facts: tuple[ProductFact, ...]
    updated_at: dt.datetime | None = None

    def ref(self, fact: ProductFact) -> FactRef:
        return FactRef(SOURCE_PRODUCT, fact.id, _iso(self.updated_at), f"{self.product_id}: {fact.text[:60]}")


@dataclass(frozen=True)
class InquiryFacts:
    """Everything known about one inquiry's order, the account's shipping policy and its product."""

    now: dt.datetime
    order_ids: tuple[str, ...] = ()
    order_lookup: str = LOOKUP_NONE
    lookup_error: str = ""
    orders: tuple[OrderFact, ...] = ()
    shipping: ShippingFacts | None = None
    product: ProductFacts | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def names_order(self) -> bool:
        return bool(self.order_ids) or self.order_lookup != LOOKUP_NONE

    def lookup_ref(self) -> FactRef:
        return FactRef(
            SOURCE_ORDER_LOOKUP,
            ",".join(self.order_ids) or "-",
            _iso(self.now),
            self.order_lookup + (f": {self.lookup_error}" if self.lookup_error else ""),
        )
