"""The sandbox's order and shipping APIs: real signed HTTP on loopback, checked against research/order-apis.md.

Clients, the demo and benchmarks trust these fakes, so every documented shape, limit and error is
asserted, and every lifecycle scenario's invariants (§5.1) are checked on what is served. Here: the
scenarios as served, moving orders along and the control API; the Coupang and Naver routes, faults and
inquiries that name orders are in ``test_sandbox_orders_*.py`` and ``test_sandbox_order_inquiries.py``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from markets.sandbox import SandboxControl, SandboxControlError
from markets.sandbox.generator import PRODUCTS
from markets.sandbox.orders import SCENARIOS, InvalidMove
from tests.markets.sandbox_order_api import (
    CANCELLED_OR_RETURNED,
    _cget,
    _changes,
    _check_coupang_sheet,
    _check_history,
    _check_naver_detail,
    _naver_lines,
    _now,
    _nquery,
    _returns,
    _today,
    _vp,
    _when,
)

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
