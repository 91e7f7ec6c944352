"""The sandbox's order API under refused auth, rate limits and faults, like its inquiry routes."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import pytest

from markets.clients.coupang import coupang_authorization
from tests.markets.sandbox_order_api import (
    API,
    NAVER_ORDERS,
    _cget,
    _days,
    _nget,
    _now,
    _nquery,
    _nt,
    _today,
    _vp,
)

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
