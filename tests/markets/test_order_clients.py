"""Order clients over real HTTP on loopback to the sandbox (signed, tokens checked): Coupang order sheets,
return requests, single look-ups and delivery history; Naver changed product orders, their details and an
order's product orders; status mapping, paging, malformed payloads, personal data never kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from markets.clients.base import get_client
from markets.clients.naver_orders import PRODUCT_ORDER_STATUSES, naver_status, parse_product_order
from markets.clients.orders import OrderNotFound, RemoteClaim, RemoteOrderLine
from markets.clients.types import Malformed, MarketAuthError, MarketResponseError
from tests.markets.conftest import coupang_config_for, fast

NOW = lambda: datetime.now(UTC)  # noqa: E731
EXPECTED = {  # sandbox scenario → (normalized status, Coupang raw status, Naver raw status)
    "paid": ("PAID", "ACCEPT", "PAYED"),
    "preparing": ("PREPARING", "INSTRUCT", "PAYED"),
    "shipped": ("SHIPPED", "DEPARTURE", "DELIVERING"),
    "in_transit": ("IN_TRANSIT", "DELIVERING", "DELIVERING"),
    "delivered": ("DELIVERED", "FINAL_DELIVERY", "DELIVERED"),
}
PERSONAL = (
    "receiver",
    "orderer",
    "shippingAddress",
    "safeNumber",
    "ordererName",
    "ordererTel",
    "addr1",
    "requesterName",
    "collectAddress",
)


def lines_of(items) -> dict[str, RemoteOrderLine]:
    return {item.line_id: item for item in items if isinstance(item, RemoteOrderLine)}


def assert_no_personal_data(line: RemoteOrderLine | RemoteClaim) -> None:
    text = json.dumps(line.raw, ensure_ascii=False)
    assert not [key for key in PERSONAL if f'"{key}"' in text], text[:300]


# --- Coupang ----------------------------------------------------------------------------------------------


@pytest.fixture
def coupang_orders(sandbox, coupang_account):
    def add(scenario, **kwargs):
        return sandbox.store.add_order("COUPANG", owner=coupang_account.vendor_id, scenario=scenario, **kwargs)

    return add


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_coupang_ordersheets__each_status_mapped(coupang_client, coupang_orders, scenario):
    order = coupang_orders(scenario, before=NOW() - timedelta(hours=1))
    found = lines_of(coupang_client.list_ordersheets(NOW() - timedelta(days=14), NOW()))
    line = found[order["lines"][0]["line_id"]]
    status, raw, _naver = EXPECTED[scenario]
    assert (line.status, line.raw_status, line.order_id) == (status, raw, order["order_id"])
    if status in ("SHIPPED", "IN_TRANSIT", "DELIVERED"):
        assert line.tracking_number == order["lines"][0]["invoice"] and line.carrier_code and line.carrier_name
        assert line.shipped_at is not None
    else:
        assert line.tracking_number == "" and line.expected_dispatch_date is not None
    assert (line.delivered_at is not None) == (status == "DELIVERED")
    assert_no_personal_data(line)


def test_coupang_untracked_direct_delivery__shipped_without_tracking(coupang_client, coupang_orders):
    order = coupang_orders("in_transit", carrier="DIRECT", before=NOW() - timedelta(hours=1))
    line = lines_of(coupang_client.list_ordersheets(NOW() - timedelta(days=14), NOW()))[order["lines"][0]["line_id"]]
    assert (line.status, line.raw_status, line.delivery_issue) == ("SHIPPED", "NONE_TRACKING", "NOT_TRACKABLE")


def test_coupang_ordersheets__pages_through_next_tokens_and_signs_every_call(sandbox, coupang_client, coupang_orders):
    ids = {coupang_orders("delivered", before=NOW() - timedelta(hours=2))["lines"][0]["line_id"] for _ in range(120)}
    before = sandbox.store.stats()["by_route"]
    found = lines_of(coupang_client.list_ordersheets(NOW() - timedelta(days=14), NOW(), statuses=("FINAL_DELIVERY",)))
    assert ids <= set(found)
    calls = sum(sandbox.store.stats()["by_route"].values()) - sum(before.values())
    assert calls >= 3  # 120 boxes at 50 a page


def test_coupang_wrong_secret__refused(sandbox, coupang_account, limiter):
    client = fast(get_client(coupang_config_for(sandbox, coupang_account, secret_key="not-the-secret"), limiter))
    with pytest.raises(MarketAuthError):
        list(client.list_ordersheets(NOW() - timedelta(days=1), NOW()))


def test_coupang_claims__cancels_and_returns(coupang_client, coupang_orders, sandbox):
    cancelled = coupang_orders("cancelled", before=NOW() - timedelta(hours=1))
    returned = coupang_orders("returned", before=NOW() - timedelta(hours=1))
    placed = coupang_orders("preparing", before=NOW() - timedelta(hours=3))
    sandbox.store.advance_order(placed["order_id"], "request_cancel")  # after 상품준비중: filed as a stop request
    claims = {
        c.order_id: c
        for c in coupang_client.list_claims(NOW() - timedelta(days=14), NOW())
        if isinstance(c, RemoteClaim)
    }
    assert claims[cancelled["order_id"]].claim_type == "CANCEL" and claims[cancelled["order_id"]].status == "CANCELLED"
    assert claims[returned["order_id"]].claim_type == "RETURN" and claims[returned["order_id"]].status == "RETURNED"
    assert claims[returned["order_id"]].line_ids == [returned["lines"][0]["line_id"]]
    assert claims[placed["order_id"]].claim_type == "CANCEL"
    for claim in claims.values():
        assert_no_personal_data(claim)


def test_coupang_get_order__boxes_cancelled_or_unknown(coupang_client, coupang_orders):
    split = coupang_orders("split", before=NOW() - timedelta(hours=1))
    found = coupang_client.get_order(split["order_id"])
    assert {line.line_id for line in found} == {line["line_id"] for line in split["lines"]}
    assert {line.status for line in found} == {"DELIVERED", "IN_TRANSIT"}
    cancelled = coupang_orders("cancelled", before=NOW() - timedelta(hours=1))
    lines = coupang_client.get_order(cancelled["order_id"])  # 400 "취소 또는 반품" → its return requests
    assert lines and {line.status for line in lines} == {"CANCELLED"} and lines[0].order_id == cancelled["order_id"]
    with pytest.raises(OrderNotFound):
        coupang_client.get_order("29999999999999")


def test_coupang_history__newest_first(coupang_client, coupang_orders):
    order = coupang_orders("stalled", before=NOW() - timedelta(hours=1))
    history = coupang_client.box_history(order["lines"][0]["line_id"])
    assert history and history == sorted(history, key=lambda h: h[2], reverse=True)
    assert NOW() - history[0][2] >= timedelta(days=5)  # the tracking stopped moving days ago


def test_coupang_malformed_items__yielded_as_malformed_and_the_rest_parsed(sandbox, coupang_client, coupang_orders):
    for _ in range(20):
        coupang_orders("delivered", before=NOW() - timedelta(hours=1))
    sandbox.store.set_faults(malformed_orders=0.3)
    items = list(coupang_client.list_ordersheets(NOW() - timedelta(days=14), NOW(), statuses=("FINAL_DELIVERY",)))
    bad = [i for i in items if isinstance(i, Malformed)]
    assert bad and len(lines_of(items)) + len(bad) == len(items) >= 20
    assert all(b.kind == "COUPANG_ORDER" and b.error for b in bad)


def test_coupang_unreadable_page__raises_with_the_body(sandbox, coupang_client, coupang_orders):
    coupang_orders("delivered", before=NOW() - timedelta(hours=1))
    sandbox.store.set_faults(malformed_order_pages=1)
    with pytest.raises(MarketResponseError) as raised:
        list(coupang_client.list_ordersheets(NOW() - timedelta(days=14), NOW()))
    assert raised.value.malformed is not None and raised.value.malformed.kind == "COUPANG_ORDER"


# --- Naver --------------------------------------------------------------------------------------------------


@pytest.fixture
def naver_orders(sandbox, naver_account):
    def add(scenario, **kwargs):
        return sandbox.store.add_order("SMARTSTORE", owner=naver_account.client_id, scenario=scenario, **kwargs)

    return add


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_naver_changes_and_details__each_status_mapped(naver_client, naver_orders, scenario):
    order = naver_orders(
        scenario, before=NOW() - timedelta(hours=1), **({"decided": False} if scenario == "delivered" else {})
    )
    changed = [i[0] for i in naver_client.list_changed(NOW() - timedelta(days=14), NOW()) if isinstance(i, tuple)]
    line_id = order["lines"][0]["line_id"]
    assert line_id in changed and len(changed) == len(set(changed))  # each product order once
    line = lines_of(naver_client.query_product_orders(changed))[line_id]
    status, _coupang, raw = EXPECTED[scenario]
    assert (line.status, line.raw_status, line.order_id) == (status, raw, order["order_id"])
    if status in ("SHIPPED", "IN_TRANSIT", "DELIVERED"):
        assert line.tracking_number == order["lines"][0]["invoice"] and line.carrier_name
    assert_no_personal_data(line)


@pytest.mark.parametrize(
    "scenario, to, status, claim",
    [
        ("delivered", "decide", "DELIVERED", ""),
        ("delivered", "return", "DELIVERED", "RETURN"),
        ("delivered", "return_done", "RETURNED", "RETURN"),
        ("delivered", "exchange", "EXCHANGED", "EXCHANGE"),
        ("preparing", "request_cancel", "PREPARING", "CANCEL"),
        ("preparing", "cancel", "CANCELLED", "CANCEL"),
    ],
)
def test_naver_claims_and_decisions__mapped(sandbox, naver_client, naver_orders, scenario, to, status, claim):
    order = naver_orders(
        scenario, before=NOW() - timedelta(hours=2), **({"decided": False} if scenario == "delivered" else {})
    )
    sandbox.store.advance_order(order["order_id"], to)
    line = naver_client.get_order(order["order_id"])[0]
    assert (line.status, line.claim_type) == (status, claim)


def test_naver_get_order__by_product_order_ids_or_order_id(naver_client, naver_orders):
    split = naver_orders("split", before=NOW() - timedelta(hours=1))
    ids = [line["line_id"] for line in split["lines"]]
    assert {line.line_id for line in naver_client.get_order(split["order_id"])} == set(ids)
    assert [line.line_id for line in naver_client.get_order(None, product_order_ids=ids[:1])] == ids[:1]
    with pytest.raises(OrderNotFound):
        naver_client.get_order("2026010199999999")


def test_naver_query__more_than_300_ids_in_chunks(naver_client, naver_orders):
    ids = [naver_orders("delivered", before=NOW() - timedelta(hours=1))["lines"][0]["line_id"] for _ in range(320)]
    assert set(lines_of(naver_client.query_product_orders(ids))) == set(ids)


def test_naver_misdelivery_flag__a_delivery_issue(sandbox, naver_client, naver_orders):
    order = naver_orders("in_transit", before=NOW() - timedelta(hours=2))
    sandbox.store.advance_order(order["order_id"], "misdeliver", wrong_invoice=True)
    line = naver_client.get_order(order["order_id"])[0]
    assert (line.status, line.delivery_issue) == ("DELIVERED", "WRONG_TRACKING")


@pytest.mark.parametrize(
    "raw, place, delivery, expected",
    [
        ("PAYMENT_WAITING", None, None, "PAID"),
        ("PAYED", "NOT_YET", None, "PAID"),
        ("PAYED", "OK", None, "PREPARING"),
        ("DELIVERING", "OK", "COLLECT_CARGO", "SHIPPED"),
        ("DELIVERING", "OK", "DELIVERING", "IN_TRANSIT"),
        ("DELIVERED", "OK", "DELIVERY_COMPLETION", "DELIVERED"),
        ("PURCHASE_DECIDED", "OK", "DELIVERY_COMPLETION", "DELIVERED"),
        ("EXCHANGED", "OK", "DELIVERY_COMPLETION", "EXCHANGED"),
        ("CANCELED", "OK", None, "CANCELLED"),
        ("RETURNED", "OK", "DELIVERY_COMPLETION", "RETURNED"),
        ("CANCELED_BY_NOPAYMENT", None, None, "CANCELLED"),
    ],
)
def test_naver_every_documented_product_order_status__mapped(raw, place, delivery, expected):
    # The sandbox never serves an unpaid order for long (PAYMENT_WAITING, CANCELED_BY_NOPAYMENT): the whole
    # documented enum is checked on the parser too.
    assert naver_status(raw, place, delivery) == expected
    item = {
        "order": {"orderId": "2026010112345678"},
        "productOrder": {"productOrderId": "2026010187654321", "productOrderStatus": raw, "placeOrderStatus": place},
    }
    if delivery:
        item["delivery"] = {
            "deliveryStatus": delivery,
            "deliveryMethod": "DELIVERY",
            "trackingNumber": "1",
            "deliveryCompany": "CJGLS",
        }
    assert parse_product_order(item).status == expected
    assert raw in PRODUCT_ORDER_STATUSES


def test_naver_undocumented_status_or_broken_item__malformed():
    assert isinstance(
        parse_product_order({"productOrder": {"productOrderId": "1", "productOrderStatus": "TELEPORTED"}}), Malformed
    )
    assert isinstance(parse_product_order({"order": [], "productOrder": {}}), Malformed)
    assert isinstance(parse_product_order("not an object"), Malformed)


def test_naver_malformed_items__yielded_as_malformed(sandbox, naver_client, naver_orders):
    ids = [naver_orders("delivered", before=NOW() - timedelta(hours=1))["lines"][0]["line_id"] for _ in range(20)]
    sandbox.store.set_faults(malformed_orders=0.3)
    items = list(naver_client.query_product_orders(ids))
    bad = [i for i in items if isinstance(i, Malformed)]
    assert bad and all(b.kind == "NAVER_ORDER" for b in bad) and len(lines_of(items)) + len(bad) == len(items)
