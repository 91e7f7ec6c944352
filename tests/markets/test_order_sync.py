"""Order sync into the mirror (``sync_orders`` and the schedule's code) and the decision path's one targeted
look-up, against the sandbox over loopback: streams and watermarks, claims, delivery completion, stalled
boxes, malformed payloads recorded and skipped, and one account's outage never stopping the others."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from inquiries.models import Inquiry
from markets import orders as order_sync
from markets.connect import clear_client_cache
from markets.models import MalformedPayload, MarketOrder, OrderSyncCursor
from policy.decide import decide_new
from tests.factories import make_account, make_inquiry, make_shipping_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(sandbox):
    cp = sandbox.store.register_coupang_account(vendor_id="A00077777", reply_by="cs-agent")
    nv = sandbox.store.register_naver_account(client_id="naver-orders-app")
    coupang = make_account(
        "coupang_main",
        vendor_id=cp.vendor_id,
        access_key=cp.access_key,
        secret_key=cp.secret_key,
        reply_by="cs-agent",
        api_base_url=sandbox.coupang_base_url,
    )
    naver = make_account(
        "smartstore",
        market="SMARTSTORE",
        client_id=nv.client_id,
        client_secret=nv.client_secret,
        api_base_url=sandbox.naver_base_url,
    )
    clear_client_cache()
    yield coupang, naver
    clear_client_cache()


def add(sandbox, account, scenario, **kwargs):
    owner = account.vendor_id if account.market_code == "COUPANG" else account.client_id
    kwargs.setdefault("before", timezone.now() - timedelta(hours=1))
    return sandbox.store.add_order(account.market_code, owner=owner, scenario=scenario, **kwargs)


def sync(*args) -> str:
    out = io.StringIO()
    call_command("sync_orders", *args, stdout=out)
    return out.getvalue()


def test_sync__mirrors_both_marketplaces_and_moves_the_watermarks(sandbox, accounts):
    coupang, naver = accounts
    made = [add(sandbox, coupang, s) for s in ("paid", "preparing", "shipped", "in_transit", "delivered", "split")]
    made += [add(sandbox, naver, s) for s in ("paid", "preparing", "shipped", "in_transit", "delivered", "split")]
    out = sync()
    assert "coupang_main: 조회" in out and "smartstore: 조회" in out
    expected = {line["line_id"] for order in made for line in order["lines"]}
    assert expected <= set(MarketOrder.objects.values_list("line_id", flat=True))
    for order in made:
        for line in order["lines"]:
            row = MarketOrder.objects.get(line_id=line["line_id"])
            assert row.order_id == order["order_id"] and row.tracking_number == (line["invoice"] or "")
            assert row.fingerprint and row.synced_at is not None
    cursors = OrderSyncCursor.objects.all()
    assert {c.stream for c in cursors} == {"COUPANG_ORDERSHEETS", "COUPANG_RETURNS", "NAVER_CHANGES", "NAVER_REFRESH"}
    assert all(c.watermark is not None and c.last_error == "" for c in cursors)
    # again: the same lines, updated in place
    count = MarketOrder.objects.count()
    assert "새 주문 0건" in sync() and MarketOrder.objects.count() == count


def test_sync__a_return_after_delivery_stays_returned(sandbox, accounts):
    coupang, _naver = accounts
    order = add(sandbox, coupang, "delivered", decided=False)
    sync("--account", "coupang_main")
    sandbox.store.advance_order(order["order_id"], "return")
    sync("--account", "coupang_main")
    row = MarketOrder.objects.get(line_id=order["lines"][0]["line_id"])
    assert (row.status, row.claim_type) == ("RETURNED", "RETURN")
    sync("--account", "coupang_main")  # the order sheet still says FINAL_DELIVERY: the return stays
    row.refresh_from_db()
    assert (row.status, row.raw_status, row.claim_type) == ("RETURNED", "FINAL_DELIVERY", "RETURN")


def test_sync__naver_delivery_completion_seen_by_the_refresh(sandbox, accounts, monkeypatch):
    _coupang, naver = accounts
    order = add(sandbox, naver, "in_transit")
    sync("--account", "smartstore")
    line_id = order["lines"][0]["line_id"]
    assert MarketOrder.objects.get(line_id=line_id).status == "IN_TRANSIT"
    sandbox.store.advance_order(order["order_id"], "deliver")  # no change-log row for a delivery
    monkeypatch.setattr(order_sync, "REFRESH_AFTER", timedelta(0))
    sync("--account", "smartstore")
    row = MarketOrder.objects.get(line_id=line_id)
    assert row.status == "DELIVERED" and row.delivered_at is not None


def test_sync__a_stalled_box_keeps_its_real_last_movement(sandbox, accounts):
    coupang, _naver = accounts
    order = add(sandbox, coupang, "stalled")
    sync("--account", "coupang_main")
    row = MarketOrder.objects.get(line_id=order["lines"][0]["line_id"])
    assert row.status in ("SHIPPED", "IN_TRANSIT") and timezone.now() - row.last_movement_at >= timedelta(days=5)


def test_sync__malformed_items_recorded_and_skipped(sandbox, accounts):
    _coupang, naver = accounts
    made = [add(sandbox, naver, "delivered") for _ in range(15)]
    sandbox.store.set_faults(malformed_orders=0.3)
    out = sync("--account", "smartstore")
    bad = MalformedPayload.objects.filter(kind="NAVER_ORDER").count()
    assert bad and f"형식 오류 {bad}건" in out
    assert MarketOrder.objects.count() + bad >= len(made)


def test_sync__one_account_down_the_other_synced_and_named(sandbox, accounts, closed_port):
    coupang, naver = accounts
    add(sandbox, coupang, "delivered")
    add(sandbox, naver, "delivered")
    coupang.api_base_url = f"http://127.0.0.1:{closed_port}"
    coupang.save()
    clear_client_cache()
    out = io.StringIO()
    with pytest.raises(CommandError, match="계정 2개 중 1개 실패: coupang_main"):
        call_command("sync_orders", stdout=out)
    assert "smartstore: 조회" in out.getvalue() and "coupang_main" in out.getvalue()
    assert (
        MarketOrder.objects.filter(account=naver).exists() and not MarketOrder.objects.filter(account=coupang).exists()
    )
    failed = OrderSyncCursor.objects.filter(account=coupang)
    assert failed and all(c.watermark is None and c.last_error for c in failed)


# --- the targeted look-up of the decision path --------------------------------------------------------------


def ask_about(account, order_id: str, **fields) -> Inquiry:
    return make_inquiry(
        account,
        content="주문한 거 배송 언제 와요? 어디쯤 왔나요",
        order_id=order_id,
        order_refs={"order_ids": [order_id]},
        **fields,
    )


def test_decision__an_order_not_mirrored_yet_is_looked_up_once(sandbox, accounts):
    coupang, _naver = accounts
    make_shipping_policy(coupang)
    order = add(sandbox, coupang, "in_transit")
    first, second = ask_about(coupang, order["order_id"]), ask_about(coupang, order["order_id"])
    before = sandbox.store.stats()["by_route"].copy()
    decide_new()
    after = sandbox.store.stats()["by_route"]
    calls = {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route, 0)}
    assert calls == {"coupang.orders.order": 1}, calls  # one look-up for the two inquiries
    for row in (first, second):
        row.refresh_from_db()
        assert row.order_fingerprint and order["lines"][0]["invoice"] in row.draft_answer
        assert row.decision_trace["agent"]["facts"][0]["source"] == "order"


def test_decision__unknown_order_or_marketplace_down__a_person_answers(sandbox, accounts, closed_port):
    coupang, naver = accounts
    unknown = ask_about(coupang, "29999999999999")
    naver.api_base_url = f"http://127.0.0.1:{closed_port}/external"
    naver.save()
    clear_client_cache()
    down = ask_about(naver, "2026010112345678", kind="NAVER_INQUIRY")
    decide_new()
    unknown.refresh_from_db()
    down.refresh_from_db()
    assert unknown.status == "HUMAN_REVIEW" and unknown.decision_trace["agent"]["reason"] == "ORDER_NOT_FOUND"
    assert down.status == "HUMAN_REVIEW" and down.decision_trace["agent"]["reason"] == "ORDER_LOOKUP_FAILED"
    assert down.decision_trace["agent"]["facts"][0]["detail"].startswith("failed")
