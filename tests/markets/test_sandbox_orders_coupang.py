"""The sandbox's Coupang order API: order sheets, look-ups, delivery history, cancels and returns, over real
signed HTTP on loopback, checked against research/order-apis.md."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from markets.clients.types import KST
from tests.markets.sandbox_order_api import (
    CANCELLED_OR_RETURNED,
    NOT_FOUND,
    RANGE_TOO_WIDE,
    _cget,
    _check_coupang_sheet,
    _days,
    _minutes,
    _now,
    _nquery,
    _ordersheets,
    _returns,
    _today,
    _vp,
    _when,
)

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
