"""How each marketplace serves a sandbox order: the parts both share (fees, claim reason texts) and the
internal view of an order for the control API and tests (research/order-apis.md §1.4–§2.3). The Coupang
shapes are in ``coupang_order_views.py``, the Naver ones in ``naver_order_views.py``.

Pure functions of the order state. What a line shows is derived from its times, never stored twice:
an invoice appears only once the line was dispatched, ``deliveredDate`` only once delivered. Personal
data (orderer/receiver names, safe numbers, addresses) is served as the marketplaces serve it —
masked names on Coupang, full ones on Naver — for clients to scrub.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markets.clients.types import MARKET_COUPANG
from markets.sandbox.orders import Line, Order

FREE_SHIPPING_OVER = 30_000  # KRW: orders at or above it ship free
SHIPPING_FEE = 3_000
REASON_TEXT = {
    "INTENT_CHANGED": "단순 변심",
    "WRONG_ORDER": "주문 실수",
    "PRODUCT_UNSATISFIED": "생각했던 것과 달라요",
    "DELAYED_DELIVERY": "배송이 너무 늦어요",
    "BROKEN": "받아보니 파손되어 있어요",
    "WRONG_DELIVERY": "주문한 상품과 다른 상품이 왔어요",
    "COLOR_AND_SIZE": "사이즈가 맞지 않아요",
}


def goods_total(order: Order) -> int:
    return sum(item.unit_price * item.quantity - item.discount for line in order.lines for item in line.items)


def fees(order: Order, line: Line) -> tuple[int, int]:
    """(shipping fee, remote-area fee) charged on this line: the order pays them once, on its first line."""
    if line is not order.lines[0]:
        return 0, 0
    return (0 if goods_total(order) >= FREE_SHIPPING_OVER else SHIPPING_FEE), order.address.remote_fee


def order_view(order: Order) -> dict[str, Any]:
    """The internal view of an order for the control API and tests (``_scenario`` labels included)."""

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "market": order.market,
        "owner": order.owner,
        "order_id": order.order_id,
        "_scenario": order.scenario,
        "ordered_at": when(order.ordered_at),
        "paid_at": when(order.paid_at),
        "lines": [
            {
                "line_id": line.line_id,
                "_scenario": line.scenario,
                "stage": line.stage,
                "product_ids": [item.product.product_id for item in line.items],
                "market_product_ids": [
                    str(
                        item.product.vendor_item_id
                        if order.market == MARKET_COUPANG
                        else item.product.channel_product_no
                    )
                    for item in line.items
                ],
                "quantity": sum(item.quantity for item in line.items),
                "promised_date": line.promised.isoformat(),
                "carrier": line.carrier or None,
                "invoice": line.invoice or None,
                "placed_at": when(line.placed_at),
                "shipped_at": when(line.shipped_at),
                "picked_up_at": when(line.picked_up_at),
                "delivered_at": when(line.delivered_at),
                "decided_at": when(line.decided_at),
                "wrong_invoice": line.wrong_invoice,
                "claim": None
                if line.claim is None
                else {
                    "kind": line.claim.kind,
                    "id": line.claim.claim_id,
                    "state": line.claim.state,
                    "requested_at": when(line.claim.requested_at),
                    "completed_at": when(line.claim.completed_at),
                },
            }
            for line in order.lines
        ],
    }
