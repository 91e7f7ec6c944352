"""The sandbox's Naver order API: the change log, product-order details and ids, over real HTTP on loopback,
checked against research/order-apis.md."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from markets.sandbox.orders import InvalidMove
from tests.markets.sandbox_order_api import (
    NAVER_CHANGE_TYPES,
    NAVER_ORDERS,
    _changes,
    _naver_lines,
    _nget,
    _now,
    _nquery,
    _nt,
    _when,
)

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
