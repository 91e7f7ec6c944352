"""Naver Commerce order reads: changed product orders, product-order details, an order's product orders.

Spec: research/order-apis.md §2. Bearer token, rate limiter (per application and API) and error
classes as the inquiry calls. ``POST …/product-orders/query`` is a read (idempotent) and is retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from markets.clients.http_client import Endpoint, _Prepared
from markets.clients.orders import (
    CANCELLED,
    CLAIM_CANCEL,
    CLAIM_EXCHANGE,
    CLAIM_RETURN,
    DELIVERED,
    EXCHANGED,
    IN_TRANSIT,
    ISSUE_NOT_TRACKABLE,
    ISSUE_WRONG_TRACKING,
    NAVER_ORDER,
    PAID,
    PREPARING,
    RETURNED,
    SHIPPED,
    OrderNotFound,
    RemoteOrderLine,
    carrier_name_for,
    scrub_order,
)
from markets.clients.parsing import (
    UnreadableBody,
    as_id,
    datetime_windows,
    ensure_aware,
    load_object,
    opt_int,
    opt_text,
    parse_market_datetime,
    short_text,
)
from markets.clients.types import KST, MARKET_SMARTSTORE, MAX_PAGES, Malformed, MarketRequestError, MarketResponseError

CHANGES_PATH = "/v1/pay-order/seller/product-orders/last-changed-statuses"
QUERY_PATH = "/v1/pay-order/seller/product-orders/query"
ORDER_IDS_PATH = "/v1/pay-order/seller/orders/{order_id}/product-order-ids"
QUERY_MAX_IDS = 300
CHANGES_PAGE_SIZE = 300
#: an explicit lastChangedFrom..lastChangedTo may span at most 24 hours (error 104139 beyond)
CHANGES_WINDOW = timedelta(hours=24)

PRODUCT_ORDER_STATUSES = (
    "PAYMENT_WAITING",
    "PAYED",
    "DELIVERING",
    "DELIVERED",
    "PURCHASE_DECIDED",
    "EXCHANGED",
    "CANCELED",
    "RETURNED",
    "CANCELED_BY_NOPAYMENT",
)
# Carrier states that mean "picked up / about to be", not yet moving through the network.
_COLLECTING = ("COLLECT_REQUEST", "COLLECT_WAIT", "COLLECT_CARGO")
# The marketplace reports a delivery problem: a person looks before anyone answers.
_DELIVERY_PROBLEMS = ("DELIVERY_FAIL", "WRONG_INVOICE", "COLLECT_CARGO_FAIL", "COLLECT_CARGO_CANCEL")
# Claim states that are no (longer a) customer claim: refused ones and purchase-decision holds.
_NOT_A_CLAIM = (
    "CANCEL_REJECT",
    "RETURN_REJECT",
    "EXCHANGE_REJECT",
    "PURCHASE_DECISION_HOLDBACK",
    "PURCHASE_DECISION_REQUEST",
    "PURCHASE_DECISION_HOLDBACK_RELEASE",
    "ADMIN_CANCEL_REJECT",
)
_CLAIM_TYPES = {
    "CANCEL": CLAIM_CANCEL,
    "ADMIN_CANCEL": CLAIM_CANCEL,
    "RETURN": CLAIM_RETURN,
    "EXCHANGE": CLAIM_EXCHANGE,
}

_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)


def naver_status(product_order_status: str, place_order_status: str | None, delivery_status: str | None) -> str:
    """The normalized status of a product order (raises ``ValueError`` for an undocumented value)."""
    if product_order_status in ("PAYMENT_WAITING",):
        return PAID
    if product_order_status == "PAYED":
        return PREPARING if place_order_status == "OK" else PAID
    if product_order_status == "DELIVERING":
        return SHIPPED if delivery_status in _COLLECTING else IN_TRANSIT
    if product_order_status in ("DELIVERED", "PURCHASE_DECIDED"):
        return DELIVERED
    if product_order_status == "EXCHANGED":
        return EXCHANGED
    if product_order_status in ("CANCELED", "CANCELED_BY_NOPAYMENT"):
        return CANCELLED
    if product_order_status == "RETURNED":
        return RETURNED
    raise ValueError(f"unknown productOrderStatus {short_text(product_order_status, 40)!r}")


def _when(value: Any) -> datetime | None:
    return None if value in (None, "") else parse_market_datetime(value)


def _day(value: Any) -> date | None:
    when = _when(value)
    return when.astimezone(KST).date() if when else None


def _obj(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object, got {type(value).__name__}")
    return value


def parse_product_order(item: Any) -> RemoteOrderLine | Malformed:
    """One ``/product-orders/query`` element ({order, productOrder, delivery, …}) → an order line."""
    if not isinstance(item, dict):
        return Malformed(NAVER_ORDER, item, f"product order must be an object, got {type(item).__name__}")
    try:
        order = _obj(item.get("order"), "order")
        product = _obj(item.get("productOrder"), "productOrder")
        delivery = _obj(item.get("delivery"), "delivery")
        raw_status = product.get("productOrderStatus")
        if not isinstance(raw_status, str):
            raise ValueError("productOrder.productOrderStatus is missing")
        delivery_status = opt_text(delivery.get("deliveryStatus"))
        status = naver_status(raw_status, opt_text(product.get("placeOrderStatus")), delivery_status)
        claim_type, claim_status = opt_text(product.get("claimType")) or "", opt_text(product.get("claimStatus")) or ""
        if claim_status in _NOT_A_CLAIM or claim_type not in _CLAIM_TYPES:
            claim_type, claim_status = "", ""
        else:
            claim_type = _CLAIM_TYPES[claim_type]
        issue = ""
        if delivery.get("isWrongTrackingNumber") is True or delivery_status == "WRONG_INVOICE":
            issue = ISSUE_WRONG_TRACKING
        elif delivery_status in _DELIVERY_PROBLEMS:
            issue = delivery_status
        elif delivery_status == "NOT_TRACKING" or (
            delivery and delivery.get("deliveryMethod") not in (None, "DELIVERY")
        ):
            issue = ISSUE_NOT_TRACKABLE
        code = opt_text(delivery.get("deliveryCompany")) or opt_text(product.get("expectedDeliveryCompany")) or ""
        shipped_at, delivered_at = _when(delivery.get("sendDate")), _when(delivery.get("deliveredDate"))
        moved = [t for t in (shipped_at, _when(delivery.get("pickupDate")), delivered_at) if t]
        quantity = opt_int(product.get("remainQuantity"))
        if quantity is None:
            quantity = opt_int(product.get("quantity"))
        return RemoteOrderLine(
            market_code=MARKET_SMARTSTORE,
            order_id=as_id(order.get("orderId") or product.get("orderId")),
            line_id=as_id(product.get("productOrderId")),
            status=status,
            raw_status=raw_status,
            claim_type=claim_type,
            claim_status=claim_status,
            delivery_issue=issue,
            carrier_code=code if delivery else "",
            carrier_name=carrier_name_for(code) if delivery else "",
            tracking_number=(opt_text(delivery.get("trackingNumber")) or "").strip(),
            ordered_at=_when(order.get("orderDate")),
            paid_at=_when(order.get("paymentDate")),
            shipped_at=shipped_at,
            delivered_at=delivered_at,
            expected_dispatch_date=_day(product.get("shippingDueDate")),
            last_movement_at=max(moved) if moved else None,
            product_ids=[
                p for p in (opt_text(product.get("productId")), opt_text(product.get("originalProductId"))) if p
            ],
            product_name=(opt_text(product.get("productName")) or "")[:300],
            quantity=quantity if quantity is not None and quantity >= 0 else 1,
            raw=scrub_order(item),
        )
    except _PARSE_ERRORS as exc:
        return Malformed(NAVER_ORDER, item, short_text(exc))


def _document(body: bytes, what: str) -> dict[str, Any]:
    try:
        return load_object(NAVER_ORDER, body)
    except UnreadableBody as unreadable:
        raise MarketResponseError(f"{what}: {unreadable.problem}", malformed=unreadable.malformed) from None


def _naver_datetime(value: datetime) -> str:
    return ensure_aware(value).astimezone(KST).isoformat(timespec="milliseconds")


class NaverOrderReads:
    """Order reads for :class:`~markets.clients.naver.NaverClient` (uses its ``_read``)."""

    _read: Callable[..., Any]

    def list_changed(self, start: datetime, end: datetime) -> Iterator[tuple[str, datetime | None] | Malformed]:
        """(productOrderId, lastChangedDate) of every product order changed in [start, end], each id once.

        Delivery completion is not a change type (research §2.2): refresh in-flight lines separately.
        """
        seen: set[str] = set()
        for first, last in datetime_windows(start, end, CHANGES_WINDOW):
            params = [
                ("lastChangedFrom", _naver_datetime(first)),
                ("lastChangedTo", _naver_datetime(last)),
                ("limitCount", str(CHANGES_PAGE_SIZE)),
            ]
            for _page in range(MAX_PAGES):
                result = self._read(Endpoint("orders.changes"), _Prepared("GET", CHANGES_PATH, urlencode(params)))
                data = _document(result.body, "orders.changes").get("data")
                data = {} if data is None else data
                rows = data.get("lastChangeStatuses") if isinstance(data, dict) else None
                if not isinstance(rows, list):
                    raise MarketResponseError(
                        "orders.changes: response has no lastChangeStatuses list",
                        malformed=Malformed(NAVER_ORDER, data, "no lastChangeStatuses list"),
                    )
                for row in rows:
                    try:
                        line_id = as_id(row.get("productOrderId"))
                        changed = _when(row.get("lastChangedDate"))
                    except (ValueError, AttributeError) as exc:
                        yield Malformed(NAVER_ORDER, row, short_text(exc))
                        continue
                    if line_id not in seen:
                        seen.add(line_id)
                        yield line_id, changed
                more = data.get("more")
                if not rows or not isinstance(more, dict) or not more.get("moreFrom"):
                    break
                params = [
                    ("lastChangedFrom", str(more["moreFrom"])),
                    ("lastChangedTo", _naver_datetime(last)),
                    ("limitCount", str(CHANGES_PAGE_SIZE)),
                    ("moreSequence", str(more.get("moreSequence") or "")),
                ]
            else:
                raise MarketResponseError(f"orders.changes: more than {MAX_PAGES} pages; giving up")

    def query_product_orders(self, ids: list[str]) -> Iterator[RemoteOrderLine | Malformed]:
        """Details of product orders, 300 ids a call; ids the marketplace does not know are left out."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        for start in range(0, len(unique), QUERY_MAX_IDS):
            body = json.dumps(
                {"productOrderIds": unique[start : start + QUERY_MAX_IDS], "quantityClaimCompatibility": True}
            ).encode("utf-8")
            result = self._read(Endpoint("orders.query"), _Prepared("POST", QUERY_PATH, "", body))
            data = _document(result.body, "orders.query").get("data")
            if data is None:
                continue
            if not isinstance(data, list):
                raise MarketResponseError(
                    "orders.query: response data is not a list",
                    malformed=Malformed(NAVER_ORDER, data, "data is not a list"),
                )
            yield from (parse_product_order(element) for element in data)

    def get_order(
        self, order_id: str | None, *, product_order_ids: list[str] | None = None, now: datetime | None = None
    ) -> list[RemoteOrderLine | Malformed]:
        """Every product order of one order (a targeted look-up). Raises ``OrderNotFound``."""
        lines = list(self.query_product_orders(product_order_ids)) if product_order_ids else []
        if not any(isinstance(line, RemoteOrderLine) for line in lines) and order_id:
            try:
                result = self._read(
                    Endpoint("orders.ids"), _Prepared("GET", ORDER_IDS_PATH.format(order_id=as_id(order_id)))
                )
            except MarketRequestError as exc:
                if exc.http_status in (400, 404):
                    raise OrderNotFound(order_id) from None
                raise
            ids = _document(result.body, "orders.ids").get("data")
            if not isinstance(ids, list):
                raise MarketResponseError("orders.ids: response data is not a list")
            lines = list(self.query_product_orders([str(i) for i in ids])) if ids else []
        if not lines:
            raise OrderNotFound(order_id or ",".join(product_order_ids or []))
        return lines
