"""Coupang WING order reads: order sheets (shipment boxes), cancel/return requests, delivery history.

Spec: research/order-apis.md §1. Same signing, rate limiter (10 calls/s per vendor for *everything*),
timeouts and error classes as the inquiry calls; these are reads, retried on transient failures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from markets.clients.coupang_parsing import code_ok
from markets.clients.http_client import Endpoint, _Prepared
from markets.clients.orders import (
    CANCELLED,
    CLAIM_CANCEL,
    CLAIM_RETURN,
    COUPANG_ORDER,
    COUPANG_RETURN,
    DELIVERED,
    IN_TRANSIT,
    ISSUE_NOT_TRACKABLE,
    PAID,
    PREPARING,
    SHIPPED,
    OrderNotFound,
    RemoteClaim,
    RemoteOrderLine,
    carrier_code_for,
    carrier_name_for,
    scrub_order,
)
from markets.clients.parsing import (
    UnreadableBody,
    as_id,
    date_windows,
    datetime_windows,
    ensure_aware,
    id_list,
    kst_date,
    load_object,
    opt_int,
    opt_text,
    parse_market_datetime,
    short_text,
)
from markets.clients.types import KST, MARKET_COUPANG, MAX_PAGES, Malformed, MarketRequestError, MarketResponseError

API = "/v2/providers/openapi/apis/api"
ORDERSHEET_STATUSES = ("ACCEPT", "INSTRUCT", "DEPARTURE", "DELIVERING", "FINAL_DELIVERY", "NONE_TRACKING")
STATUS_MAP = {
    "ACCEPT": PAID,  # 결제완료
    "INSTRUCT": PREPARING,  # 상품준비중
    "DEPARTURE": SHIPPED,  # 배송지시: invoice uploaded, the carrier may not have scanned it yet
    "DELIVERING": IN_TRANSIT,  # 배송중
    "FINAL_DELIVERY": DELIVERED,  # 배송완료
    "NONE_TRACKING": SHIPPED,  # 업체 직접 배송, no tracking
}
RETURN_STATUSES = ("RU", "UC", "CC", "PR")  # 출고중지요청, 반품접수, 반품완료, 쿠팡확인요청
#: order sheets: ``createdAtTo - createdAtFrom`` ≤ 31 days; 30 keeps an inclusive window inside it
ORDER_WINDOW_DAYS = 30
RETURN_WINDOW = timedelta(days=30)
ORDER_PAGE_SIZE = 50
#: how far back a targeted look-up of a cancelled/returned order searches the return requests
CLAIM_LOOKUP_DAYS = 30
CANCELLED_OR_RETURNED = "해당 주문이 취소 또는 반품되었습니다"

_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)


# --- parsing -----------------------------------------------------------------------------------


def _when(value: Any) -> datetime | None:
    """A Coupang timestamp or None for ``""``/null (v4 naive KST, v5 ISO-8601 with offset)."""
    if value in (None, ""):
        return None
    return parse_market_datetime(value)


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"date must be a string, got {type(value).__name__}")
    return date.fromisoformat(value.strip()[:10])


def _count(value: Any) -> int:
    number = opt_int(value)
    return number if number is not None and number > 0 else 0


def parse_ordersheet(item: Any) -> RemoteOrderLine | Malformed:
    """One order sheet (shipment box) → a normalized order line, v4 or v5 shape."""
    if not isinstance(item, dict):
        return Malformed(COUPANG_ORDER, item, f"order sheet must be an object, got {type(item).__name__}")
    try:
        box_id = as_id(item.get("shipmentBoxId"))
        order_id = as_id(item.get("orderId"))
        raw_status = item.get("status")
        if raw_status not in STATUS_MAP:
            raise ValueError(f"unknown order status {short_text(raw_status, 40)!r}")
        items = item.get("orderItems")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("orderItems must be a list of objects")
        status, claim_type, claim_status = STATUS_MAP[raw_status], "", ""
        ordered = sum(_count(i.get("shippingCount")) for i in items)
        cancelled = sum(_count(i.get("cancelCount")) for i in items)
        held = sum(_count(i.get("holdCountForCancel")) for i in items)
        if items and all(
            i.get("canceled") is True or _count(i.get("cancelCount")) >= max(1, _count(i.get("shippingCount")))
            for i in items
        ):
            status, claim_type, claim_status = CANCELLED, CLAIM_CANCEL, "CANCELED"
        elif cancelled or any(i.get("canceled") is True for i in items):
            claim_type, claim_status = CLAIM_CANCEL, "PARTIALLY_CANCELED"
        elif held:
            claim_type, claim_status = CLAIM_CANCEL, "CANCEL_REQUESTED"
        planned = [
            d for i in items for d in [_day(i.get("plannedShippingDate")) or _day(i.get("estimatedShippingDate"))] if d
        ]
        carrier = opt_text(item.get("deliveryCompanyName")) or ""
        code = carrier_code_for(carrier)
        shipped_at, delivered_at = _when(item.get("inTrasitDateTime")), _when(item.get("deliveredDate"))
        names = [
            n for i in items for n in [opt_text(i.get("sellerProductName")) or opt_text(i.get("vendorItemName"))] if n
        ]
        product_name = names[0] if names else ""
        if len(names) > 1:
            product_name = f"{product_name} 외 {len(names) - 1}건"
        moved = [t for t in (shipped_at, delivered_at) if t]
        return RemoteOrderLine(
            market_code=MARKET_COUPANG,
            order_id=order_id,
            line_id=box_id,
            status=status,
            raw_status=raw_status,
            claim_type=claim_type,
            claim_status=claim_status,
            delivery_issue=ISSUE_NOT_TRACKABLE if raw_status == "NONE_TRACKING" else "",
            carrier_code=code,
            carrier_name=carrier_name_for(code, carrier),
            tracking_number=(opt_text(item.get("invoiceNumber")) or "").strip(),
            ordered_at=_when(item.get("orderedAt")),
            paid_at=_when(item.get("paidAt")),
            shipped_at=shipped_at,
            delivered_at=delivered_at,
            expected_dispatch_date=min(planned) if planned else None,
            last_movement_at=max(moved) if moved else None,
            product_ids=id_list(
                *[v for i in items for v in (i.get("vendorItemId"), i.get("productId"), i.get("sellerProductId"))]
            ),
            product_name=product_name[:300],
            quantity=max(0, ordered - cancelled) or ordered or 1,
            raw=scrub_order(item),
        )
    except _PARSE_ERRORS as exc:
        return Malformed(COUPANG_ORDER, item, short_text(exc))


def parse_return_request(item: Any) -> RemoteClaim | Malformed:
    """One returnRequests element (a cancel or a return) → the boxes it concerns."""
    if not isinstance(item, dict):
        return Malformed(COUPANG_RETURN, item, f"return request must be an object, got {type(item).__name__}")
    try:
        receipt_type = item.get("receiptType")
        if receipt_type not in (CLAIM_RETURN, CLAIM_CANCEL):
            raise ValueError(f"unknown receiptType {short_text(receipt_type, 40)!r}")
        lines = item.get("returnItems") or []
        if not isinstance(lines, list) or not all(isinstance(i, dict) for i in lines):
            raise ValueError("returnItems must be a list of objects")
        if receipt_status_stops(item):
            # A cancellation after 상품준비중 is filed as a return whose shipment is to be stopped (출고중지):
            # for the buyer it is a cancelled order.
            receipt_type = CLAIM_CANCEL
        return RemoteClaim(
            order_id=as_id(item.get("orderId")),
            receipt_id=as_id(item.get("receiptId")),
            claim_type=receipt_type,
            claim_status=short_text(item.get("receiptStatus"), 40),
            created_at=_when(item.get("createdAt")),
            line_ids=id_list(*[i.get("shipmentBoxId") for i in lines]),
            product_ids=id_list(*[v for i in lines for v in (i.get("vendorItemId"), i.get("sellerProductId"))]),
            product_names=[
                n
                for i in lines
                for n in [opt_text(i.get("sellerProductName")) or opt_text(i.get("vendorItemName"))]
                if n
            ],
            raw=scrub_order(item),
        )
    except _PARSE_ERRORS as exc:
        return Malformed(COUPANG_RETURN, item, short_text(exc))


def receipt_status_stops(item: dict[str, Any]) -> bool:
    """A request to stop a shipment (출고중지): RELEASE_STOP_UNCHECKED, or a release stop that was processed."""
    stop = str(item.get("releaseStopStatus") or "")
    return item.get("receiptStatus") == "RELEASE_STOP_UNCHECKED" or "출고중지" in stop


def parse_list_page(body: bytes | str, parse_item: Callable[[Any], Any], kind: str) -> tuple[list, str, str | None]:
    """A list response → (items, next token, error). ``error`` set means the page was unreadable; its
    raw body is then the one Malformed item."""
    try:
        document = load_object(kind, body)
    except UnreadableBody as unreadable:
        return [unreadable.malformed], "", unreadable.problem
    if "code" in document and not code_ok(document.get("code")):
        return [], "", f"code={short_text(document.get('code'), 40)}: {short_text(document.get('message'))}"
    data = document.get("data")
    if data is None:
        data = []
    if isinstance(data, dict):  # a single object where a list was expected (the 2019 by-orderId sample)
        data = [data]
    if not isinstance(data, list):
        return [Malformed(kind, document, "response data is not a list")], "", "response data is not a list"
    token = document.get("nextToken")
    return [parse_item(element) for element in data], token if isinstance(token, str) else "", None


# --- the reads ---------------------------------------------------------------------------------


def _day_param(value: date) -> str:
    return f"{value.isoformat()}+09:00"  # v5 day paging: "2025-07-15+09:00", sent as 2025-07-15%2B09:00


def _minute_param(value: datetime) -> str:
    return ensure_aware(value).astimezone(KST).strftime("%Y-%m-%dT%H:%M")


class CoupangOrderReads:
    """Order reads for :class:`~markets.clients.coupang.CoupangClient` (uses its ``_read``)."""

    config: Any
    _read: Callable[..., Any]

    def _vendor_path(self, version: str, rest: str) -> str:
        return f"{API}/{version}/vendors/{self.config.vendor_id}/{rest}"

    def _token_pages(
        self, endpoint: str, build: Callable[[str], _Prepared], parse_item: Callable[[Any], Any], kind: str
    ) -> Iterator[Any]:
        """Follow ``nextToken`` until it is empty; an unreadable page raises ``MarketResponseError``."""
        token, pages = "", 0
        while True:
            result = self._read(Endpoint(endpoint), build(token))
            items, token, error = parse_list_page(result.body, parse_item, kind)
            if error:
                malformed = next((i for i in items if isinstance(i, Malformed)), None)
                raise MarketResponseError(
                    f"{endpoint}: page unreadable: {error}", http_status=result.status, malformed=malformed
                )
            yield from items
            pages += 1
            if not token or not items:
                return
            if pages >= MAX_PAGES:
                raise MarketResponseError(f"{endpoint}: more than {MAX_PAGES} pages; giving up")

    def list_ordersheets(
        self, start: datetime, end: datetime, statuses: tuple[str, ...] = ORDERSHEET_STATUSES
    ) -> Iterator[RemoteOrderLine | Malformed]:
        """Every shipment box ordered in [start, end] (KST days), for each status. A box seen twice (its
        status changed between two status lists) is yielded twice; the later one is the newer."""
        for first, last in date_windows(kst_date(start), kst_date(end), ORDER_WINDOW_DAYS):
            for status in statuses:

                def build(token: str, first: date = first, last: date = last, status: str = status) -> _Prepared:
                    params = [
                        ("createdAtFrom", _day_param(first)),
                        ("createdAtTo", _day_param(last)),
                        ("status", status),
                        ("maxPerPage", str(ORDER_PAGE_SIZE)),
                    ]
                    if token:
                        params.append(("nextToken", token))
                    return _Prepared("GET", self._vendor_path("v5", "ordersheets"), urlencode(params, safe=":"))

                yield from self._token_pages("orders.list", build, parse_ordersheet, COUPANG_ORDER)

    def _claims(
        self, extra: list[tuple[str, str]], start: datetime, end: datetime
    ) -> Iterator[RemoteClaim | Malformed]:
        for first, last in datetime_windows(start, end, RETURN_WINDOW):

            def build(token: str, first: datetime = first, last: datetime = last) -> _Prepared:
                params = [
                    ("searchType", "timeFrame"),
                    ("createdAtFrom", _minute_param(first)),
                    ("createdAtTo", _minute_param(last)),
                    *extra,
                ]
                if token:
                    params.append(("nextToken", token))
                return _Prepared("GET", self._vendor_path("v6", "returnRequests"), urlencode(params, safe=":"))

            yield from self._token_pages("orders.returns", build, parse_return_request, COUPANG_RETURN)

    def list_claims(self, start: datetime, end: datetime) -> Iterator[RemoteClaim | Malformed]:
        """Return requests in every state and cancellations made at 결제완료, created in [start, end]."""
        for status in RETURN_STATUSES:
            yield from self._claims([("status", status)], start, end)
        yield from self._claims([("cancelType", "CANCEL")], start, end)

    def get_order(self, order_id: str, *, now: datetime | None = None) -> list[RemoteOrderLine | Malformed]:
        """Every shipment box of one order (a targeted look-up). Raises ``OrderNotFound``.

        A fully cancelled or returned order answers 400 "취소 또는 반품"; its return requests then say
        which boxes and how (a line per box, or one line for the whole order when they name none).
        """
        order_id = as_id(order_id)
        try:
            result = self._read(
                Endpoint("orders.get"), _Prepared("GET", self._vendor_path("v5", f"{order_id}/ordersheets"))
            )
        except MarketRequestError as exc:
            if exc.http_status == 400 and CANCELLED_OR_RETURNED in exc.message:
                return self._lines_from_claims(order_id, now=now)
            if exc.http_status in (400, 404):
                raise OrderNotFound(order_id) from None
            raise
        items, _token, error = parse_list_page(result.body, parse_ordersheet, COUPANG_ORDER)
        if error:
            raise MarketResponseError(
                f"orders.get: unreadable: {error}",
                http_status=result.status,
                malformed=next((i for i in items if isinstance(i, Malformed)), None),
            )
        if not items:
            raise OrderNotFound(order_id)
        return items

    def _lines_from_claims(self, order_id: str, *, now: datetime | None) -> list[RemoteOrderLine | Malformed]:
        end = now or datetime.now(KST)
        start = end - timedelta(days=CLAIM_LOOKUP_DAYS)
        claims = [
            c
            for extra in ([("orderId", order_id)], [("orderId", order_id), ("cancelType", "CANCEL")])
            for c in self._claims(extra, start, end)
        ]
        lines: list[RemoteOrderLine | Malformed] = [c for c in claims if isinstance(c, Malformed)]
        for claim in (c for c in claims if isinstance(c, RemoteClaim) and c.order_id == order_id):
            lines += claim_lines(claim)
        if not any(isinstance(line, RemoteOrderLine) for line in lines):
            # The marketplace says cancelled or returned but lists no request: one line for the order.
            lines.append(
                RemoteOrderLine(
                    MARKET_COUPANG,
                    order_id,
                    f"{order_id}-claim",
                    CANCELLED,
                    "",
                    claim_type=CLAIM_CANCEL,
                    claim_status="CANCELED_OR_RETURNED",
                )
            )
        return lines

    def box_history(self, shipment_box_id: str) -> list[tuple[str, str, datetime]]:
        """A box's delivery status history, newest first: (status, description, time)."""
        result = self._read(
            Endpoint("orders.history"),
            _Prepared("GET", self._vendor_path("v5", f"ordersheets/{as_id(shipment_box_id)}/history")),
        )
        document = result.json_or_none()
        if isinstance(document, dict) and isinstance(document.get("data"), dict):
            document = document["data"]  # the spec wraps it; the documented example does not
        details = document.get("details") if isinstance(document, dict) else None
        if not isinstance(details, list):
            raise MarketResponseError("orders.history: response has no details list", http_status=result.status)
        history = []
        for row in details:
            try:
                when = _when(row.get("updatedAt"))
            except (ValueError, AttributeError):
                continue
            if when is not None:
                history.append((str(row.get("deliveryStatus") or ""), str(row.get("deliveryStatusDesc") or ""), when))
        return sorted(history, key=lambda h: h[2], reverse=True)


def claim_lines(claim: RemoteClaim) -> list[RemoteOrderLine]:
    """Order lines for the boxes a cancel/return request names (when we have not seen the boxes)."""
    names = claim.product_names
    return [
        RemoteOrderLine(
            MARKET_COUPANG,
            claim.order_id,
            line_id,
            claim.status,
            "",
            claim_type=claim.claim_type,
            claim_status=claim.claim_status,
            product_ids=list(claim.product_ids),
            product_name=(names[0] if names else "")[:300],
            raw=claim.raw,
        )
        for line_id in (claim.line_ids or [f"{claim.order_id}-claim"])
    ]
