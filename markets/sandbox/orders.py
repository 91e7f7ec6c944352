"""Sandbox orders: the state the fake order and shipping APIs serve (research/order-apis.md §5.1).

One market-neutral model serves both marketplaces: an ``Order`` has ``Line``s (a Coupang shipment box
or a Naver product order) and a line has ``Item``s (the products in a Coupang box; always one on
Naver). A line moves through its lifecycle only through ``OrderBook.perform`` (``order_book.py``) and
the ``MOVES`` table, for generated orders and for tests advancing an order alike, so the invariants the
views rely on (no invoice before dispatch, monotonic times, a Naver change-log row for every transition
except delivery) hold by construction. Internal labels (``scenario``) are never served.

Not thread-safe by itself: the ``SandboxStore`` lock guards every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from markets.sandbox.generator import Product

SCENARIOS: tuple[str, ...] = (
    "paid",
    "preparing",
    "shipped",
    "in_transit",
    "delivered",
    "late_dispatch",
    "cancelled",
    "returned",
    "exchanged",
    "stalled",
    "misdelivered",
    "split",
)
NAVER_ONLY_SCENARIOS = frozenset({"exchanged"})

# Line stages (internal). Claims do not replace the stage; a *completed* claim ends it.
NEW, AWAITING, PAID, PREPARING, SHIPPED, IN_TRANSIT, DELIVERED = (
    "NEW",
    "AWAITING",
    "PAID",
    "PREPARING",
    "SHIPPED",
    "IN_TRANSIT",
    "DELIVERED",
)
CANCELLED, RETURNED, EXCHANGED = "CANCELLED", "RETURNED", "EXCHANGED"
# Claim kinds (Naver claimType spelling) and states.
CANCEL, RETURN, EXCHANGE = "CANCEL", "RETURN", "EXCHANGE"
REQUESTED, COLLECTED, REDELIVERING, DONE = "REQUESTED", "COLLECTED", "REDELIVERING", "DONE"

# Carrier code → (Coupang deliveryCompanyName, invoice digit count, leading digits). Codes are the
# real ones both marketplaces share (research §1.8/§2.5): HYUNDAI is 롯데택배, KGB is 로젠택배;
# never LOTTE/LOGEN. DIRECT (업체직송) is Coupang-only and untracked.
CARRIERS: dict[str, tuple[str, int, str]] = {
    "CJGLS": ("CJ 대한통운", 12, "56"),
    "HANJIN": ("한진택배", 12, "45"),
    "HYUNDAI": ("롯데택배", 12, "23"),
    "KGB": ("로젠택배", 11, "3"),
    "EPOST": ("우체국", 13, "6"),
    "DIRECT": ("업체직송", 10, "123456789"),
}
CARRIER_WEIGHTS = {"CJGLS": 45, "HANJIN": 15, "HYUNDAI": 20, "KGB": 12, "EPOST": 8}


@dataclass(frozen=True)
class Move:
    """One legal transition: the stages it starts from, the claim it needs, where it leads."""

    sources: frozenset[str]
    claim: tuple[str, str] | None  # (kinds "A|B", state) the line's claim must match; None: no claim at all
    target: str | None  # the new stage; None keeps it
    change: str | None  # the Naver lastChangedType it logs; None: not a change type (delivery!)


def _m(sources: str, claim: tuple[str, str] | None, target: str | None, change: str | None) -> Move:
    return Move(frozenset(sources.split()), claim, target, change)


MOVES: dict[str, Move] = {
    "await_payment": _m("NEW", None, AWAITING, "PAY_WAITING"),  # 무통장입금: ordered, not paid yet
    "pay": _m("NEW AWAITING", None, PAID, "PAYED"),
    "place": _m("PAID", None, PREPARING, None),  # 발주 확인 (Coupang INSTRUCT, Naver placeOrderStatus OK)
    "ship": _m("PREPARING", None, SHIPPED, "DISPATCHED"),  # invoice uploaded
    "pickup": _m("SHIPPED", None, IN_TRANSIT, None),  # the carrier scanned it
    "deliver": _m("SHIPPED IN_TRANSIT", None, DELIVERED, None),  # no "delivered" change type exists
    "decide": _m("DELIVERED", None, None, "PURCHASE_DECIDED"),
    "cancel_request": _m("PAID PREPARING", None, None, "CLAIM_REQUESTED"),
    "cancel_done": _m("PAID PREPARING", (CANCEL, REQUESTED), CANCELLED, "CLAIM_COMPLETED"),
    "return_request": _m("DELIVERED", None, None, "CLAIM_REQUESTED"),
    "collect": _m("DELIVERED", (f"{RETURN}|{EXCHANGE}", REQUESTED), None, "COLLECT_DONE"),
    "return_done": _m("DELIVERED", (RETURN, COLLECTED), RETURNED, "CLAIM_COMPLETED"),
    "exchange_request": _m("DELIVERED", None, None, "CLAIM_REQUESTED"),
    "redeliver": _m("DELIVERED", (EXCHANGE, COLLECTED), None, "CLAIM_REDELIVERING"),
    "exchange_done": _m("DELIVERED", (EXCHANGE, REDELIVERING), EXCHANGED, "CLAIM_COMPLETED"),
}

# Public advance targets: the moves that lead there (already-made or impossible ones are skipped),
# the goal that must hold afterwards, and the scenario label the line then carries.
ADVANCE: dict[str, tuple[tuple[str, ...], str]] = {
    "place": (("place",), "preparing"),
    "ship": (("place", "ship"), "shipped"),
    "transit": (("place", "ship", "pickup"), "in_transit"),
    "deliver": (("place", "ship", "pickup", "deliver"), "delivered"),
    "decide": (("place", "ship", "pickup", "deliver", "decide"), "delivered"),
    "misdeliver": (("place", "ship", "pickup", "deliver"), "misdelivered"),
    "request_cancel": (("cancel_request",), "cancelled"),  # pending: Coupang holdCountForCancel, Naver CANCEL_REQUEST
    "cancel": (("cancel_request", "cancel_done"), "cancelled"),
    "return": (("return_request",), "returned"),
    "collect": (("collect",), "returned"),
    "return_done": (("return_request", "collect", "return_done"), "returned"),
    "exchange": (("exchange_request", "collect", "redeliver", "exchange_done"), "exchanged"),
    "stall": ((), "stalled"),
}
STALL_AFTER = timedelta(days=6)  # "stalled": the last movement is at least this old


class InvalidMove(ValueError):
    """The line cannot make that move (wrong stage or claim)."""


@dataclass
class Item:
    product: Product
    quantity: int
    unit_price: int
    discount: int = 0
    cancel_count: int = 0  # Coupang cancelCount: cancelled or returned, confirmed
    hold_count: int = 0  # Coupang holdCountForCancel: cancellation requested, refund pending


@dataclass
class Claim:
    kind: str
    claim_id: str  # Naver claimId / Coupang receiptId
    reason: str  # Naver reason code (INTENT_CHANGED, BROKEN, …)
    stage_at_request: str
    requested_at: datetime
    state: str = REQUESTED
    collected_at: datetime | None = None
    redelivered_at: datetime | None = None
    completed_at: datetime | None = None
    collect_carrier: str = ""
    collect_invoice: str = ""
    redelivery_carrier: str = ""
    redelivery_invoice: str = ""
    coupang_check: bool = False  # the vendor asked Coupang to check the returned goods (REQUEST_COUPANG_CHECK)

    def last_at(self) -> datetime:
        return max(t for t in (self.requested_at, self.collected_at, self.redelivered_at, self.completed_at) if t)


@dataclass
class Line:
    line_id: str
    items: list[Item]
    scenario: str
    promised: date  # estimatedShippingDate / shippingDueDate
    stage: str = NEW
    planned: date | None = None  # Coupang plannedShippingDate (split shipments)
    placed_at: datetime | None = None
    shipped_at: datetime | None = None
    picked_up_at: datetime | None = None
    delivered_at: datetime | None = None
    decided_at: datetime | None = None
    carrier: str = ""
    invoice: str = ""
    package: str = ""  # Naver packageNumber: lines shipped together share it
    claim: Claim | None = None
    wrong_invoice: bool = False  # Naver flags the tracking number as wrong (isWrongTrackingNumber)

    def last_movement(self) -> datetime | None:
        moved = [t for t in (self.shipped_at, self.picked_up_at, self.delivered_at) if t]
        return max(moved) if moved else None

    def fully_claimed(self) -> bool:
        """Every item cancelled or returned: Coupang no longer lists the box and refuses single look-ups."""
        return self.stage in (CANCELLED, RETURNED)


@dataclass
class Party:
    name: str  # full name; Coupang serves it masked
    phone: str
    safe_number: str  # 안심번호
    member_id: str  # masked login id


@dataclass
class Address:
    base: str
    detail: str
    zip_code: str
    remote_fee: int  # 제주/도서산간 extra fee (0 on the mainland)


@dataclass
class Order:
    market: str
    owner: str  # Coupang vendorId / Naver client_id
    order_id: str
    scenario: str
    ordered_at: datetime
    buyer: Party
    receiver: Party
    address: Address
    memo: str | None
    payment_means: str
    channel: str  # Coupang refer / Naver payLocationType
    payment_id: str
    lines: list[Line] = field(default_factory=list)
    paid_at: datetime | None = None
    bank_transfer: bool = False


@dataclass
class ChangeRow:
    """One Naver ``last-changed-statuses`` row, with the line's state right after the change."""

    seq: int
    owner: str
    order_id: str
    line_id: str
    change_type: str
    at: datetime
    paid_at: datetime | None
    status: str
    claim_type: str | None
    claim_status: str | None


