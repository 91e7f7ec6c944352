"""The order half of ``SandboxStore``: add orders, move them along, read them back for tests.

A mixin (the store provides the lock, the seeded rng, the ``OrderBook`` and the accounts) under the
inquiry half (``inquiry_store.py``), so ``store.py`` stays about answers, tokens and faults. Every method
takes the store lock.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from typing import Any

from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, KST, MARKET_COUPANG, MARKET_SMARTSTORE, NAVER_QNA
from markets.sandbox import generator
from markets.sandbox.order_book import OrderBook
from markets.sandbox.order_scenarios import build_order, pick_scenario, resolve_product
from markets.sandbox.order_views import order_view
from markets.sandbox.orders import Order

_MARKETS = {"COUPANG": MARKET_COUPANG, "SMARTSTORE": MARKET_SMARTSTORE, "NAVER": MARKET_SMARTSTORE}
# Finished scenarios: such orders may have been placed any time in the last days, not just now.
_SETTLED = frozenset({"delivered", "misdelivered", "cancelled"})


def _aware(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=KST)
    return value


def _last_event(order: Order) -> datetime:
    times = [
        order.ordered_at,
        *(
            t
            for line in order.lines
            for t in (line.placed_at, line.shipped_at, line.picked_up_at, line.delivered_at, line.decided_at)
            if t
        ),
    ]
    times += [line.claim.last_at() for line in order.lines if line.claim]
    return max(times)


class OrderStore:
    """Order methods of ``SandboxStore`` (mixed in)."""

    lock: threading.RLock
    rng: random.Random
    orders: OrderBook
    coupang_accounts: dict[str, Any]
    naver_accounts: dict[str, Any]

    def _market_owner(self, market: str | None, owner: str | None) -> tuple[str, str]:
        """(market, owner) from either; without an owner, the market's first registered account."""
        normalized = _MARKETS.get(str(market).upper()) if market else None
        if market and normalized is None:
            raise ValueError(f"market must be COUPANG or SMARTSTORE, not {market!r}")
        if owner:
            found = (
                MARKET_COUPANG
                if owner in self.coupang_accounts
                else MARKET_SMARTSTORE
                if owner in self.naver_accounts
                else None
            )
            if found is None:
                raise ValueError(f"unknown account {owner!r}")
            if normalized and normalized != found:
                raise ValueError(f"account {owner!r} is not a {normalized} account")
            return found, owner
        if normalized is None:
            raise ValueError("give market or owner")
        pool = self.coupang_accounts if normalized == MARKET_COUPANG else self.naver_accounts
        if not pool:
            raise ValueError(f"register a {normalized} account before adding orders")
        return normalized, next(iter(pool))

    def add_order(
        self,
        market: str | None = None,
        *,
        owner: str | None = None,
        scenario: str = "delivered",
        product: int | str | generator.Product | None = None,
        quantity: int | None = None,
        before: datetime | str | None = None,
        carrier: str | None = None,
        decided: bool | None = None,
    ) -> dict[str, Any]:
        """Add one order whose (first) line is in ``scenario``; returns ``get_order``'s view of it.

        ``product``: a catalogue id, Coupang vendorItemId/sellerProductId or Naver channel product no
        (random when omitted). ``before``: the scenario's last event happens shortly before it (now by
        default). ``carrier``: force a carrier code. ``decided``: delivered orders, purchase decided.
        """
        if quantity is not None and not 1 <= quantity <= 99:
            raise ValueError("quantity must be between 1 and 99")
        with self.lock:
            market, owner = self._market_owner(market, owner)
            now = datetime.now(KST)
            order = build_order(
                self.orders,
                market=market,
                owner=owner,
                scenario=scenario,
                product=resolve_product(product, self.rng),
                anchor=_aware(before) or now,
                now=now,
                quantity=quantity,
                carrier=carrier,
                decided=decided,
            )
            return order_view(order)

    def add_orders(
        self, count: int, *, market: str | None = None, owner: str | None = None, mix: dict[str, int] | None = None
    ) -> list[dict[str, Any]]:
        """Add ``count`` orders in a realistic scenario mix (``order_scenarios.ORDER_MIX`` by default)."""
        if not 0 <= count <= 100_000:
            raise ValueError("count must be between 0 and 100000")
        with self.lock:
            market, owner = self._market_owner(market, owner)
            added = []
            for _ in range(count):
                scenario = pick_scenario(self.rng, market, mix)
                now = datetime.now(KST)
                anchor = now - timedelta(days=self.rng.uniform(0, 5)) if scenario in _SETTLED else now
                order = build_order(
                    self.orders,
                    market=market,
                    owner=owner,
                    scenario=scenario,
                    product=resolve_product(None, self.rng),
                    anchor=anchor,
                    now=now,
                )
                added.append(order_view(order))
            return added

    def advance_order(self, ref: str | int, to: str, *, wrong_invoice: bool = False) -> dict[str, Any]:
        """Move an order (every line that can) or one line to ``to`` — one of ``orders.ADVANCE``:
        place, ship, transit, deliver, decide, misdeliver, request_cancel, cancel, return, collect, return_done,
        exchange, stall. ``wrong_invoice`` (misdeliver, Naver): flag the tracking number as wrong.
        Raises ``KeyError`` for an unknown id and ``ValueError`` when no line can make the move."""
        with self.lock:
            order = self.orders.advance(str(ref), to, now=datetime.now(KST), wrong_invoice=wrong_invoice)
            return order_view(order)

    def get_order(self, ref: str | int) -> dict[str, Any] | None:
        """The internal view (``_scenario`` labels included) of the order owning an order or line id."""
        with self.lock:
            try:
                order, _lines = self.orders.find(str(ref))
            except KeyError:
                return None
            return order_view(order)

    def list_orders(self, market: str | None = None, owner: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            wanted = _MARKETS.get(str(market).upper()) if market else None
            return [
                order_view(o)
                for o in self.orders.orders.values()
                if (wanted is None or o.market == wanted) and (owner is None or o.owner == owner)
            ]

    # -- inquiries that name an order --

    def _order_for_question(
        self, kind: str, owner: str, question: generator.Question, when: datetime
    ) -> generator.OrderLink:
        """Create the order a generated question is about, its last event shortly before ``when``."""
        market = MARKET_COUPANG if kind in (COUPANG_ONLINE, COUPANG_CALLCENTER) else MARKET_SMARTSTORE
        assert question.scenario is not None
        order = build_order(
            self.orders,
            market=market,
            owner=owner,
            scenario=question.scenario,
            product=question.product,
            anchor=when,
            now=datetime.now(KST),
            decided=False,
        )
        return self._link(order, question.product)

    @staticmethod
    def _link(order: Order, product: generator.Product) -> generator.OrderLink:
        lines = tuple(line.line_id for line in order.lines if any(item.product == product for item in line.items))
        return generator.OrderLink(order.order_id, lines, order.ordered_at)

    def _existing_order(
        self, kind: str, owner: str | None, ref: str
    ) -> tuple[generator.OrderLink, generator.Product, str, datetime]:
        """(link, product, scenario, last event) of an existing order or line an inquiry should name."""
        if kind == NAVER_QNA:
            raise ValueError("NAVER_QNA inquiries name no order")
        try:
            order, lines = self.orders.find(ref)
        except KeyError:
            raise ValueError(f"no order or line {ref}") from None
        market = MARKET_COUPANG if kind in (COUPANG_ONLINE, COUPANG_CALLCENTER) else MARKET_SMARTSTORE
        if order.market != market or (owner and order.owner != owner):
            raise ValueError(
                f"order {order.order_id} belongs to {order.market} account {order.owner}, not this inquiry"
            )
        line = lines[-1]  # of a split order, the line still on its way
        scenario = order.scenario if ref == order.order_id and order.scenario == "split" else line.scenario
        product = line.items[0].product
        return self._link(order, product), product, scenario, _last_event(order)
