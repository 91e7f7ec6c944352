"""HTTP handlers of the fake order and shipping APIs (research/order-apis.md §1–§2, §5).

A mixin of the sandbox request handler: authentication, rate limits and the generic faults have
run before any method here is called. These handlers validate parameters like the real APIs (with
the documented error bodies), read the ``OrderBook`` under the store lock, and apply the order-only
faults: ``malformed_orders`` (a fraction of served objects replaced by broken ones),
``malformed_order_pages`` (a body that is not JSON) and ``order_not_found_empty_200``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from markets.clients.types import KST, MARKET_COUPANG, MARKET_SMARTSTORE
from markets.sandbox.accounts import CoupangAccount, NaverAccount
from markets.sandbox.coupang_order_views import (
    coupang_history,
    coupang_ordersheet,
    coupang_receipt,
    coupang_status,
)
from markets.sandbox.naver_order_views import naver_change, naver_product_order
from markets.sandbox.orders import Line, Order
from markets.sandbox.protocol import Reply, int_param, now_kst_iso
from markets.sandbox.store import SandboxStore

ORDERSHEET_STATUSES = ("ACCEPT", "INSTRUCT", "DEPARTURE", "DELIVERING", "FINAL_DELIVERY", "NONE_TRACKING")
# returnRequests ``status`` → the receiptStatus values it lists (입고완료 counts as 반품접수).
RETURN_STATUS_FILTER = {
    "RU": ("RELEASE_STOP_UNCHECKED",),
    "UC": ("RETURNS_UNCHECKED", "VENDOR_WAREHOUSE_CONFIRM"),
    "CC": ("RETURNS_COMPLETED",),
    "PR": ("REQUEST_COUPANG_CHECK",),
}
NAVER_CHANGE_TYPES = (
    "PAY_WAITING",
    "PAYED",
    "EXCHANGE_OPTION",
    "DELIVERY_ADDRESS_CHANGED",
    "GIFT_RECEIVED",
    "CLAIM_REJECTED",
    "DISPATCHED",
    "CLAIM_REQUESTED",
    "COLLECT_DONE",
    "CLAIM_COMPLETED",
    "PURCHASE_DECIDED",
    "HOPE_DELIVERY_INFO_CHANGED",
    "CLAIM_REDELIVERING",
)
RANGE_TOO_WIDE = "endTime-startTime range should less than31."
CANCELLED_OR_RETURNED = "해당 주문이 취소 또는 반품되었습니다."
ORDER_NOT_FOUND = "주문 정보를 찾을 수 없습니다."
MAX_PAGE = 50
LIST_LAG = timedelta(minutes=10)  # Coupang: a new paid order reaches the list after ~10 min (single look-ups sooner)
NAVER_MAX_IDS = 300
NAVER_MAX_SPAN = timedelta(hours=24)
_OFFSET = r"([+-]\d{2}:\d{2})"
_ID_KEYS = frozenset({"shipmentBoxId", "orderId", "productOrderId", "receiptId"})


def _tz(offset: str) -> timezone:
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _cursor(moment: datetime, ident: str, width: int) -> str:
    """An opaque page token: the sort key (epoch ms + id) of the first row of the next page."""
    return f"{_epoch_ms(moment):013d}{int(ident):0{width}d}"


def _after(token: str, width: int) -> tuple[int, int] | None:
    if not token.isdigit() or len(token) != 13 + width:
        return None
    return int(token[:13]), int(token[13:])


def _broken(rng: Any, value: Any) -> Any:
    """A plausible broken version of one served object: ids missing, wrong types, or not an object."""
    variant = rng.randrange(3)
    if isinstance(value, dict) and variant == 0:

        def strip(node: Any) -> Any:
            if isinstance(node, dict):
                return {k: strip(v) for k, v in node.items() if k not in _ID_KEYS}
            return node

        return strip(value)
    if isinstance(value, dict) and variant == 1:
        return {
            k: (
                f"#{v}"
                if k in _ID_KEYS
                else "unavailable"
                if isinstance(v, (list, dict))
                else "2025-13-45T25:61:00"
                if isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}", v)
                else v
            )
            for k, v in value.items()
        }
    return rng.choice(
        ["", 0, None, [], True, "<html><body>error</body></html>", {"id": value} if isinstance(value, str) else 12]
    )


class OrderRoutes:
    """Order read handlers; mixed into ``SandboxRequestHandler`` (which provides the attributes below)."""

    if TYPE_CHECKING:

        @property
        def store(self) -> SandboxStore: ...

    request_id: str
    _send_json: Callable[[int, Any], None]
    _send: Callable[[int, bytes, str | None], None]
    _naver_error: Callable[..., Reply]

    # -- shared --

    def _order_json(self, payload: dict[str, Any], corrupt: tuple[str, ...] = ()) -> None:
        """Send a 200 order read, after the malformed-payload faults: ``corrupt`` is the key path
        (``("data",)``, ``("data", "lastChangeStatuses")``…) of the list or object to damage."""
        store = self.store
        with store.lock:
            fraction = store.faults.malformed_orders
            if fraction > 0 and corrupt:
                holder = payload
                for key in corrupt[:-1]:
                    holder = holder[key]
                target = holder[corrupt[-1]]
                if isinstance(target, list):
                    holder[corrupt[-1]] = [
                        _broken(store.rng, v) if store.rng.random() < fraction else v for v in target
                    ]
                elif target is not None and store.rng.random() < fraction:
                    holder[corrupt[-1]] = _broken(store.rng, target)
        if store.faults.malformed_order_pages and store.take_counted("malformed_order_pages"):
            text = json.dumps(payload, ensure_ascii=False)
            self._send(200, text[: max(1, len(text) // 2)].encode("utf-8"), "application/json;charset=UTF-8")
            return
        self._send_json(200, payload)

    @staticmethod
    def _query(raw_query: str) -> dict[str, str]:
        return dict(parse_qsl(raw_query, keep_blank_values=True))

    @staticmethod
    def _bad(message: str) -> Reply:
        return Reply(400, {"code": 400, "message": message, "data": None})

    def _not_found(self, empty: Any) -> Reply:
        if self.store.faults.order_not_found_empty_200:
            return Reply(200, {"code": "200", "message": "OK", "data": empty})
        return self._bad(ORDER_NOT_FOUND)

    def _coupang_line(self, account: CoupangAccount, box: str) -> tuple[Order, Line] | None:
        found = self.store.orders.lines.get(box) if box.isdigit() else None
        if found is None or found[0].market != MARKET_COUPANG or found[0].owner != account.vendor_id:
            return None
        return found

    def _coupang_range(
        self, query: dict[str, str], *, v5: bool, minutes: bool, max_span: timedelta
    ) -> tuple[datetime, datetime]:
        """``createdAtFrom``/``createdAtTo`` as an inclusive [start, end] (a whole day or minute each)."""
        base = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}" if minutes else r"\d{4}-\d{2}-\d{2}"
        shape = ("yyyy-MM-ddTHH:mm" if minutes else "yyyy-MM-dd") + ("+09:00 (URL-encode '+' as %2B)" if v5 else "")
        bounds = []
        for name in ("createdAtFrom", "createdAtTo"):
            found = re.fullmatch(f"({base}){_OFFSET if v5 else ''}", query.get(name, ""))
            if not found:
                raise self._bad(f"{name} is required and must be {shape}.")
            tz = _tz(found.group(2)) if v5 else KST
            try:
                if minutes:
                    bounds.append(datetime.fromisoformat(found.group(1)).replace(tzinfo=tz))
                else:
                    bounds.append(datetime.combine(date.fromisoformat(found.group(1)), time(0), tz))
            except ValueError:
                raise self._bad(f"{name} is not a valid date: {query[name]}") from None
        start, end = bounds
        if end < start:
            raise self._bad("createdAtFrom must not be after createdAtTo.")
        if end - start > max_span:
            raise self._bad(RANGE_TOO_WIDE)
        return start, end + (timedelta(minutes=1) if minutes else timedelta(days=1)) - timedelta(microseconds=1)

    def _page_size(self, query: dict[str, str]) -> int:
        size = int_param(query.get("maxPerPage"), MAX_PAGE)
        if size is None or not 1 <= size <= MAX_PAGE:
            raise self._bad(f"maxPerPage must be between 1 and {MAX_PAGE}.")
        return size

    # -- Coupang order sheets --

    def coupang_ordersheets_list(
        self, route: Any, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        v5 = params["version"] == "v5"
        query = self._query(raw_query)
        status = query.get("status", "")
        if status not in ORDERSHEET_STATUSES:
            raise self._bad(
                f"status is required and must be one of {', '.join(ORDERSHEET_STATUSES)} (one value per call)."
            )
        search_type = query.get("searchType", "")
        if search_type not in ("", "timeFrame"):
            raise self._bad("searchType must be timeFrame or omitted.")
        per_minute = search_type == "timeFrame"
        start, end = self._coupang_range(
            query, v5=v5, minutes=per_minute, max_span=timedelta(hours=24) if per_minute else timedelta(days=31)
        )
        size = self._page_size(query)
        token = "" if per_minute else query.get("nextToken", "")  # per-minute search returns every row
        after = _after(token, 18) if token else (0, 0)
        if after is None:
            raise self._bad("nextToken is invalid.")
        listed_before = datetime.now(KST) - LIST_LAG
        with self.store.lock:
            rows = sorted(
                (
                    (order, line)
                    for order in self.store.orders.of_market(MARKET_COUPANG, account.vendor_id)
                    if start <= order.ordered_at <= end and order.paid_at and order.paid_at <= listed_before
                    for line in order.lines
                    if not line.fully_claimed() and coupang_status(line) == status
                ),
                key=lambda row: (row[0].ordered_at, int(row[1].line_id)),
            )
            rows = [r for r in rows if (_epoch_ms(r[0].ordered_at), int(r[1].line_id)) >= after]
            page, rest = (rows, []) if per_minute else (rows[:size], rows[size:])
            profile = self.store.orders.profile(account.vendor_id)
            data = [coupang_ordersheet(order, line, profile, v5=v5) for order, line in page]
        next_token = _cursor(rest[0][0].ordered_at, rest[0][1].line_id, 18) if rest else ""
        self._order_json({"code": 200, "message": "OK", "data": data, "nextToken": next_token}, ("data",))

    def coupang_ordersheet_box(
        self, route: Any, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        with self.store.lock:
            found = self._coupang_line(account, params["box"])
            if found is None:
                raise self._not_found(None)
            order, line = found
            if line.fully_claimed():
                raise self._bad(CANCELLED_OR_RETURNED)
            data = coupang_ordersheet(
                order, line, self.store.orders.profile(account.vendor_id), v5=params["version"] == "v5"
            )
        self._order_json({"code": "200", "message": "OK", "data": data}, ("data",))

    def coupang_ordersheets_by_order(
        self, route: Any, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        with self.store.lock:
            order = self.store.orders.orders.get(params["order"])
            if order is None or order.market != MARKET_COUPANG or order.owner != account.vendor_id:
                raise self._not_found([])
            lines = [line for line in order.lines if not line.fully_claimed()]
            if not lines:
                raise self._bad(CANCELLED_OR_RETURNED)
            profile = self.store.orders.profile(account.vendor_id)
            data = [coupang_ordersheet(order, line, profile, v5=params["version"] == "v5") for line in lines]
        self._order_json({"code": "200", "message": "OK", "data": data}, ("data",))

    def coupang_ordersheet_history(
        self, route: Any, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        with self.store.lock:
            found = self._coupang_line(account, params["box"])
            if found is None:
                if self.store.faults.order_not_found_empty_200:
                    raise Reply(
                        200,
                        {
                            "shipmentBoxId": int(params["box"]) if params["box"].isdigit() else params["box"],
                            "details": [],
                        },
                    )
                raise self._bad(ORDER_NOT_FOUND)
            payload = coupang_history(*found, v5=params["version"] == "v5")
        self._order_json(payload, ("details",))

    # -- Coupang cancel / return requests --

    def coupang_returns_list(
        self, route: Any, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        v6 = params["version"] == "v6"
        query = self._query(raw_query)
        search_type = query.get("searchType", "")
        if search_type not in ("", "timeFrame") or (v6 and search_type != "timeFrame"):
            raise self._bad(
                "searchType=timeFrame is required (createdAtFrom/createdAtTo as yyyy-MM-ddTHH:mm)."
                if v6
                else "searchType must be timeFrame or omitted."
            )
        start, end = self._coupang_range(query, v5=False, minutes=bool(search_type), max_span=timedelta(days=31))
        status, cancel_type, order_id = (
            query.get("status", ""),
            query.get("cancelType", "RETURN"),
            query.get("orderId", ""),
        )
        if status and status not in RETURN_STATUS_FILTER:
            raise self._bad(f"status must be one of {', '.join(RETURN_STATUS_FILTER)}.")
        if cancel_type not in ("RETURN", "CANCEL"):
            raise self._bad("cancelType must be RETURN or CANCEL.")
        if cancel_type == "CANCEL" and status:
            raise self._bad("cancelType=CANCEL cannot be combined with status.")
        if cancel_type == "RETURN" and not status and not order_id:
            raise self._bad("status is required when orderId is not given.")
        if order_id and not order_id.isdigit():
            raise self._bad("orderId must be a number.")
        size = self._page_size(query)
        token = query.get("nextToken", "")
        after = _after(token, 9) if token else (0, 0)
        if after is None:
            raise self._bad("nextToken is invalid.")
        with self.store.lock:
            receipts = []
            for order, line in self.store.orders.receipts.values():
                if order.owner != account.vendor_id or (order_id and order.order_id != order_id):
                    continue
                receipt = coupang_receipt(order, line)
                assert line.claim is not None
                if receipt["receiptType"] != cancel_type or not start <= line.claim.requested_at <= end:
                    continue
                if status and receipt["receiptStatus"] not in RETURN_STATUS_FILTER[status]:
                    continue
                receipts.append((line.claim.requested_at, receipt))
        receipts.sort(key=lambda r: (r[0], r[1]["receiptId"]))
        receipts = [r for r in receipts if (_epoch_ms(r[0]), r[1]["receiptId"]) >= after]
        page, rest = receipts[:size], receipts[size:]
        next_token = _cursor(rest[0][0], str(rest[0][1]["receiptId"]), 9) if rest else ""
        self._order_json(
            {"code": 200, "message": "OK", "data": [r for _at, r in page], "nextToken": next_token}, ("data",)
        )

    def coupang_return_get(
        self, route: Any, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        with self.store.lock:
            found = self.store.orders.receipts.get(params["receipt"])
            if found is None or found[0].owner != account.vendor_id:
                if self.store.faults.order_not_found_empty_200:
                    raise Reply(200, {"code": "200", "message": "OK", "data": []})
                raise self._bad("취소/반품 접수 정보를 찾을 수 없습니다.")
            receipt = coupang_receipt(*found)
        # The documented single look-up answers a one-element array.
        self._order_json({"code": "200", "message": "OK", "data": [receipt]}, ("data",))

    # -- Naver --

    def _naver_bad(self, field: str, message: str, code: str = "4000") -> Reply:
        return self._naver_error(400, code, message, [{"name": field, "type": "Invalid", "message": message}])

    def _naver_when(self, query: dict[str, str], name: str) -> datetime | None:
        value = query.get(name)
        if value is None or value == "":
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self._naver_bad(
                name, f"잘못된 요청 파라미터입니다. ({name}: yyyy-MM-dd'T'HH:mm:ss.SSSXXX, '+'는 %2B로 인코딩)"
            ) from None
        if parsed.tzinfo is None:
            raise self._naver_bad(name, f"잘못된 요청 파라미터입니다. ({name}: 시간대(+09:00)가 필요합니다)")
        return parsed

    def naver_order_changes(
        self, route: Any, params: dict[str, str], raw_query: str, body: bytes, account: NaverAccount
    ) -> None:
        query = self._query(raw_query)
        start = self._naver_when(query, "lastChangedFrom")
        if start is None:
            raise self._naver_bad("lastChangedFrom", "잘못된 요청 파라미터입니다. (lastChangedFrom은 필수입니다)")
        explicit_end = self._naver_when(query, "lastChangedTo")
        end = explicit_end or start + NAVER_MAX_SPAN
        if end < start:
            raise self._naver_bad(
                "lastChangedTo", "잘못된 요청 파라미터입니다. (lastChangedTo가 lastChangedFrom보다 이전입니다)"
            )
        if explicit_end is not None and end - start > NAVER_MAX_SPAN:
            raise self._naver_error(400, "104139", "조회 가능한 날짜 범위를 초과하였습니다.")
        change_type = query.get("lastChangedType") or None
        if change_type is not None and change_type not in NAVER_CHANGE_TYPES:
            raise self._naver_bad("lastChangedType", f"잘못된 요청 파라미터입니다. (lastChangedType: {change_type})")
        limit = int_param(query.get("limitCount"), NAVER_MAX_IDS)
        if limit is None or limit < 1:
            raise self._naver_bad("limitCount", "잘못된 요청 파라미터입니다. (limitCount는 1 이상)")
        limit = min(limit, NAVER_MAX_IDS)
        sequence = query.get("moreSequence", "")
        if sequence and (not sequence.isdigit() or len(sequence) != 24):
            raise self._naver_bad("moreSequence", "잘못된 요청 파라미터입니다. (moreSequence)")
        after = (start, sequence[:16], int(sequence[16:])) if sequence else (start, "", 0)
        with self.store.lock:
            rows = sorted(
                (
                    row
                    for row in self.store.orders.changes
                    if row.owner == account.client_id
                    and start <= row.at <= end
                    and (change_type is None or row.change_type == change_type)
                ),
                key=lambda row: (row.at, row.line_id, row.seq),
            )
            rows = [row for row in rows if (row.at, row.line_id, row.seq) >= after]
            page, rest = rows[:limit], rows[limit:]
            data: dict[str, Any] = {"count": len(page), "lastChangeStatuses": [naver_change(row) for row in page]}
        if rest:
            data["more"] = {
                "moreFrom": naver_change(rest[0])["lastChangedDate"],
                "moreSequence": f"{rest[0].line_id}{rest[0].seq:08d}",
            }
        self._order_json(
            {"timestamp": now_kst_iso(), "traceId": self.request_id, "data": data}, ("data", "lastChangeStatuses")
        )

    def naver_order_query(
        self, route: Any, params: dict[str, str], raw_query: str, body: bytes, account: NaverAccount
    ) -> None:
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise self._naver_bad("body", "잘못된 요청 파라미터입니다. (JSON 본문을 읽을 수 없습니다)") from None
        ids = payload.get("productOrderIds") if isinstance(payload, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i.strip() for i in ids):
            raise self._naver_bad("productOrderIds", "잘못된 요청 파라미터입니다. (productOrderIds: 문자열 배열, 필수)")
        if len(ids) > NAVER_MAX_IDS:
            raise self._naver_bad(
                "productOrderIds", f"잘못된 요청 파라미터입니다. (productOrderIds는 최대 {NAVER_MAX_IDS}개)"
            )
        if len(set(ids)) != len(ids):
            raise self._naver_error(400, "104131", "상품 주문 번호가 중복되었습니다.")
        quantity_claim = payload.get("quantityClaimCompatibility") is True
        with self.store.lock:
            data = []
            profile = self.store.orders.profile(account.client_id)
            for product_order_id in ids:
                found = self.store.orders.lines.get(product_order_id.strip())
                if found and found[0].market == MARKET_SMARTSTORE and found[0].owner == account.client_id:
                    data.append(naver_product_order(*found, profile, quantity_claim=quantity_claim))
        self._order_json({"timestamp": now_kst_iso(), "traceId": self.request_id, "data": data}, ("data",))

    def naver_order_ids(
        self, route: Any, params: dict[str, str], raw_query: str, body: bytes, account: NaverAccount
    ) -> None:
        with self.store.lock:
            order = self.store.orders.orders.get(params["order"])
            if order is None or order.market != MARKET_SMARTSTORE or order.owner != account.client_id:
                raise self._naver_error(400, "100003", "주문을 찾을 수 없음")
            ids = [line.line_id for line in order.lines]
        self._order_json({"timestamp": now_kst_iso(), "traceId": self.request_id, "data": ids}, ("data",))
