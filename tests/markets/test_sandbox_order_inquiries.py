"""Sandbox inquiries that name orders: every reference resolves, the intent mix, seeds reproduce inquiries and
orders, and the ``market_sandbox`` command seeds both."""

from __future__ import annotations

import signal
from datetime import datetime
from typing import Any

import pytest

from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox import SandboxControl
from markets.sandbox.generator import PRODUCTS, Product
from markets.sandbox.orders import SCENARIOS
from markets.sandbox.questions import SHIPPING_BY_SCENARIO, SHIPPING_POLICY
from markets.sandbox.store import SandboxStore
from tests.markets.sandbox_order_api import (
    CANCELLED_OR_RETURNED,
    _cget,
    _nquery,
    _vp,
    _when,
)
from tests.markets.sandbox_requests import sandbox_command

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
    with sandbox_command("--seed-inquiries", "5", "--seed", "3") as (process, output):
        url = output.split("listening on ")[1].split()[0]
        stats = SandboxControl(url).stats()
        coupang, naver = stats["orders"]["COUPANG"], stats["orders"]["SMARTSTORE"]
        assert f"orders: Coupang {coupang}, Naver {naver}" in output
        # the inquiries' orders (call-centre and Naver inquiries always name one), and as many again
        assert naver == 2 * 5 and 2 * 5 <= coupang <= 2 * 10
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
    assert process.returncode == 0
