"""The sandbox's order and shipping APIs: real signed HTTP on loopback, checked against research/order-apis.md.

Clients, the demo and benchmarks trust these fakes, so every documented shape, limit and error is
asserted here, and every lifecycle scenario's invariants (§5.1) are checked on what is served.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from markets.clients.coupang import coupang_authorization
from markets.clients.naver_auth import naver_client_secret_sign
from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, KST, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox import SandboxControl, SandboxControlError
from markets.sandbox.generator import PRODUCTS, Product
from markets.sandbox.orders import SCENARIOS, InvalidMove
from markets.sandbox.questions import SHIPPING_BY_SCENARIO, SHIPPING_POLICY
from markets.sandbox.store import SandboxStore

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


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


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


@pytest.fixture
def token(http, sandbox, naver_account) -> str:
    timestamp = int(time.time() * 1000)
    form = {
        "client_id": naver_account.client_id,
        "timestamp": str(timestamp),
        "grant_type": "client_credentials",
        "client_secret_sign": naver_client_secret_sign(naver_account.client_id, naver_account.client_secret, timestamp),
        "type": "SELF",
    }
    response = http.post(sandbox.naver_base_url + "/v1/oauth2/token", data=form, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


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


# --- Coupang order sheets -----------------------------------------------------------------------------


def test_coupang_ordersheets__day_paging__next_token_until_empty(http, sandbox, coupang_account) -> None:
    added = {
        line["line_id"] for _ in range(7) for line in sandbox.store.add_order("COUPANG", scenario="in_transit")["lines"]
    }
    items = _ordersheets(http, sandbox, coupang_account, "DELIVERING", per_page=3)
    assert {str(item["shipmentBoxId"]) for item in items} == added and len(items) == 7
    keys = [(_when(i["orderedAt"]), i["shipmentBoxId"]) for i in items]
    assert keys == sorted(keys)  # a stable order, so the token is a cursor
    for item in items:
        _check_coupang_sheet(item)


def test_coupang_ordersheets__new_order_listed_after_ten_minutes(http, sandbox, coupang_account) -> None:
    order = sandbox.store.add_order("COUPANG", scenario="paid")
    listed = {str(i["orderId"]) for i in _ordersheets(http, sandbox, coupang_account, "ACCEPT")}
    assert order["order_id"] in listed
    fresh = sandbox.store.orders.orders[order["order_id"]]
    fresh.paid_at = _now() - timedelta(minutes=2)  # just paid: the single look-up sees it, the list not yet
    assert order["order_id"] not in {str(i["orderId"]) for i in _ordersheets(http, sandbox, coupang_account, "ACCEPT")}
    by_order = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"{order['order_id']}/ordersheets"))
    assert by_order.status_code == 200


def test_coupang_ordersheets__time_frame__every_row_in_one_answer(http, sandbox, coupang_account) -> None:
    for _ in range(4):
        sandbox.store.add_order("COUPANG", scenario="paid")  # ordered within the last day
    response = _cget(
        http,
        sandbox,
        coupang_account,
        _vp(coupang_account, "v5", "ordersheets"),
        [
            ("searchType", "timeFrame"),
            ("createdAtFrom", (_now() - timedelta(hours=23)).strftime("%Y-%m-%dT%H:%M+09:00")),
            ("createdAtTo", _now().strftime("%Y-%m-%dT%H:%M+09:00")),
            ("status", "ACCEPT"),
            ("maxPerPage", "1"),
        ],
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 4 and response.json()["nextToken"] == ""


def test_coupang_ordersheets__ordered_at_bounds_are_inclusive(http, sandbox, coupang_account) -> None:
    order = sandbox.store.add_order("COUPANG", scenario="paid")
    ordered = datetime.fromisoformat(order["ordered_at"]).astimezone(KST)
    path = _vp(coupang_account, "v5", "ordersheets")

    def found(params: list[tuple[str, str]]) -> bool:
        response = _cget(http, sandbox, coupang_account, path, [*params, ("status", "ACCEPT")])
        assert response.status_code == 200, response.text
        return any(str(i["orderId"]) == order["order_id"] for i in response.json()["data"])

    day = ordered.date()
    assert found(_days(day, day))
    assert not found(_days(day - timedelta(days=3), day - timedelta(days=1)))
    assert found(_minutes(ordered, ordered)[:1] + [(k, v + "+09:00") for k, v in _minutes(ordered, ordered)[1:]])
    before = ordered - timedelta(minutes=1)
    assert not found(_minutes(before, before)[:1] + [(k, v + "+09:00") for k, v in _minutes(before, before)[1:]])


@pytest.mark.parametrize(
    ("version", "params", "expected"),
    [
        ("v5", [("status", "ACCEPT")], "createdAtFrom is required"),
        ("v5", [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "ACCEPT,INSTRUCT")], "status"),
        ("v5", [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "accept")], "status"),
        ("v5", _days(date(2025, 1, 1), date(2025, 1, 2)), "status is required"),
        ("v5", [*_days(date(2025, 1, 1), date(2025, 1, 2), v5=False), ("status", "ACCEPT")], "%2B"),
        ("v4", [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "ACCEPT")], "yyyy-MM-dd"),
        ("v5", [*_days(date(2025, 1, 3), date(2025, 1, 2)), ("status", "ACCEPT")], "must not be after"),
        ("v5", [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "ACCEPT"), ("maxPerPage", "51")], "maxPerPage"),
        ("v5", [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "ACCEPT"), ("maxPerPage", "0")], "maxPerPage"),
        ("v5", [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "ACCEPT"), ("maxPerPage", "x")], "maxPerPage"),
        ("v5", [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "ACCEPT"), ("nextToken", "abc")], "nextToken"),
        (
            "v5",
            [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "ACCEPT"), ("searchType", "daily")],
            "searchType",
        ),
    ],
)
def test_coupang_ordersheets__invalid_params__400_with_message(
    http, sandbox, coupang_account, version, params, expected
) -> None:
    response = _cget(http, sandbox, coupang_account, _vp(coupang_account, version, "ordersheets"), params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 400 and body["data"] is None and expected in body["message"]


def test_coupang_ordersheets__unencoded_plus__400(http, sandbox, coupang_account) -> None:
    # A '+' sent raw decodes to a space, as on the real gateway: the client must send %2B.
    query = "createdAtFrom=2025-01-01+09:00&createdAtTo=2025-01-02+09:00&status=ACCEPT"
    response = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", "ordersheets"), query)
    assert response.status_code == 400 and "%2B" in response.json()["message"]


def test_coupang_ordersheets__span_limits__documented_error(http, sandbox, coupang_account) -> None:
    path = _vp(coupang_account, "v5", "ordersheets")
    ok = _cget(http, sandbox, coupang_account, path, [*_days(date(2025, 1, 1), date(2025, 2, 1)), ("status", "ACCEPT")])
    assert ok.status_code == 200  # 31 days
    wide = _cget(
        http, sandbox, coupang_account, path, [*_days(date(2025, 1, 1), date(2025, 2, 2)), ("status", "ACCEPT")]
    )
    assert (wide.status_code, wide.json()) == (400, RANGE_TOO_WIDE)
    start = datetime(2025, 1, 1, 0, 0, tzinfo=KST)
    frame = [("searchType", "timeFrame"), ("createdAtFrom", "2025-01-01T00:00+09:00"), ("status", "ACCEPT")]
    day = _cget(
        http,
        sandbox,
        coupang_account,
        path,
        [*frame, ("createdAtTo", (start + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M+09:00"))],
    )
    assert day.status_code == 200
    longer = _cget(http, sandbox, coupang_account, path, [*frame, ("createdAtTo", "2025-01-02T00:01+09:00")])
    assert (longer.status_code, longer.json()) == (400, RANGE_TOO_WIDE)


def test_coupang_v4_and_v5__their_own_shapes(http, sandbox, coupang_account) -> None:
    order = sandbox.store.add_order("COUPANG", scenario="delivered", decided=True)
    box = order["lines"][0]["line_id"]
    v5 = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}")).json()["data"]
    v4 = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v4", f"ordersheets/{box}")).json()["data"]
    _check_coupang_sheet(v5)
    _check_coupang_sheet(v4, v5=False)
    assert v5["orderItems"][0]["salesPrice"] == {
        "currencyCode": "KRW",
        "units": v4["orderItems"][0]["salesPrice"],
        "nanos": 0,
    }
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+09:00", v5["orderedAt"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", v4["orderedAt"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", v4["inTrasitDateTime"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", v4["deliveredDate"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", v4["orderItems"][0]["confirmDate"])
    assert {"shipmentType", "isCod", "extraProperties"} <= set(v5) and not {
        "shipmentType",
        "isCod",
        "extraProperties",
    } & set(v4)
    assert "instantCouponDiscount" in v5["orderItems"][0] and "instantCouponDiscount" not in v4["orderItems"][0]
    assert v5["extraProperties"]["sameDayShipping"] in ("true", "false")
    assert isinstance(v4["shippingPrice"], int) and isinstance(v5["shippingPrice"], dict)
    # v4 lists take plain dates
    listed = _cget(
        http,
        sandbox,
        coupang_account,
        _vp(coupang_account, "v4", "ordersheets"),
        [*_days(_today() - timedelta(days=10), _today(), v5=False), ("status", "FINAL_DELIVERY")],
    )
    assert listed.status_code == 200 and box in {str(i["shipmentBoxId"]) for i in listed.json()["data"]}


def test_coupang_single_lookups__box_vs_order_routes(http, sandbox, coupang_account) -> None:
    order = sandbox.store.add_order("COUPANG", scenario="split")
    boxes = [line["line_id"] for line in order["lines"]]
    by_order = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"{order['order_id']}/ordersheets"))
    assert by_order.status_code == 200 and by_order.json()["code"] == "200"
    data = by_order.json()["data"]
    assert isinstance(data, list) and sorted(str(s["shipmentBoxId"]) for s in data) == sorted(boxes)
    assert {s["status"] for s in data} == {"FINAL_DELIVERY", "DELIVERING"}
    assert len({s["invoiceNumber"] for s in data}) == 2 and all(s["splitShipping"] for s in data)
    single = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{boxes[0]}")).json()
    assert (
        single["code"] == "200"
        and isinstance(single["data"], dict)
        and str(single["data"]["shipmentBoxId"]) == boxes[0]
    )
    # an orderId in the shipmentBoxId position (and the reverse) finds nothing
    wrong = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{order['order_id']}"))
    assert (wrong.status_code, wrong.json()) == (400, NOT_FOUND)
    reverse = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"{boxes[0]}/ordersheets"))
    assert (reverse.status_code, reverse.json()) == (400, NOT_FOUND)


def test_coupang_unknown_ids__400_or_empty_200_switch(http, sandbox, coupang_account) -> None:
    other = sandbox.store.register_coupang_account(vendor_id="A55555555")
    foreign = sandbox.store.add_order(owner=other.vendor_id, scenario="paid")
    paths = {
        "box": _vp(coupang_account, "v5", f"ordersheets/{foreign['lines'][0]['line_id']}"),
        "order": _vp(coupang_account, "v5", f"{foreign['order_id']}/ordersheets"),
        "history": _vp(coupang_account, "v5", "ordersheets/123456789012345678/history"),
    }
    for path in paths.values():
        response = _cget(http, sandbox, coupang_account, path)
        assert (response.status_code, response.json()) == (400, NOT_FOUND)
    sandbox.store.set_faults(order_not_found_empty_200=True)
    assert _cget(http, sandbox, coupang_account, paths["box"]).json() == {"code": "200", "message": "OK", "data": None}
    assert _cget(http, sandbox, coupang_account, paths["order"]).json()["data"] == []
    assert _cget(http, sandbox, coupang_account, paths["history"]).json()["details"] == []


def test_coupang_history__bare_newest_first(http, sandbox, coupang_account) -> None:
    order = sandbox.store.add_order("COUPANG", scenario="delivered")
    box = order["lines"][0]["line_id"]
    history = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}/history")).json()
    assert set(history) == {"shipmentBoxId", "details"} and str(history["shipmentBoxId"]) == box
    assert [d["deliveryStatus"] for d in history["details"]] == [
        "FINAL_DELIVERY",
        "DELIVERING",
        "DEPARTURE",
        "INSTRUCT",
        "ACCEPT",
    ]
    assert history["details"][0]["deliveryStatusDesc"] == "배송완료"
    v4 = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v4", f"ordersheets/{box}/history")).json()
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", d["updatedAt"]) for d in v4["details"])


def test_coupang_direct_delivery__none_tracking(http, sandbox, coupang_account) -> None:
    order = sandbox.store.add_order("COUPANG", scenario="in_transit", carrier="DIRECT")
    box = order["lines"][0]["line_id"]
    [sheet] = [
        i for i in _ordersheets(http, sandbox, coupang_account, "NONE_TRACKING") if str(i["shipmentBoxId"]) == box
    ]
    assert sheet["deliveryCompanyName"] == "업체직송" and sheet["invoiceNumber"] and sheet["inTrasitDateTime"]
    history = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}/history")).json()
    assert [d["deliveryStatus"] for d in history["details"]] == ["NONE_TRACKING", "INSTRUCT", "ACCEPT"]
    sandbox.store.advance_order(box, "deliver")
    assert (
        _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}")).json()["data"]["status"]
        == "FINAL_DELIVERY"
    )
    with pytest.raises(ValueError):
        sandbox.store.add_order(owner=coupang_account.vendor_id, scenario="shipped", carrier="LOTTE")


# --- Coupang cancels and returns ----------------------------------------------------------------------


def test_coupang_cancel_and_return__lookups_and_return_requests(http, sandbox, coupang_account) -> None:
    store = sandbox.store
    paid = store.advance_order(store.add_order("COUPANG", scenario="paid")["order_id"], "cancel")
    preparing = store.advance_order(store.add_order("COUPANG", scenario="preparing")["order_id"], "cancel")
    delivered = store.add_order("COUPANG", scenario="delivered", decided=False)
    store.advance_order(delivered["order_id"], "return")
    box = delivered["lines"][0]["line_id"]

    for order in (paid, preparing):
        for path in (f"ordersheets/{order['lines'][0]['line_id']}", f"{order['order_id']}/ordersheets"):
            response = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", path))
            assert (response.status_code, response.json()) == (400, CANCELLED_OR_RETURNED)
    # a return in progress: still served and listed as FINAL_DELIVERY, and in returnRequests
    assert _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}")).status_code == 200
    assert box in {str(i["shipmentBoxId"]) for i in _ordersheets(http, sandbox, coupang_account, "FINAL_DELIVERY")}

    cancels = _returns(http, sandbox, coupang_account, ("cancelType", "CANCEL")).json()["data"]
    assert [str(c["orderId"]) for c in cancels] == [paid["order_id"]]
    assert cancels[0]["receiptType"] == "CANCEL" and cancels[0]["receiptStatus"] == "RETURNS_COMPLETED"
    stopped = _returns(http, sandbox, coupang_account, ("status", "CC")).json()["data"]
    assert [(str(r["orderId"]), r["releaseStopStatus"]) for r in stopped] == [(preparing["order_id"], "처리(출고중지)")]
    [unchecked] = _returns(http, sandbox, coupang_account, ("status", "UC")).json()["data"]
    assert unchecked["receiptType"] == "RETURN" and unchecked["receiptStatus"] == "RETURNS_UNCHECKED"
    items = unchecked["returnItems"]
    assert {i["shipmentBoxId"] for i in items} == {int(box)}
    assert (
        sum(i["purchaseCount"] for i in items)
        == sum(i["cancelCount"] for i in items)
        == unchecked["cancelCountSum"]
        == delivered["lines"][0]["quantity"]
    )
    assert unchecked["returnDeliveryDtos"][0]["deliveryInvoiceNo"].isdigit()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", unchecked["createdAt"])

    store.advance_order(box, "collect")
    [collected] = _returns(http, sandbox, coupang_account, ("status", "UC")).json()["data"]
    assert collected["receiptStatus"] == "VENDOR_WAREHOUSE_CONFIRM"  # 입고완료 is listed under UC
    store.advance_order(box, "return_done")
    assert _returns(http, sandbox, coupang_account, ("status", "UC")).json()["data"] == []
    by_order = _returns(http, sandbox, coupang_account, ("orderId", delivered["order_id"])).json()["data"]
    assert [r["receiptStatus"] for r in by_order] == ["RETURNS_COMPLETED"]
    response = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}"))
    assert (response.status_code, response.json()) == (400, CANCELLED_OR_RETURNED)
    assert box not in {str(i["shipmentBoxId"]) for i in _ordersheets(http, sandbox, coupang_account, "FINAL_DELIVERY")}
    history = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}/history"))
    assert history.status_code == 200  # the history stays readable
    single = _cget(
        http, sandbox, coupang_account, _vp(coupang_account, "v6", f"returnRequests/{collected['receiptId']}")
    ).json()
    assert single["code"] == "200" and [r["receiptId"] for r in single["data"]] == [collected["receiptId"]]
    assert _cget(http, sandbox, coupang_account, _vp(coupang_account, "v4", "returnRequests/1")).status_code == 400


def test_pending_cancel__held_on_coupang_requested_on_naver(
    http, sandbox, coupang_account, naver_account, token
) -> None:
    box = sandbox.store.add_order("COUPANG", scenario="preparing", quantity=2)["lines"][0]["line_id"]
    sandbox.store.advance_order(box, "request_cancel")
    sheet = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}")).json()["data"]
    assert [(i["holdCountForCancel"], i["cancelCount"], i["canceled"]) for i in sheet["orderItems"]][0] == (2, 0, False)
    [pending] = _returns(http, sandbox, coupang_account, ("status", "RU")).json()["data"]
    assert pending["receiptStatus"] == "RELEASE_STOP_UNCHECKED" and pending["releaseStopStatus"] == "미처리"
    sandbox.store.advance_order(box, "cancel")
    assert (
        _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}")).json()
        == CANCELLED_OR_RETURNED
    )
    line = sandbox.store.add_order("SMARTSTORE", scenario="paid")["lines"][0]["line_id"]
    sandbox.store.advance_order(line, "request_cancel")
    [detail] = _nquery(http, sandbox, token, [line]).json()["data"]
    product = detail["productOrder"]
    assert (product["productOrderStatus"], product["claimType"], product["claimStatus"]) == (
        "PAYED",
        "CANCEL",
        "CANCEL_REQUEST",
    )
    assert "completedClaims" not in detail and detail["currentClaim"]["cancel"]["claimStatus"] == "CANCEL_REQUEST"


def test_coupang_return_requests__paging_and_v4(http, sandbox, coupang_account) -> None:
    for _ in range(5):
        order = sandbox.store.add_order("COUPANG", scenario="delivered", decided=False)
        sandbox.store.advance_order(order["order_id"], "return")
    seen, token = [], ""
    for _ in range(10):
        response = _returns(
            http,
            sandbox,
            coupang_account,
            ("status", "UC"),
            ("maxPerPage", "2"),
            *([("nextToken", token)] if token else []),
        )
        body = response.json()
        assert response.status_code == 200 and len(body["data"]) <= 2
        seen += [r["receiptId"] for r in body["data"]]
        token = body["nextToken"]
        if not token:
            break
    assert len(seen) == len(set(seen)) == 5
    v4 = _cget(
        http,
        sandbox,
        coupang_account,
        _vp(coupang_account, "v4", "returnRequests"),
        [*_days(_today() - timedelta(days=2), _today(), v5=False), ("status", "UC")],
    )
    assert v4.status_code == 200 and len(v4.json()["data"]) == 5


@pytest.mark.parametrize(
    ("version", "params", "expected"),
    [
        ("v6", [*_days(date(2025, 1, 1), date(2025, 1, 2), v5=False), ("status", "UC")], "searchType=timeFrame"),
        (
            "v6",
            [*_minutes(datetime(2025, 1, 1), datetime(2025, 1, 2)), ("status", "UC"), ("cancelType", "CANCEL")],
            "cannot be combined",
        ),
        ("v6", _minutes(datetime(2025, 1, 1), datetime(2025, 1, 2)), "status is required"),
        ("v6", [*_minutes(datetime(2025, 1, 1), datetime(2025, 1, 2)), ("status", "XX")], "status must be"),
        ("v6", [*_minutes(datetime(2025, 1, 1), datetime(2025, 1, 2)), ("cancelType", "SWAP")], "cancelType"),
        ("v6", [*_minutes(datetime(2025, 1, 1), datetime(2025, 2, 2)), ("status", "UC")], "less than31"),
        ("v6", [("searchType", "timeFrame"), ("status", "UC")], "createdAtFrom"),
    ],
)
def test_coupang_return_requests__invalid__400(http, sandbox, coupang_account, version, params, expected) -> None:
    response = _cget(http, sandbox, coupang_account, _vp(coupang_account, version, "returnRequests"), params)
    assert response.status_code == 400 and expected in response.json()["message"]


# --- lifecycle scenarios, as served ---------------------------------------------------------------------


COUPANG_STATUSES = {
    "paid": {"ACCEPT"},
    "preparing": {"INSTRUCT"},
    "shipped": {"DEPARTURE"},
    "in_transit": {"DELIVERING"},
    "delivered": {"FINAL_DELIVERY"},
    "misdelivered": {"FINAL_DELIVERY"},
    "late_dispatch": {"ACCEPT", "INSTRUCT"},
    "stalled": {"DEPARTURE", "DELIVERING"},
    "returned": {"FINAL_DELIVERY"},
    "split": {"FINAL_DELIVERY", "DELIVERING"},
}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "exchanged"])
def test_coupang_scenarios__invariants_as_served(http, sandbox, coupang_account, scenario) -> None:
    for _ in range(4):
        order = sandbox.store.add_order("COUPANG", scenario=scenario)
        response = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"{order['order_id']}/ordersheets"))
        receipts = _returns(http, sandbox, coupang_account, ("orderId", order["order_id"])).json()["data"]
        receipts += _returns(
            http, sandbox, coupang_account, ("orderId", order["order_id"]), ("cancelType", "CANCEL")
        ).json()["data"]
        if scenario == "cancelled" or (scenario == "returned" and receipts[0]["receiptStatus"] == "RETURNS_COMPLETED"):
            assert (response.status_code, response.json()) == (400, CANCELLED_OR_RETURNED)
            assert [r["receiptStatus"] for r in receipts] == ["RETURNS_COMPLETED"]
            continue
        assert response.status_code == 200, response.text
        sheets = response.json()["data"]
        statuses = {s["status"] for s in sheets}
        assert statuses <= COUPANG_STATUSES[scenario] and (scenario != "split" or statuses == COUPANG_STATUSES["split"])
        assert bool(receipts) == (scenario == "returned")
        for sheet in sheets:
            _check_coupang_sheet(sheet)
            history = _cget(
                http,
                sandbox,
                coupang_account,
                _vp(coupang_account, "v5", f"ordersheets/{sheet['shipmentBoxId']}/history"),
            )
            _check_history(history.json(), sheet)
            promised = date.fromisoformat(sheet["orderItems"][0]["estimatedShippingDate"])
            if scenario == "late_dispatch":
                assert promised < _today()
            if scenario in ("paid", "preparing"):
                assert promised >= _today()
            if scenario == "stalled":
                assert _when(history.json()["details"][0]["updatedAt"]) <= _now() - timedelta(days=6)
            if scenario == "shipped":
                assert _now() - _when(sheet["inTrasitDateTime"]) < timedelta(hours=6)
        if scenario == "split":
            assert len(sheets) == 2 and len({s["invoiceNumber"] for s in sheets}) == 2


NAVER_STATUSES = {
    "paid": {"PAYED"},
    "preparing": {"PAYED"},
    "late_dispatch": {"PAYED"},
    "shipped": {"DELIVERING"},
    "in_transit": {"DELIVERING"},
    "stalled": {"DELIVERING"},
    "delivered": {"DELIVERED"},
    "misdelivered": {"DELIVERED"},
    "cancelled": {"CANCELED"},
    "returned": {"DELIVERED", "RETURNED"},
    "exchanged": {"DELIVERED", "EXCHANGED"},
    "split": {"DELIVERED", "DELIVERING"},
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_naver_scenarios__invariants_as_served(http, sandbox, naver_account, token, scenario) -> None:
    for _ in range(4):
        order = sandbox.store.add_order("SMARTSTORE", scenario=scenario, decided=False)
        details = _naver_lines(http, sandbox, token, order["order_id"])
        assert {d["productOrder"]["productOrderId"] for d in details} == {line["line_id"] for line in order["lines"]}
        statuses = {d["productOrder"]["productOrderStatus"] for d in details}
        assert statuses <= NAVER_STATUSES[scenario] and statuses
        for detail in details:
            _check_naver_detail(detail)
            product, delivery = detail["productOrder"], detail.get("delivery")
            due = _when(product["shippingDueDate"]).date()
            if scenario == "late_dispatch":
                assert due < _today()
            if scenario in ("paid", "preparing"):
                assert due >= _today()
                assert product["placeOrderStatus"] == ("OK" if scenario == "preparing" else "NOT_YET")
            if scenario == "shipped":
                assert delivery["deliveryStatus"] == "COLLECT_CARGO"
            if scenario in ("in_transit", "stalled") and delivery["pickupDate"]:
                assert delivery["deliveryStatus"] == "DELIVERING"
            if scenario == "stalled":
                assert max(_when(delivery[k]) for k in ("sendDate", "pickupDate") if delivery[k]) <= _now() - timedelta(
                    days=6
                )
            if scenario == "returned":
                assert product["claimType"] == "RETURN"
            if scenario == "exchanged":
                assert (
                    product["claimType"] == "EXCHANGE"
                    and detail["currentClaim"]["exchange"]["reDeliveryTrackingNumber"]
                )
        if scenario == "split":
            assert len(details) == 2 and len({d["delivery"]["trackingNumber"] for d in details}) == 2


def test_generated_orders__realistic_mix_within_ten_days(sandbox, coupang_account, naver_account) -> None:
    orders = sandbox.store.add_orders(150, market="COUPANG") + sandbox.store.add_orders(150, market="SMARTSTORE")
    scenarios = {o["_scenario"] for o in orders}
    assert {"delivered", "in_transit", "preparing", "cancelled"} <= scenarios
    assert "exchanged" not in {o["_scenario"] for o in orders if o["market"] == "COUPANG"}
    assert all(datetime.fromisoformat(o["ordered_at"]) >= _now() - timedelta(days=10) for o in orders)
    stats = sandbox.store.stats()["orders"]
    assert (stats["COUPANG"], stats["SMARTSTORE"]) == (150, 150)
    sandbox.store.reset()
    assert sandbox.store.stats()["orders"]["COUPANG"] == 0 and sandbox.store.list_orders() == []


# --- Naver ---------------------------------------------------------------------------------------------


def test_naver_changes__more_cursor_sorted_and_complete(http, sandbox, naver_account, token) -> None:
    sandbox.store.add_orders(40, market="SMARTSTORE")
    start, end = _now() - timedelta(days=11), _now()
    expected = {(r.line_id, r.change_type, r.seq) for r in sandbox.store.orders.changes}
    paged = _changes(http, sandbox, token, start, end, limit=7)
    whole = _changes(http, sandbox, token, start, end)
    assert paged == whole and len(paged) == len(expected)
    by_window: list[tuple[datetime, str]] = [(_when(r["lastChangedDate"]), r["productOrderId"]) for r in paged]
    assert by_window == sorted(by_window)
    assert {r["lastChangedType"] for r in paged} <= NAVER_CHANGE_TYPES
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+09:00", r["lastChangedDate"]) for r in paged)
    dispatched = _changes(http, sandbox, token, start, end, change_type="DISPATCHED")
    assert dispatched and {r["lastChangedType"] for r in dispatched} == {"DISPATCHED"}
    assert {r["productOrderStatus"] for r in dispatched} == {"DELIVERING"}


def test_naver_changes__no_row_for_delivery(http, sandbox, naver_account, token) -> None:
    order = sandbox.store.add_order("SMARTSTORE", scenario="paid")
    line = order["lines"][0]["line_id"]
    window = (_now() - timedelta(days=1), _now() + timedelta(seconds=1))

    def types() -> list[str]:
        return [r["lastChangedType"] for r in _changes(http, sandbox, token, *window) if r["productOrderId"] == line]

    assert types()[-1] == "PAYED"
    sandbox.store.advance_order(line, "ship")
    assert types()[-1] == "DISPATCHED"
    count = len(types())
    sandbox.store.advance_order(line, "deliver")
    [detail] = _nquery(http, sandbox, token, [line]).json()["data"]
    assert detail["productOrder"]["productOrderStatus"] == "DELIVERED" and detail["delivery"]["deliveredDate"]
    assert len(types()) == count  # delivery completion is not a change type
    sandbox.store.advance_order(line, "decide")
    assert types()[-1] == "PURCHASE_DECIDED"
    with pytest.raises(InvalidMove):
        sandbox.store.advance_order(line, "return")  # no return after the purchase decision


def test_naver_changes__default_to_and_24h_limit(http, sandbox, naver_account, token) -> None:
    path = NAVER_ORDERS + "/product-orders/last-changed-statuses"
    old = sandbox.store.add_order("SMARTSTORE", scenario="paid", before=_now() - timedelta(days=3))
    recent = sandbox.store.add_order("SMARTSTORE", scenario="paid")
    from_3_days = _nget(http, sandbox, token, path, [("lastChangedFrom", _nt(_now() - timedelta(days=3, hours=22)))])
    ids = {r["orderId"] for r in from_3_days.json()["data"]["lastChangeStatuses"]}
    assert old["order_id"] in ids and recent["order_id"] not in ids  # lastChangedTo defaults to from + 24 h
    too_wide = _nget(
        http,
        sandbox,
        token,
        path,
        [("lastChangedFrom", _nt(_now() - timedelta(hours=25))), ("lastChangedTo", _nt(_now()))],
    )
    assert too_wide.status_code == 400
    assert (too_wide.json()["code"], too_wide.json()["message"]) == (
        "104139",
        "조회 가능한 날짜 범위를 초과하였습니다.",
    )
    assert too_wide.json()["timestamp"] and too_wide.json()["traceId"]
    for params in (
        [],
        [("lastChangedFrom", "2025-01-01")],
        [("lastChangedFrom", _nt(_now()).replace("+", " "))],
        [("lastChangedFrom", _nt(_now())), ("lastChangedType", "DELIVERED")],
        [("lastChangedFrom", _nt(_now())), ("limitCount", "0")],
        [("lastChangedFrom", _nt(_now())), ("moreSequence", "x")],
        [("lastChangedFrom", _nt(_now())), ("lastChangedTo", _nt(_now() - timedelta(hours=1)))],
    ):
        response = _nget(http, sandbox, token, path, params)
        assert response.status_code == 400 and response.json()["code"] == "4000", (params, response.text)
    capped = _nget(
        http, sandbox, token, path, [("lastChangedFrom", _nt(_now() - timedelta(hours=5))), ("limitCount", "1000")]
    )
    assert capped.status_code == 200  # > 300 means 300


def test_naver_query__limits_unknown_and_foreign_ids(http, sandbox, naver_account, token) -> None:
    mine = sandbox.store.add_order("SMARTSTORE", scenario="in_transit")["lines"][0]["line_id"]
    other = sandbox.store.register_naver_account(client_id="naver-app-2")
    foreign = sandbox.store.add_order(owner=other.client_id, scenario="in_transit")["lines"][0]["line_id"]
    response = _nquery(http, sandbox, token, ["2099010100000000", foreign, mine])
    assert response.status_code == 200 and response.json()["traceId"]
    assert [d["productOrder"]["productOrderId"] for d in response.json()["data"]] == [mine]
    detail = response.json()["data"][0]
    assert {"order", "productOrder", "delivery"} <= set(detail) and not any(k.startswith("_") for k in detail)
    assert detail["productOrder"]["remainQuantity"] == detail["productOrder"]["quantity"]
    without = _nquery(http, sandbox, token, [mine], quantityClaimCompatibility=False).json()["data"][0]
    assert "remainQuantity" not in without["productOrder"]
    too_many = _nquery(http, sandbox, token, [f"20990101{n:08d}" for n in range(301)])
    assert (
        too_many.status_code == 400
        and too_many.json()["code"] == "4000"
        and "productOrderIds" in too_many.json()["message"]
    )
    assert _nquery(http, sandbox, token, [f"20990101{n:08d}" for n in range(300)]).json()["data"] == []
    assert _nquery(http, sandbox, token, []).json()["code"] == "4000"
    assert _nquery(http, sandbox, token, [int(mine)]).json()["code"] == "4000"  # ids are strings
    assert _nquery(http, sandbox, token, [mine, mine]).json()["code"] == "104131"


def test_naver_orders__bundles_share_a_parcel_and_bank_transfers_wait(http, sandbox, naver_account, token) -> None:
    orders = sandbox.store.add_orders(120, market="SMARTSTORE", mix={"in_transit": 1})
    bundles = [o for o in orders if len(o["lines"]) == 2]
    assert bundles  # about one order in ten buys two products shipped together
    for order in bundles:
        details = _naver_lines(http, sandbox, token, order["order_id"])
        assert len({(d["delivery"]["deliveryCompany"], d["delivery"]["trackingNumber"]) for d in details}) == 1
        assert len({d["productOrder"]["packageNumber"] for d in details}) == 1
    rows = _changes(http, sandbox, token, _now() - timedelta(days=11), _now())
    waiting = {r["productOrderId"] for r in rows if r["lastChangedType"] == "PAY_WAITING"}
    assert waiting  # 무통장입금: ordered, then paid hours later
    for row in rows:
        if row["productOrderId"] in waiting and row["lastChangedType"] == "PAY_WAITING":
            assert row["productOrderStatus"] == "PAYMENT_WAITING" and row["paymentDate"] is None
    [detail] = _nquery(http, sandbox, token, [sorted(waiting)[0]]).json()["data"]
    assert detail["order"]["paymentMeans"] == "무통장입금" and detail["order"]["paymentDueDate"]


def test_naver_product_order_ids__by_order_and_unknown(http, sandbox, naver_account, token) -> None:
    order = sandbox.store.add_order("SMARTSTORE", scenario="split")
    response = _nget(http, sandbox, token, f"{NAVER_ORDERS}/orders/{order['order_id']}/product-order-ids")
    assert response.status_code == 200 and response.json()["data"] == [line["line_id"] for line in order["lines"]]
    missing = _nget(http, sandbox, token, f"{NAVER_ORDERS}/orders/2099010100000000/product-order-ids")
    assert missing.status_code == 400
    assert (missing.json()["code"], missing.json()["message"]) == ("100003", "주문을 찾을 수 없음")


# --- moving orders along ----------------------------------------------------------------------------


def test_advance__coupang_ship_deliver_and_invalid_moves(http, sandbox, coupang_account) -> None:
    order = sandbox.store.add_order("COUPANG", scenario="paid")
    box = order["lines"][0]["line_id"]
    sandbox.store.advance_order(box, "ship")
    sheet = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}")).json()["data"]
    assert (
        sheet["status"] == "DEPARTURE"
        and sheet["invoiceNumber"]
        and _now() - _when(sheet["inTrasitDateTime"]) < timedelta(seconds=30)
    )
    _check_coupang_sheet(sheet)
    with pytest.raises(InvalidMove):
        sandbox.store.advance_order(box, "cancel")  # shipped: a return, not a cancel
    with pytest.raises(InvalidMove):
        sandbox.store.advance_order(box, "ship")  # already shipped
    view = sandbox.store.advance_order(order["order_id"], "deliver")
    assert view["lines"][0]["_scenario"] == "delivered" and view["_scenario"] == "paid"  # the order keeps its origin
    assert (
        _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}")).json()["data"]["status"]
        == "FINAL_DELIVERY"
    )
    with pytest.raises(InvalidMove):
        sandbox.store.advance_order(box, "exchange")  # not served on Coupang
    with pytest.raises(ValueError):
        sandbox.store.advance_order(box, "teleport")
    with pytest.raises(KeyError):
        sandbox.store.advance_order("1", "ship")


def test_advance__stall_and_misdeliver(http, sandbox, naver_account, coupang_account, token) -> None:
    moving = sandbox.store.add_order("COUPANG", scenario="in_transit")
    box = moving["lines"][0]["line_id"]
    assert sandbox.store.advance_order(box, "stall")["lines"][0]["_scenario"] == "stalled"
    history = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"ordersheets/{box}/history")).json()
    assert _when(history["details"][0]["updatedAt"]) <= _now() - timedelta(days=6)
    _check_history(history, {"status": "DELIVERING", "orderItems": [{"canceled": False}]})
    naver = sandbox.store.add_order("SMARTSTORE", scenario="shipped")
    line = naver["lines"][0]["line_id"]
    sandbox.store.advance_order(line, "misdeliver", wrong_invoice=True)
    [detail] = _nquery(http, sandbox, token, [line]).json()["data"]
    assert detail["productOrder"]["productOrderStatus"] == "DELIVERED"
    assert detail["delivery"]["isWrongTrackingNumber"] is True and detail["delivery"]["wrongTrackingNumberType"]
    _check_naver_detail(detail)


def test_advance__naver_exchange_and_return_log_claim_rows(http, sandbox, naver_account, token) -> None:
    exchanged = sandbox.store.add_order("SMARTSTORE", scenario="delivered", decided=False)["lines"][0]["line_id"]
    returned = sandbox.store.add_order("SMARTSTORE", scenario="delivered", decided=False)["lines"][0]["line_id"]
    sandbox.store.advance_order(exchanged, "exchange")
    sandbox.store.advance_order(returned, "return_done")
    rows = _changes(http, sandbox, token, _now() - timedelta(days=5), _now() + timedelta(seconds=1))
    tail = {
        line: [r["lastChangedType"] for r in rows if r["productOrderId"] == line][-4:] for line in (exchanged, returned)
    }
    assert tail[exchanged] == ["CLAIM_REQUESTED", "COLLECT_DONE", "CLAIM_REDELIVERING", "CLAIM_COMPLETED"]
    assert tail[returned][-3:] == ["CLAIM_REQUESTED", "COLLECT_DONE", "CLAIM_COMPLETED"]
    details = {
        d["productOrder"]["productOrderId"]: d
        for d in _nquery(http, sandbox, token, [exchanged, returned]).json()["data"]
    }
    assert details[exchanged]["productOrder"]["claimStatus"] == "EXCHANGE_DONE"
    assert details[returned]["productOrder"]["remainQuantity"] == 0
    for detail in details.values():
        _check_naver_detail(detail)


# --- auth, rate limits, faults --------------------------------------------------------------------------


def test_order_routes__auth_refused(http, sandbox, coupang_account, naver_account) -> None:
    path = _vp(coupang_account, "v5", "ordersheets")
    assert http.get(sandbox.url + path, timeout=5).status_code == 401
    wrong = coupang_authorization(coupang_account.access_key, "f" * 40, "GET", path, "")
    assert (
        http.get(sandbox.url + path, headers={"Authorization": wrong}, timeout=5).json()["message"]
        == "Invalid signature."
    )
    sandbox.store.register_coupang_account(vendor_id="A99999999")
    other = f"{API}/v5/vendors/A99999999/ordersheets"
    assert _cget(http, sandbox, coupang_account, other, [("status", "ACCEPT")]).status_code == 403
    for method, naver_path in (
        ("GET", "/product-orders/last-changed-statuses"),
        ("POST", "/product-orders/query"),
        ("GET", "/orders/1/product-order-ids"),
    ):
        response = http.request(
            method,
            sandbox.naver_base_url + NAVER_ORDERS + naver_path,
            timeout=5,
            headers={"Authorization": "Bearer nope"},
        )
        assert response.status_code == 401 and response.json()["code"] == "GW.AUTHN"


def test_order_routes__rate_limits_like_the_inquiry_routes(
    http, sandbox, coupang_account, naver_account, token
) -> None:
    sandbox.store.set_faults(coupang_rps=1)  # burst 1: one call per second per vendor, whatever the API
    inquiries = _cget(
        http,
        sandbox,
        coupang_account,
        _vp(coupang_account, "v5", "onlineInquiries"),
        [
            ("vendorId", coupang_account.vendor_id),
            ("answeredType", "ALL"),
            ("inquiryStartAt", "2025-01-01"),
            ("inquiryEndAt", "2025-01-02"),
            ("pageNum", "1"),
            ("pageSize", "10"),
        ],
    )
    orders = _cget(
        http,
        sandbox,
        coupang_account,
        _vp(coupang_account, "v5", "ordersheets"),
        [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "ACCEPT")],
    )
    assert (inquiries.status_code, orders.status_code) == (200, 429)
    sandbox.store.set_faults(naver_rps=1, naver_burst=1)  # per application *and* API
    path = NAVER_ORDERS + "/product-orders/last-changed-statuses"
    params = [("lastChangedFrom", _nt(_now() - timedelta(hours=1)))]
    first, second = (_nget(http, sandbox, token, path, params) for _ in range(2))
    assert (first.status_code, second.status_code) == (200, 429) and second.json()["code"] == "GW.RATE_LIMIT"
    assert first.headers["GNCP-GW-RateLimit-Replenish-Rate"] == "1"
    assert _nquery(http, sandbox, token, ["2099010100000000"]).status_code == 200  # another API, another bucket


def test_faults__down_and_scope(http, sandbox, coupang_account, naver_account, token) -> None:
    path = _vp(coupang_account, "v5", "ordersheets")
    params = [*_days(date(2025, 1, 1), date(2025, 1, 2)), ("status", "ACCEPT")]
    sandbox.store.set_faults(down=True, scope="answers")
    assert _cget(http, sandbox, coupang_account, path, params).status_code == 200  # order reads are not answers
    sandbox.store.set_faults(scope="all")
    assert _cget(http, sandbox, coupang_account, path, params).status_code == 503
    assert _nquery(http, sandbox, token, ["2099010100000000"]).status_code == 503


def _intact_sheet(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("shipmentBoxId"), int)
        and isinstance(value.get("orderId"), int)
        and isinstance(value.get("orderItems"), list)
        and isinstance(value.get("orderedAt"), str)
        and re.match(r"\d{4}-(0\d|1[0-2])-", value["orderedAt"]) is not None
    )


def test_faults__malformed_orders_and_pages(http, sandbox, coupang_account, naver_account, token) -> None:
    for _ in range(12):
        sandbox.store.add_order("COUPANG", scenario="preparing")
    lines = [sandbox.store.add_order("SMARTSTORE", scenario="preparing")["lines"][0]["line_id"] for _ in range(5)]
    path = _vp(coupang_account, "v5", "ordersheets")
    params = [*_days(_today() - timedelta(days=5), _today()), ("status", "INSTRUCT")]
    sandbox.store.set_faults(malformed_orders=1.0)
    broken = _cget(http, sandbox, coupang_account, path, params).json()["data"]
    assert len(broken) == 12 and not any(_intact_sheet(item) for item in broken)
    naver = _nquery(http, sandbox, token, lines).json()["data"]
    assert len(naver) == 5 and not any(
        isinstance(d, dict)
        and isinstance(d.get("productOrder"), dict)
        and d["productOrder"].get("productOrderId") in lines
        for d in naver
    )
    sandbox.store.set_faults(malformed_orders=0.5)
    mixed = _cget(http, sandbox, coupang_account, path, params).json()["data"]
    assert 0 < sum(map(_intact_sheet, mixed)) < 12
    sandbox.store.set_faults(malformed_orders=0.0, malformed_order_pages=1)
    page = _cget(http, sandbox, coupang_account, path, params)
    assert page.status_code == 200
    with pytest.raises(ValueError):
        json.loads(page.text)
    assert all(map(_intact_sheet, _cget(http, sandbox, coupang_account, path, params).json()["data"]))
    with pytest.raises(ValueError):
        sandbox.store.set_faults(malformed_orders=1.5)


# --- the control API -------------------------------------------------------------------------------------


def test_control_api__orders_round_trip(http, sandbox, coupang_account, naver_account) -> None:
    control = SandboxControl(sandbox.url)
    paid = control.add_order("COUPANG", scenario="paid", product=PRODUCTS[2].vendor_item_id, quantity=2)
    assert paid["lines"][0]["product_ids"][0] == PRODUCTS[2].product_id  # (a second product may share the box)
    assert paid["lines"][0]["quantity"] == 2 * len(paid["lines"][0]["product_ids"])
    assert control.order(paid["lines"][0]["line_id"])["order_id"] == paid["order_id"]
    shipped = control.advance_order(paid["order_id"], "ship")
    assert shipped["lines"][0]["stage"] == "SHIPPED" and shipped["lines"][0]["invoice"]
    earlier = control.add_order("SMARTSTORE", scenario="delivered", before=_now() - timedelta(days=2))
    assert datetime.fromisoformat(earlier["lines"][0]["delivered_at"]) < _now() - timedelta(days=2)
    assert len(control.add_orders(6, market="SMARTSTORE", mix={"stalled": 1})) == 6
    assert {o["_scenario"] for o in control.orders(market="SMARTSTORE")} == {"delivered", "stalled"}
    assert len(control.orders(owner=coupang_account.vendor_id)) == 1
    assert control.stats()["orders"]["SMARTSTORE"] == 7
    with pytest.raises(SandboxControlError, match="404"):
        control.advance_order("123", "ship")
    with pytest.raises(SandboxControlError, match="400"):
        control.advance_order(paid["order_id"], "cancel")
    with pytest.raises(SandboxControlError, match="400"):
        control.add_order("COUPANG", scenario="exchanged")
    with pytest.raises(SandboxControlError, match="400"):
        control.add_order("COUPANG", scenario="nope")
    assert (
        http.post(sandbox.control_url + "/orders", json={"market": "COUPANG", "colour": "red"}, timeout=5).status_code
        == 400
    )
    assert http.get(sandbox.control_url + "/orders", params={"id": "1"}, timeout=5).status_code == 404
    control.reset()
    assert control.orders() == []


# --- inquiries that name orders --------------------------------------------------------------------------


def _question_text(kind: str, item: dict) -> str:
    if kind == COUPANG_CALLCENTER:
        return item["replies"][0]["content"].split("◼고객문의: ", 1)[1].split("\n")[0]
    return item[{COUPANG_ONLINE: "content", NAVER_QNA: "question", NAVER_INQUIRY: "inquiryContent"}[kind]]


def _order_refs(kind: str, item: dict) -> tuple[list[str], list[str]]:
    """(order ids, line ids) an inquiry names, read from its native fields."""
    if kind == COUPANG_ONLINE:
        return [str(i) for i in item["orderIds"] or []], []
    if kind == COUPANG_CALLCENTER:
        return [str(item["orderId"])], []
    if kind == NAVER_INQUIRY:
        return [item["orderId"]], item["productOrderIdList"].split(",")
    return [], []


def _product_of(kind: str, item: dict) -> Product:
    if kind == COUPANG_ONLINE:
        return next(p for p in PRODUCTS if p.vendor_item_id == item["vendorItemId"])
    if kind == COUPANG_CALLCENTER:
        return next(p for p in PRODUCTS if p.vendor_item_id == item["vendorItemId"][0])
    channel_no = int(item["productId"] if kind == NAVER_QNA else item["productNo"])
    return next(p for p in PRODUCTS if p.channel_product_no == channel_no)


def _templates(scenario: str) -> set[str]:
    source = SHIPPING_POLICY if scenario == "policy" else SHIPPING_BY_SCENARIO[scenario]
    return {text.format(product=p.name) for _title, text in source for p in PRODUCTS}


def test_seeded_inquiries__every_order_reference_resolves(http, sandbox, coupang_account, naver_account, token) -> None:
    store = sandbox.store
    for kind in (COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_QNA, NAVER_INQUIRY):
        store.add_inquiries(kind, 80, risk_ratio=0.1)
    naver_lines: list[str] = []
    for kind in (COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_QNA, NAVER_INQUIRY):
        for item in store.list_items(kind):
            order_ids, line_ids = _order_refs(kind, item)
            assert bool(order_ids) == bool(item["_order_lines"]) == (item["_scenario"] not in (None, "policy"))
            product = _product_of(kind, item)
            asked_at = _when(item.get("inquiryAt") or item.get("inquiryRegistrationDateTime") or item["createDate"])
            for order_id in order_ids:
                order = store.get_order(order_id)
                assert order is not None and order["owner"] == item["_owner"] and order["order_id"] == order_id
                assert order["_scenario"] == item["_scenario"]
                named = [line for line in order["lines"] if line["line_id"] in item["_order_lines"]]
                assert named and all(
                    line["product_ids"] == [product.product_id] or product.product_id in line["product_ids"]
                    for line in named
                )
                assert datetime.fromisoformat(order["ordered_at"]) < asked_at
                if kind == COUPANG_CALLCENTER:
                    assert _when(item["orderDate"]) == datetime.fromisoformat(order["ordered_at"]).replace(
                        microsecond=0
                    )
            assert sorted(line_ids) == sorted(item["_order_lines"] if kind == NAVER_INQUIRY else [])
            naver_lines += line_ids
    served = {
        d["productOrder"]["productOrderId"]: d for d in _nquery(http, sandbox, token, naver_lines[:300]).json()["data"]
    }
    assert set(served) == set(naver_lines[:300])  # the Naver references resolve over the API too
    for item in store.list_items(NAVER_INQUIRY):
        for line in item["productOrderIdList"].split(","):
            if line in served:
                assert served[line]["productOrder"]["productId"] == item["productNo"]
                assert served[line]["order"]["orderId"] == item["orderId"]
    for item in store.list_items(COUPANG_ONLINE)[:25]:
        for order_id in item["orderIds"] or []:
            response = _cget(http, sandbox, coupang_account, _vp(coupang_account, "v5", f"{order_id}/ordersheets"))
            if response.status_code == 400:
                assert response.json() == CANCELLED_OR_RETURNED and item["_scenario"] in ("cancelled", "returned")
                continue
            assert item["vendorItemId"] in {i["vendorItemId"] for s in response.json()["data"] for i in s["orderItems"]}


def test_seeded_inquiries__intent_mix_and_scenario_texts(sandbox, coupang_account, naver_account) -> None:
    store = sandbox.store
    for kind in (COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_QNA, NAVER_INQUIRY):
        store.add_inquiries(kind, 200, risk_ratio=0.1)
        items = store.list_items(kind)
        intents = [item["_intent"] for item in items]
        counts = {intent: intents.count(intent) for intent in set(intents)}
        assert max(counts, key=counts.get) == "배송문의"
        if kind != NAVER_QNA:
            assert 0.35 < counts["배송문의"] / len(items) < 0.65
        assert 5 <= sum(item["_risky"] for item in items) <= 40
        for item in items:
            scenario = item["_scenario"]
            if item["_intent"] != "배송문의" or item["_risky"]:
                continue
            assert scenario is not None
            assert _question_text(kind, item) in _templates(scenario), (kind, scenario, _question_text(kind, item))
            if kind == NAVER_QNA:
                assert scenario == "policy"
            if kind == COUPANG_ONLINE:
                assert (item["orderIds"] is None) == (scenario == "policy")  # shipping questions on orders name them
            if kind in (COUPANG_ONLINE, COUPANG_CALLCENTER):
                assert scenario != "exchanged"
        if kind == COUPANG_ONLINE:
            others = [item for item in items if item["_intent"] != "배송문의"]
            assert 0.3 < sum(item["orderIds"] is not None for item in others) / len(others) < 0.7
        if kind in (COUPANG_ONLINE, NAVER_INQUIRY):
            assert len({item["_scenario"] for item in items if item["_intent"] == "배송문의"}) >= 9


def test_templates__at_least_eight_varied_per_scenario() -> None:
    for scenario in SCENARIOS:
        texts = [text for _title, text in SHIPPING_BY_SCENARIO[scenario]]
        assert len(texts) >= 8 and len(set(texts)) == len(texts), scenario
    assert len(SHIPPING_POLICY) >= 12
    policy = " ".join(text for _title, text in SHIPPING_POLICY)
    for topic in ("몇 시까지", "며칠", "무료배송", "제주", "울릉도", "새벽배송", "편의점", "해외배송", "택배사"):
        assert topic in policy


def test_inquiry_for_a_given_order_or_scenario(sandbox, coupang_account, naver_account) -> None:
    store = sandbox.store
    order = store.add_order("SMARTSTORE", scenario="split")
    moving = order["lines"][1]["line_id"]
    inquiry = store.get_inquiry(NAVER_INQUIRY, store.add_inquiry(NAVER_INQUIRY, order=order["order_id"]))
    assert inquiry["orderId"] == order["order_id"] and inquiry["productOrderIdList"] == moving
    assert inquiry["_scenario"] == "split" and inquiry["inquiryContent"] in _templates("split")
    stalled = store.get_inquiry(COUPANG_ONLINE, store.add_inquiry(COUPANG_ONLINE, scenario="stalled"))
    assert store.get_order(str(stalled["orderIds"][0]))["_scenario"] == "stalled"
    assert stalled["content"] in _templates("stalled")
    usage = store.get_inquiry(COUPANG_CALLCENTER, store.add_inquiry(COUPANG_CALLCENTER, intent="사용법"))
    assert usage["_intent"] == "사용법" and store.get_order(str(usage["orderId"]))["_scenario"] == "delivered"
    policy = store.get_inquiry(COUPANG_ONLINE, store.add_inquiry(COUPANG_ONLINE, scenario="policy"))
    assert policy["orderIds"] is None and policy["_order_lines"] == []
    for kind, options in (
        (NAVER_QNA, {"scenario": "in_transit"}),
        (COUPANG_CALLCENTER, {"scenario": "policy"}),
        (COUPANG_ONLINE, {"scenario": "exchanged"}),
        (COUPANG_ONLINE, {"order": order["order_id"]}),
        (NAVER_INQUIRY, {"order": "1"}),
    ):
        with pytest.raises(ValueError):
            store.add_inquiry(kind, **options)


def _projection(store: SandboxStore) -> list[Any]:
    """What a seed must reproduce (Naver ids carry the order date, so only their random tail is compared)."""
    out: list[Any] = []
    for kind in (COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_QNA, NAVER_INQUIRY):
        for item in store.list_items(kind):
            refs = _order_refs(kind, item)
            out.append(
                (
                    kind,
                    item["_intent"],
                    item["_risky"],
                    item["_scenario"],
                    _question_text(kind, item),
                    [r[-8:] for r in refs[0]],
                    [r[-8:] for r in refs[1]],
                )
            )
    for order in store.list_orders():
        out.append(
            (
                order["_scenario"],
                order["order_id"][-8:],
                [
                    (line["line_id"][-8:], line["_scenario"], line["product_ids"], line["quantity"], line["invoice"])
                    for line in order["lines"]
                ],
            )
        )
    return out


def test_seed__reproduces_inquiries_and_orders() -> None:
    stores = []
    for _ in range(2):
        store = SandboxStore(seed=99)
        store.register_coupang_account(vendor_id="A00000099", access_key="k", secret_key="s")
        store.register_naver_account(client_id="seeded-app")
        for kind in (COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_QNA, NAVER_INQUIRY):
            store.add_inquiries(kind, 30)
        store.add_orders(20, market="COUPANG")
        store.add_orders(20, market="SMARTSTORE")
        stores.append(store)
    assert _projection(stores[0]) == _projection(stores[1])
    other = SandboxStore(seed=100)
    other.register_coupang_account(vendor_id="A00000099", access_key="k", secret_key="s")
    other.add_inquiries(COUPANG_ONLINE, 30)
    assert _projection(other)[:30] != _projection(stores[0])[:30]


def test_market_sandbox_command__seeds_orders_and_prints_counts() -> None:
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "market_sandbox", "--port", "0", "--seed-inquiries", "5", "--seed", "3"],
        cwd=root,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl+C" in line:
                break
        output = "".join(lines)
        url = output.split("listening on ")[1].split()[0]
        stats = SandboxControl(url).stats()
        coupang, naver = stats["orders"]["COUPANG"], stats["orders"]["SMARTSTORE"]
        assert f"orders: Coupang {coupang}, Naver {naver}" in output
        # the inquiries' orders (call-centre and Naver inquiries always name one), and as many again
        assert naver == 2 * 5 and 2 * 5 <= coupang <= 2 * 10
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
