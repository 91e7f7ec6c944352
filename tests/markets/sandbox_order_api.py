"""Request helpers and invariant checks (research/order-apis.md §5.1) shared by the sandbox order API tests."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests

from markets.clients.coupang import coupang_authorization
from markets.clients.types import KST
from markets.sandbox.generator import PRODUCTS

API = "/v2/providers/openapi/apis/api"
NAVER_ORDERS = "/v1/pay-order/seller"
COUPANG_CARRIER_DIGITS = {"CJ 대한통운": 12, "한진택배": 12, "롯데택배": 12, "로젠택배": 11, "우체국": 13}
NAVER_CARRIER_DIGITS = {"CJGLS": 12, "HANJIN": 12, "HYUNDAI": 12, "KGB": 11, "EPOST": 13}
NAVER_CHANGE_TYPES = {
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
}
RANGE_TOO_WIDE = {"code": 400, "message": "endTime-startTime range should less than31.", "data": None}
CANCELLED_OR_RETURNED = {"code": 400, "message": "해당 주문이 취소 또는 반품되었습니다.", "data": None}
NOT_FOUND = {"code": 400, "message": "주문 정보를 찾을 수 없습니다.", "data": None}


def _now() -> datetime:
    return datetime.now(KST)


def _today() -> date:
    return _now().date()


# --- request helpers ----------------------------------------------------------------------------


def _cget(http, sandbox, account, path: str, params: Any = ()) -> requests.Response:
    """A signed Coupang GET; the query is encoded once (``+`` → ``%2B``) and that exact string is signed."""
    query = params if isinstance(params, str) else urlencode(list(params), safe=":")
    auth = coupang_authorization(account.access_key, account.secret_key, "GET", path, query)
    return http.get(sandbox.url + path + (f"?{query}" if query else ""), headers={"Authorization": auth}, timeout=5)


def _vp(account, version: str, rest: str) -> str:
    return f"{API}/{version}/vendors/{account.vendor_id}/{rest}"


def _days(first: date, last: date, *, v5: bool = True) -> list[tuple[str, str]]:
    suffix = "+09:00" if v5 else ""
    return [("createdAtFrom", f"{first.isoformat()}{suffix}"), ("createdAtTo", f"{last.isoformat()}{suffix}")]


def _ordersheets(http, sandbox, account, status: str, *, version: str = "v5", per_page: int = 50) -> list[dict]:
    """Every order sheet of ``status`` ordered in the last 12 days, following nextToken."""
    items, token, pages = [], "", 0
    while True:
        params = [
            *_days(_today() - timedelta(days=12), _today(), v5=version == "v5"),
            ("status", status),
            ("maxPerPage", str(per_page)),
        ] + ([("nextToken", token)] if token else [])
        response = _cget(http, sandbox, account, _vp(account, version, "ordersheets"), params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["code"] == 200 and body["message"] == "OK" and isinstance(body["nextToken"], str)
        assert len(body["data"]) <= per_page
        items += body["data"]
        token, pages = body["nextToken"], pages + 1
        if not token:
            return items
        assert pages < 100


def _minutes(start: datetime, end: datetime) -> list[tuple[str, str]]:
    return [
        ("searchType", "timeFrame"),
        ("createdAtFrom", start.astimezone(KST).strftime("%Y-%m-%dT%H:%M")),
        ("createdAtTo", end.astimezone(KST).strftime("%Y-%m-%dT%H:%M")),
    ]


def _returns(http, sandbox, account, *extra: tuple[str, str], version: str = "v6", days: int = 30) -> requests.Response:
    params = [*_minutes(_now() - timedelta(days=days), _now() + timedelta(minutes=1)), *extra]
    return _cget(http, sandbox, account, _vp(account, version, "returnRequests"), params)


def _nget(http, sandbox, token: str, path: str, params: Any = ()) -> requests.Response:
    query = params if isinstance(params, str) else urlencode(list(params))
    return http.get(
        sandbox.naver_base_url + path + (f"?{query}" if query else ""),
        timeout=5,
        headers={"Authorization": f"Bearer {token}"},
    )


def _nquery(http, sandbox, token: str, ids: list[str], **extra: Any) -> requests.Response:
    return http.post(
        sandbox.naver_base_url + NAVER_ORDERS + "/product-orders/query",
        timeout=5,
        json={"productOrderIds": ids, "quantityClaimCompatibility": True, **extra},
        headers={"Authorization": f"Bearer {token}"},
    )


def _nt(value: datetime) -> str:
    return value.astimezone(KST).isoformat(timespec="milliseconds")


def _changes(
    http, sandbox, token: str, start: datetime, end: datetime, *, limit: int = 300, change_type: str | None = None
) -> list[dict]:
    """Every change-log row in [start, end], in 24 h windows, following ``more``."""
    rows: list[dict] = []
    window = start
    while window < end:
        last = min(window + timedelta(hours=24), end)
        params = [("lastChangedFrom", _nt(window)), ("lastChangedTo", _nt(last)), ("limitCount", str(limit))]
        params += [("lastChangedType", change_type)] if change_type else []
        for _page in range(1000):
            response = _nget(http, sandbox, token, NAVER_ORDERS + "/product-orders/last-changed-statuses", params)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            assert data["count"] == len(data["lastChangeStatuses"]) <= limit
            rows += data["lastChangeStatuses"]
            if "more" not in data:
                break
            params = [
                ("lastChangedFrom", data["more"]["moreFrom"]),
                ("lastChangedTo", _nt(last)),
                ("limitCount", str(limit)),
                ("moreSequence", data["more"]["moreSequence"]),
            ]
            params += [("lastChangedType", change_type)] if change_type else []
        window = last + timedelta(milliseconds=1)
    return rows


def _naver_lines(http, sandbox, token: str, order_id: str) -> list[dict]:
    ids = _nget(http, sandbox, token, f"{NAVER_ORDERS}/orders/{order_id}/product-order-ids")
    assert ids.status_code == 200, ids.text
    details = _nquery(http, sandbox, token, ids.json()["data"])
    assert details.status_code == 200, details.text
    return details.json()["data"]


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=KST)


# --- invariant checks (research/order-apis.md §5.1) ------------------------------------------------


def _check_coupang_sheet(sheet: dict, *, v5: bool = True) -> None:
    assert isinstance(sheet["shipmentBoxId"], int) and len(str(sheet["shipmentBoxId"])) == 18
    assert isinstance(sheet["orderId"], int) and len(str(sheet["orderId"])) == 14
    assert not any(key.startswith("_") for key in sheet)
    status = sheet["status"]
    if status in ("ACCEPT", "INSTRUCT"):
        assert (
            sheet["invoiceNumber"]
            == sheet["deliveryCompanyName"]
            == sheet["inTrasitDateTime"]
            == sheet["deliveredDate"]
            == ""
        )
    else:
        digits = COUPANG_CARRIER_DIGITS[sheet["deliveryCompanyName"]]
        assert sheet["invoiceNumber"].isdigit() and len(sheet["invoiceNumber"]) == digits
        assert sheet["inTrasitDateTime"]
    assert bool(sheet["deliveredDate"]) == (status == "FINAL_DELIVERY")
    times = [_when(sheet["orderedAt"]), _when(sheet["paidAt"])]
    times += [_when(sheet[k]) for k in ("inTrasitDateTime", "deliveredDate") if sheet[k]]
    assert times == sorted(times) and times[-1] <= _now()
    assert times[0] >= _now() - timedelta(days=10)
    for item in sheet["orderItems"]:
        product = next(p for p in PRODUCTS if p.vendor_item_id == item["vendorItemId"])
        assert (item["productId"], item["sellerProductId"]) == (product.product_id, product.product_id + 1_000_000)
        assert date.fromisoformat(item["estimatedShippingDate"])
        price = item["salesPrice"]["units"] if v5 else item["salesPrice"]
        assert price == product.price


def _check_history(history: dict, sheet: dict) -> None:
    statuses = [d["deliveryStatus"] for d in history["details"]]
    order = ["ACCEPT", "INSTRUCT", "DEPARTURE", "DELIVERING", "FINAL_DELIVERY"]
    assert statuses == sorted(statuses, key=order.index, reverse=True)  # newest first, monotonic lifecycle
    times = [_when(d["updatedAt"]) for d in history["details"]]
    assert times == sorted(times, reverse=True)
    assert statuses[0] == sheet["status"] or sheet["orderItems"][0]["canceled"]


def _check_naver_detail(detail: dict) -> None:
    order, product, delivery = detail["order"], detail["productOrder"], detail.get("delivery")
    assert re.fullmatch(r"\d{16}", order["orderId"]) and re.fullmatch(r"\d{16}", product["productOrderId"])
    assert order["ordererName"] and product["shippingAddress"]["baseAddress"]  # personal data a client must scrub
    status, claim = product["productOrderStatus"], (product["claimType"], product["claimStatus"])
    if status in ("PAYED", "PAYMENT_WAITING"):
        assert delivery is None
    if status == "DELIVERING":
        assert delivery["sendDate"] and delivery["trackingNumber"]
        assert delivery["deliveryStatus"] in ("COLLECT_CARGO", "DELIVERING") and delivery["deliveredDate"] is None
    if status in ("DELIVERED", "PURCHASE_DECIDED", "RETURNED", "EXCHANGED"):
        assert delivery["deliveredDate"] and delivery["deliveryStatus"] == "DELIVERY_COMPLETION"
    assert bool(product["decisionDate"]) == (status == "PURCHASE_DECIDED")
    expected_claims = {
        "CANCELED": ("CANCEL", "CANCEL_DONE"),
        "RETURNED": ("RETURN", "RETURN_DONE"),
        "EXCHANGED": ("EXCHANGE", "EXCHANGE_DONE"),
    }
    if status in expected_claims:
        assert claim == expected_claims[status]
        assert detail["completedClaims"][0]["claimType"] == claim[0]
    if claim[0]:
        assert list(detail["currentClaim"]) == [claim[0].lower()]
    if delivery:
        assert delivery["deliveryCompany"] not in ("LOTTE", "LOGEN")
        assert len(delivery["trackingNumber"]) == NAVER_CARRIER_DIGITS[delivery["deliveryCompany"]]
    times = [_when(order["orderDate"]), _when(order["paymentDate"])]
    times += [_when(delivery[k]) for k in ("sendDate", "pickupDate", "deliveredDate") if delivery and delivery[k]]
    times += [_when(product["decisionDate"])] if product["decisionDate"] else []
    assert times == sorted(times) and times[-1] <= _now()
