"""Sandbox orders: the state the fake order and shipping APIs serve (research/order-apis.md §5.1).

One market-neutral model serves both marketplaces: an ``Order`` has ``Line``s (a Coupang shipment box
or a Naver product order) and a line has ``Item``s (the products in a Coupang box; always one on
Naver). A line moves through its lifecycle only through ``OrderBook.perform`` and the ``MOVES``
table, for generated orders and for tests advancing an order alike, so the invariants the views rely
on (no invoice before dispatch, monotonic times, a Naver change-log row for every transition except
delivery) hold by construction. Internal labels (``scenario``) are never served.

Not thread-safe by itself: the ``SandboxStore`` lock guards every call.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from markets.clients.types import KST, MARKET_COUPANG, MARKET_SMARTSTORE
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


class OrderBook:
    """Every sandbox order of both marketplaces, their ids and the Naver change log."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.orders: dict[str, Order] = {}
        self.lines: dict[str, tuple[Order, Line]] = {}
        self.receipts: dict[str, tuple[Order, Line]] = {}  # Coupang receiptId → its line
        self.changes: list[ChangeRow] = []
        self.profiles: dict[str, SellerProfile] = {}
        self._used_ids: set[str] = set()

    # -- ids and profiles --

    def new_id(self, kind: str, at: datetime | None = None) -> str:
        """A fresh, unique id in the marketplace's format."""
        rng = self.rng
        while True:
            if kind == "coupang_order":  # orderId: 14 digits
                value = str(rng.randint(2 * 10**13, 4 * 10**13 - 1))
            elif kind == "coupang_box":  # shipmentBoxId: 18 digits since 2024-11-14
                value = str(rng.randint(5 * 10**17, 9 * 10**17 - 1))
            elif kind == "coupang_receipt":
                value = str(rng.randint(3 * 10**8, 9 * 10**8 - 1))
            elif kind == "payment":
                value = str(rng.randint(10**11, 10**12 - 1))
            else:  # Naver orderId / productOrderId / claimId / packageNumber: yyyyMMdd + 8 digits
                day = (at or datetime.now(KST)).astimezone(KST).strftime("%Y%m%d")
                value = day + f"{rng.randint(10**7, 10**8 - 1)}"
            if value not in self._used_ids:
                self._used_ids.add(value)
                return value

    def invoice(self, carrier: str) -> str:
        _name, digits, leads = CARRIERS[carrier]
        return self.rng.choice(leads) + "".join(str(self.rng.randint(0, 9)) for _ in range(digits - 1))

    def profile(self, owner: str) -> SellerProfile:
        if owner not in self.profiles:
            carrier = self.rng.choices(list(CARRIER_WEIGHTS), weights=list(CARRIER_WEIGHTS.values()))[0]
            self.profiles[owner] = SellerProfile(carrier=carrier, cutoff_hour=self.rng.choice((13, 14, 15, 16)))
        return self.profiles[owner]

    def pick_carrier(self, owner: str) -> str:
        """Mostly the seller's contracted carrier; now and then another (a second warehouse)."""
        if self.rng.random() < 0.85:
            return self.profile(owner).carrier
        return self.rng.choice(list(CARRIER_WEIGHTS))

    # -- registry --

    def register(self, order: Order) -> None:
        self.orders[order.order_id] = order
        for line in order.lines:
            self.lines[line.line_id] = (order, line)

    def find(self, ref: str) -> tuple[Order, list[Line]]:
        """An order id (all its lines) or a line id (that line). Raises ``KeyError``."""
        ref = str(ref).strip()
        if ref in self.orders:
            order = self.orders[ref]
            return order, list(order.lines)
        order, line = self.lines[ref]
        return order, [line]

    def of_market(self, market: str, owner: str | None = None) -> Iterator[Order]:
        return (o for o in self.orders.values() if o.market == market and (owner is None or o.owner == owner))

    def counts(self) -> dict[str, int]:
        coupang = sum(1 for o in self.orders.values() if o.market == MARKET_COUPANG)
        return {
            MARKET_COUPANG: coupang,
            MARKET_SMARTSTORE: len(self.orders) - coupang,
            "lines": len(self.lines),
            "naver_changes": len(self.changes),
        }

    # -- the one place a line changes --

    def perform(self, order: Order, line: Line, name: str, at: datetime) -> None:
        """Make one move (``MOVES``) at ``at``; raises ``InvalidMove`` when the line cannot."""
        move = MOVES[name]
        at = ms(at)
        if not self.can(line, name):
            raise InvalidMove(
                f"line {line.line_id} in stage {line.stage} "
                f"(claim {line.claim.kind + '/' + line.claim.state if line.claim else 'none'}) cannot {name}"
            )
        if order.market == MARKET_COUPANG and name in ("exchange_request", "await_payment"):
            raise InvalidMove(f"{name} is not served for Coupang orders in the sandbox")
        claim = line.claim
        match name:
            case "pay":
                order.paid_at = order.paid_at or at
            case "place":
                line.placed_at = at
            case "ship":
                line.shipped_at = at
                # Product orders of one package leave in one parcel: one carrier, one invoice.
                twin = next(
                    (
                        other
                        for other in order.lines
                        if other is not line and line.package and other.package == line.package and other.invoice
                    ),
                    None,
                )
                line.carrier = line.carrier or (twin.carrier if twin else self.pick_carrier(order.owner))
                line.invoice = line.invoice or (twin.invoice if twin else self.invoice(line.carrier))
            case "pickup":
                line.picked_up_at = at
            case "deliver":
                line.picked_up_at = line.picked_up_at or at
                line.delivered_at = at
            case "decide":
                line.decided_at = at
            case "cancel_request" | "return_request" | "exchange_request":
                kind = {"cancel_request": CANCEL, "return_request": RETURN, "exchange_request": EXCHANGE}[name]
                reasons = {
                    CANCEL: ("INTENT_CHANGED", "WRONG_ORDER", "DELAYED_DELIVERY"),
                    RETURN: ("INTENT_CHANGED", "BROKEN", "WRONG_DELIVERY", "PRODUCT_UNSATISFIED"),
                    EXCHANGE: ("COLOR_AND_SIZE", "BROKEN"),
                }[kind]
                claim_id = self.new_id("coupang_receipt" if order.market == MARKET_COUPANG else "naver", at)
                line.claim = Claim(
                    kind=kind,
                    claim_id=claim_id,
                    reason=self.rng.choice(reasons),
                    stage_at_request=line.stage,
                    requested_at=at,
                )
                if kind == CANCEL:
                    for item in line.items:
                        item.hold_count = item.quantity
                else:  # the return pickup is booked with the carrier when the claim is accepted
                    line.claim.collect_carrier = self.profile(order.owner).carrier
                    line.claim.collect_invoice = self.invoice(line.claim.collect_carrier)
                if order.market == MARKET_COUPANG:
                    self.receipts[claim_id] = (order, line)
            case "collect":
                assert claim is not None
                claim.state, claim.collected_at = COLLECTED, at
            case "redeliver":
                assert claim is not None
                claim.state, claim.redelivered_at = REDELIVERING, at
                claim.redelivery_carrier = self.profile(order.owner).carrier
                claim.redelivery_invoice = self.invoice(claim.redelivery_carrier)
            case "cancel_done" | "return_done" | "exchange_done":
                assert claim is not None
                claim.state, claim.completed_at = DONE, at
                if name != "exchange_done":
                    for item in line.items:
                        item.cancel_count, item.hold_count = item.quantity, 0
        if move.target:
            line.stage = move.target
        if order.market == MARKET_SMARTSTORE and move.change:
            self.changes.append(
                ChangeRow(
                    seq=len(self.changes) + 1,
                    owner=order.owner,
                    order_id=order.order_id,
                    line_id=line.line_id,
                    change_type=move.change,
                    at=at,
                    paid_at=order.paid_at,
                    status=naver_status(line),
                    claim_type=line.claim.kind if line.claim else None,
                    claim_status=naver_claim_status(line.claim),
                )
            )

    def can(self, line: Line, name: str) -> bool:
        move = MOVES[name]
        if line.stage not in move.sources:
            return False
        if move.claim is None:
            return line.claim is None and not (
                name in ("decide", "return_request", "exchange_request") and line.decided_at
            )
        kinds, state = move.claim
        return line.claim is not None and line.claim.kind in kinds.split("|") and line.claim.state == state

    def advance(self, ref: str, to: str, *, now: datetime, wrong_invoice: bool = False) -> Order:
        """Move an order's lines (or one line) to ``to`` (``ADVANCE``), acting at ``now``.

        Lines that cannot reach the target are left alone; if none can, ``InvalidMove`` names why.
        """
        if to not in ADVANCE:
            raise ValueError(f"unknown target {to!r}; one of {', '.join(ADVANCE)}")
        order, lines = self.find(ref)
        moves, scenario = ADVANCE[to]
        reached = []
        for line in lines:
            if to == "stall":
                if line.stage in (SHIPPED, IN_TRANSIT) and line.claim is None:
                    self._backdate(order, now)
                    reached.append(line)
                continue
            if to == "misdeliver" and line.stage == DELIVERED and line.claim is None:
                reached.append(line)  # delivered on paper already: only the buyer's story changes
                continue
            path = self._path(line, list(moves))
            if path is None:
                continue
            # Consecutive moves a millisecond apart, the last one now: times stay strictly ordered.
            for offset, name in enumerate(path):
                self.perform(order, line, name, now - timedelta(milliseconds=len(path) - 1 - offset))
            reached.append(line)
        if not reached:
            states = ", ".join(f"{line.line_id}: {line.stage}" for line in lines)
            raise InvalidMove(f"no line of {ref} can {to} ({states})")
        for line in reached:
            exchange = to == "collect" and line.claim is not None and line.claim.kind == EXCHANGE
            line.scenario = "exchanged" if exchange else scenario
            if to == "misdeliver":
                line.wrong_invoice = wrong_invoice and order.market == MARKET_SMARTSTORE
        return order

    def _path(self, line: Line, moves: list[str]) -> list[str] | None:
        """The moves of ``moves`` this line still has to make, in order; None if it cannot reach the end."""
        probe = replace(line, items=[], claim=None if line.claim is None else replace(line.claim))
        path = []
        for name in moves:
            if self.can(probe, name):
                path.append(name)
                _simulate(probe, name)
        if not moves or not path or path[-1] != moves[-1]:
            return None
        return path

    def _backdate(self, order: Order, now: datetime) -> None:
        """ "Stall": move the whole order back in time so its last movement is over ``STALL_AFTER`` old."""
        last = max((t for line in order.lines for t in [line.last_movement()] if t), default=None)
        if last is None:
            return
        shift = last - (now - STALL_AFTER - timedelta(hours=1))
        if shift <= timedelta(0):
            return
        order.ordered_at -= shift
        order.paid_at = order.paid_at - shift if order.paid_at else None
        for line in order.lines:
            for name in ("placed_at", "shipped_at", "picked_up_at", "delivered_at", "decided_at"):
                if getattr(line, name):
                    setattr(line, name, getattr(line, name) - shift)
            line.promised -= timedelta(days=shift.days)
            if line.claim:
                for name in ("requested_at", "collected_at", "redelivered_at", "completed_at"):
                    if getattr(line.claim, name):
                        setattr(line.claim, name, getattr(line.claim, name) - shift)
        for row in self.changes:
            if row.order_id == order.order_id:
                row.at -= shift
                row.paid_at = order.paid_at


def _simulate(probe: Line, name: str) -> None:
    """Apply a move's stage and claim effect to a scratch line (for path planning only)."""
    move = MOVES[name]
    if name.endswith("_request"):
        kind = {"cancel_request": CANCEL, "return_request": RETURN, "exchange_request": EXCHANGE}[name]
        probe.claim = Claim(kind, "", "", probe.stage, datetime.now(KST))
    elif name in ("collect", "redeliver") or name.endswith("_done"):
        assert probe.claim is not None  # can() checked it
        probe.claim.state = {"collect": COLLECTED, "redeliver": REDELIVERING}.get(name, DONE)
    if name == "decide":
        probe.decided_at = datetime.now(KST)
    if move.target:
        probe.stage = move.target
