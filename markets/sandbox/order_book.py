"""The sandbox's ``OrderBook``: every order of both marketplaces, their ids, seller profiles, the Naver
change log, and the one place a line changes (``perform``, by the ``MOVES`` table in ``orders.py``).

Not thread-safe by itself: the ``SandboxStore`` lock guards every call.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from markets.clients.types import KST, MARKET_COUPANG, MARKET_SMARTSTORE
from markets.sandbox.orders import (
    ADVANCE,
    CANCEL,
    CARRIER_WEIGHTS,
    CARRIERS,
    COLLECTED,
    DELIVERED,
    DONE,
    EXCHANGE,
    IN_TRANSIT,
    MOVES,
    REDELIVERING,
    RETURN,
    SHIPPED,
    STALL_AFTER,
    ChangeRow,
    Claim,
    InvalidMove,
    Line,
    Order,
    SellerProfile,
    ms,
    naver_claim_status,
    naver_status,
)


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
