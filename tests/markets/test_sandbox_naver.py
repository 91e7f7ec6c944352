"""The sandbox's Naver CS routes: the token endpoint, Bearer checks, list errors, answers and rate limits, as
the real gateway answers them."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from markets.clients.naver_auth import naver_client_secret_sign
from markets.clients.types import NAVER_INQUIRY, NAVER_QNA
from tests.markets.sandbox_requests import _token

# --- Naver ----------------------------------------------------------------------------------------


def test_naver_token__same_token_while_more_than_30_minutes_remain(http, sandbox, naver_account) -> None:
    first, second = _token(http, sandbox, naver_account).json(), _token(http, sandbox, naver_account).json()
    assert first["access_token"] == second["access_token"] and first["expires_in"] == 10800
    sandbox.store.age_naver_tokens(3 * 3600 - 29 * 60)
    third = _token(http, sandbox, naver_account).json()
    assert third["access_token"] != first["access_token"]
    # the old token stays valid until it expires
    old = http.get(
        sandbox.naver_base_url + "/v1/contents/qnas",
        timeout=5,
        params={"fromDate": "2025-01-01T00:00:00.000+09:00", "toDate": "2025-01-02T00:00:00.000+09:00"},
        headers={"Authorization": f"Bearer {first['access_token']}"},
    )
    assert old.status_code == 200


def test_naver_token__query_string_form_also_accepted(http, sandbox, naver_account) -> None:
    timestamp = int(time.time() * 1000)
    params = {
        "client_id": naver_account.client_id,
        "timestamp": str(timestamp),
        "grant_type": "client_credentials",
        "client_secret_sign": naver_client_secret_sign(naver_account.client_id, naver_account.client_secret, timestamp),
        "type": "SELF",
    }
    response = http.post(sandbox.naver_base_url + "/v1/oauth2/token?" + urlencode(params), timeout=5)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_secret_sign": "bm90IGEgc2lnbg=="},
        {"timestamp": str(int(time.time() * 1000) - 6 * 60 * 1000)},
        {"grant_type": "password"},
        {"type": "OTHER"},
        {"client_id": "unknown"},
    ],
)
def test_naver_token__invalid__400(http, sandbox, naver_account, overrides) -> None:
    assert _token(http, sandbox, naver_account, **overrides).status_code == 400


def test_naver_token__seller_without_account_id__403(http, sandbox, naver_account) -> None:
    assert _token(http, sandbox, naver_account, type="SELLER").status_code == 403


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc"])
def test_naver_api__missing_or_unknown_token__401_gw_authn(http, sandbox, naver_account, authorization) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = http.get(
        sandbox.naver_base_url + "/v1/pay-user/inquiries",
        headers=headers,
        timeout=5,
        params={"startSearchDate": "2025-01-01", "endSearchDate": "2025-01-02"},
    )
    assert response.status_code == 401 and response.json()["code"] == "GW.AUTHN"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"size": "9"}, "4006"),
        ({"size": "201"}, "4007"),
        ({"page": "0"}, "4004"),
        ({"startSearchDate": "2025-02-01"}, "4002"),
        ({"startSearchDate": "2023-01-01"}, "4003"),
        ({"endSearchDate": "tomorrow"}, "4001"),
    ],
)
def test_naver_inquiries_list__documented_error_codes(http, sandbox, naver_account, params, code) -> None:
    token = _token(http, sandbox, naver_account).json()["access_token"]
    query = {"startSearchDate": "2025-01-01", "endSearchDate": "2025-01-31", **params}
    response = http.get(
        sandbox.naver_base_url + "/v1/pay-user/inquiries",
        params=query,
        timeout=5,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400 and response.json()["code"] == code


def test_naver_qnas_put__overwrites_like_the_real_api(http, sandbox, naver_account) -> None:
    token = _token(http, sandbox, naver_account).json()["access_token"]
    question = sandbox.store.add_inquiry(NAVER_QNA, answered=True, answer="사람 답변")
    response = http.put(
        f"{sandbox.naver_base_url}/v1/contents/qnas/{question}",
        json={"commentContent": "덮어쓰기"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert response.status_code == 204 and response.content == b""
    assert sandbox.store.get_inquiry(NAVER_QNA, question)["answer"] == "덮어쓰기"
    [record] = sandbox.store.answers(NAVER_QNA)
    assert record.overwrote is True  # the ledger shows the clobbering


def test_naver_answer__duplicate__err_nc_101010(http, sandbox, naver_account) -> None:
    token = _token(http, sandbox, naver_account).json()["access_token"]
    inquiry = sandbox.store.add_inquiry(NAVER_INQUIRY)
    url = f"{sandbox.naver_base_url}/v1/pay-merchant/inquiries/{inquiry}/answer"
    headers = {"Authorization": f"Bearer {token}"}
    first = http.post(url, json={"answerComment": "답변"}, headers=headers, timeout=5)
    assert first.status_code == 200 and first.json()["data"]["inquiryNo"] == int(inquiry)
    second = http.post(url, json={"answerComment": "다시"}, headers=headers, timeout=5)
    assert second.status_code == 400 and second.json()["code"] == "ERR-NC-101010"
    # the wrong field name some public clients use is rejected
    other = sandbox.store.add_inquiry(NAVER_INQUIRY)
    wrong = http.post(
        f"{sandbox.naver_base_url}/v1/pay-merchant/inquiries/{other}/answer",
        json={"answerContent": "x"},
        headers=headers,
        timeout=5,
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "ERR-NC-101001"


def test_naver__rate_limit_headers_and_429(http, sandbox, naver_account) -> None:
    sandbox.store.set_faults(naver_rps=1, naver_burst=2)
    token = _token(http, sandbox, naver_account).json()["access_token"]
    params = {"fromDate": "2025-01-01T00:00:00.000+09:00", "toDate": "2025-01-02T00:00:00.000+09:00"}
    responses = [
        http.get(
            sandbox.naver_base_url + "/v1/contents/qnas",
            params=params,
            timeout=5,
            headers={"Authorization": f"Bearer {token}"},
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[0].headers["GNCP-GW-RateLimit-Replenish-Rate"] == "1"
    assert responses[0].headers["GNCP-GW-RateLimit-Burst-Capacity"] == "2"
    assert responses[1].headers["GNCP-GW-RateLimit-Remaining"] == "0"
    assert responses[2].json()["code"] == "GW.RATE_LIMIT"