@dataclass
class SellerProfile:
    """What one seller always does the same way: its contracted carrier and same-day cut-off."""

    carrier: str
    cutoff_hour: int


def ms(value: datetime) -> datetime:
    """Millisecond precision: Naver serves ``.SSS``, and cursors compare what was served."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def naver_status(line: Line) -> str:
    """Naver productOrderStatus of a line (a pending claim keeps the stage's status)."""
    if line.stage == DELIVERED:
        return "PURCHASE_DECIDED" if line.decided_at else "DELIVERED"
    return {
        NEW: "PAYMENT_WAITING",
        AWAITING: "PAYMENT_WAITING",
        PAID: "PAYED",
        PREPARING: "PAYED",
        SHIPPED: "DELIVERING",
        IN_TRANSIT: "DELIVERING",
        CANCELLED: "CANCELED",
        RETURNED: "RETURNED",
        EXCHANGED: "EXCHANGED",
    }[line.stage]


def naver_claim_status(claim: Claim | None) -> str | None:
    if claim is None:
        return None
    if claim.state == COLLECTED:
        return "COLLECT_DONE"
    return {REQUESTED: f"{claim.kind}_REQUEST", REDELIVERING: "EXCHANGE_REDELIVERING", DONE: f"{claim.kind}_DONE"}[
        claim.state
    ]
