"""The sandbox marketplace itself: it must reject what the real gateways reject, exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from markets.clients.coupang import coupang_authorization, coupang_signature, coupang_signed_date
from markets.clients.naver_auth import naver_client_secret_sign
from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox import SandboxControl, SandboxControlError
from markets.sandbox.accounts import DEMO_NAVER, generate_naver_secret
from markets.sandbox.generator import RISKY
from markets.sandbox.store import SandboxStore

V5 = "/v2/providers/openapi/apis/api/v5/vendors"
V4 = "/v2/providers/openapi/apis/api/v4/vendors"
TODAY = datetime.now(UTC).astimezone(timezone(timedelta(hours=9))).date()


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def _list_query(vendor: str, **overrides: str) -> str:
    params = {
        "vendorId": vendor,
        "answeredType": "ALL",
        "inquiryStartAt": (TODAY - timedelta(days=2)).isoformat(),
        "inquiryEndAt": TODAY.isoformat(),
        "pageNum": "1",
        "pageSize": "50",
    }
    params.update(overrides)
    return urlencode(params)


def _coupang_get(http, sandbox, account, path, query, *, authorization=None, secret=None):
    auth = authorization or coupang_authorization(account.access_key, secret or account.secret_key, "GET", path, query)
    return http.get(f"{sandbox.url}{path}?{query}", headers={"Authorization": auth}, timeout=5)


def _coupang_post(http, sandbox, account, path, payload):
    auth = coupang_authorization(account.access_key, account.secret_key, "POST", path, "")
    return http.post(
        sandbox.url + path,
        data=json.dumps(payload).encode(),
        timeout=5,
        headers={"Authorization": auth, "Content-Type": "application/json;charset=UTF-8"},
    )


# --- Coupang authentication ---------------------------------------------------------------------


def test_coupang__valid_signature__200_with_string_code(http, sandbox, coupang_account) -> None:
    sandbox.store.add_inquiries(COUPANG_ONLINE, 3, days_back=1)
    path = f"{V5}/{coupang_account.vendor_id}/onlineInquiries"
    response = _coupang_get(http, sandbox, coupang_account, path, _list_query(coupang_account.vendor_id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == "200" and len(body["data"]["content"]) == 3
    assert not any(key.startswith("_") for key in body["data"]["content"][0])  # internal fields never served


def test_coupang__v4_and_v5_gets_route_to_the_same_handler(http, sandbox, coupang_account) -> None:
    sandbox.store.add_inquiries(COUPANG_ONLINE, 2, days_back=1)
    query = _list_query(coupang_account.vendor_id)
    bodies = [
        _coupang_get(
            http, sandbox, coupang_account, f"{base}/{coupang_account.vendor_id}/onlineInquiries", query
        ).json()
        for base in (V4, V5)
    ]
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Request is not authorized."),
        ("Bearer abc", "HMAC format is invalid."),
        ("CEA algorithm=HmacSHA256, access-key=x", "HMAC format is invalid."),
        ("CEA algorithm=HmacSHA1, access-key=a, signed-date=240101T000000Z, signature=00", "HMAC format is invalid."),
        ("CEA algorithm=HmacSHA256, access-key=a, signed-date=not-a-date, signature=00", "HMAC format is invalid."),
    ],
)
def test_coupang__bad_authorization_header__401_with_gateway_body(
    http, sandbox, coupang_account, header, message
) -> None:
    path = f"{V5}/{coupang_account.vendor_id}/onlineInquiries"
    headers = {"Authorization": header} if header else {}
    response = http.get(f"{sandbox.url}{path}?{_list_query(coupang_account.vendor_id)}", headers=headers, timeout=5)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "ERROR" and body["message"] == message and body["transactionId"]


def test_coupang__stale_signed_date__expired(http, sandbox, coupang_account) -> None:
    path, query = f"{V5}/{coupang_account.vendor_id}/onlineInquiries", _list_query(coupang_account.vendor_id)
    stale = coupang_signed_date(datetime.now(UTC) - timedelta(minutes=6))
    auth = coupang_authorization(
        coupang_account.access_key, coupang_account.secret_key, "GET", path, query, signed_date=stale
    )
    response = _coupang_get(http, sandbox, coupang_account, path, query, authorization=auth)
    assert (response.status_code, response.json()["message"]) == (401, "Specified signature is expired.")


def test_coupang__signature_over_other_query__invalid_signature(http, sandbox, coupang_account) -> None:
    path = f"{V5}/{coupang_account.vendor_id}/onlineInquiries"
    signed_query = _list_query(coupang_account.vendor_id)
    reordered = _list_query(coupang_account.vendor_id, pageSize="49")  # same params, different bytes
    auth = coupang_authorization(coupang_account.access_key, coupang_account.secret_key, "GET", path, signed_query)
    response = _coupang_get(http, sandbox, coupang_account, path, reordered, authorization=auth)
    assert (response.status_code, response.json()["message"]) == (401, "Invalid signature.")


def test_coupang__wrong_secret__invalid_signature(http, sandbox, coupang_account) -> None:
    path = f"{V5}/{coupang_account.vendor_id}/onlineInquiries"
    response = _coupang_get(
        http, sandbox, coupang_account, path, _list_query(coupang_account.vendor_id), secret="f" * 40
    )
    assert (response.status_code, response.json()["message"]) == (401, "Invalid signature.")


def test_coupang__header_without_spaces_after_commas__accepted(http, sandbox, coupang_account) -> None:
    path, query = f"{V5}/{coupang_account.vendor_id}/onlineInquiries", _list_query(coupang_account.vendor_id)
    signed_date = coupang_signed_date()
    signature = coupang_signature(coupang_account.secret_key, signed_date, "GET", path, query)
    compact = (
        f"CEA algorithm=HmacSHA256,access-key={coupang_account.access_key},"
        f"signed-date={signed_date},signature={signature}"
    )
    assert _coupang_get(http, sandbox, coupang_account, path, query, authorization=compact).status_code == 200


def test_coupang__path_vendor_of_another_account__refused(http, sandbox, coupang_account) -> None:
    sandbox.store.register_coupang_account(vendor_id="A99999999")
    path = f"{V5}/A99999999/onlineInquiries"
    response = _coupang_get(http, sandbox, coupang_account, path, _list_query("A99999999"))
    assert response.status_code == 403


# --- Coupang list validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"answeredType": "noAnswer"}, "answeredType can't be null"),
        ({"answeredType": ""}, "answeredType can't be null"),
        ({"inquiryStartAt": (TODAY - timedelta(days=8)).isoformat()}, "up to 7 days"),
        ({"inquiryStartAt": "2025/01/01"}, "yyyy-MM-dd"),
        ({"pageSize": "51"}, "pageSize"),
        ({"pageNum": "0"}, "pageNum"),
    ],
)
def test_coupang_online_list__invalid_params__400(http, sandbox, coupang_account, overrides, fragment) -> None:
    path = f"{V5}/{coupang_account.vendor_id}/onlineInquiries"
    response = _coupang_get(http, sandbox, coupang_account, path, _list_query(coupang_account.vendor_id, **overrides))
    assert response.status_code == 400
    assert fragment in response.json()["message"]


def test_coupang_online_list__exactly_seven_days__accepted(http, sandbox, coupang_account) -> None:
    path = f"{V5}/{coupang_account.vendor_id}/onlineInquiries"
    query = _list_query(coupang_account.vendor_id, inquiryStartAt=(TODAY - timedelta(days=7)).isoformat())
    assert _coupang_get(http, sandbox, coupang_account, path, query).status_code == 200


def test_coupang_callcenter_list__page_size_max_30__numeric_code(http, sandbox, coupang_account) -> None:
    path = f"{V5}/{coupang_account.vendor_id}/callCenterInquiries"
    params = {
        "vendorId": coupang_account.vendor_id,
        "partnerCounselingStatus": "NONE",
        "inquiryStartAt": TODAY.isoformat(),
        "inquiryEndAt": TODAY.isoformat(),
        "pageNum": "1",
    }
    too_big = _coupang_get(http, sandbox, coupang_account, path, urlencode({**params, "pageSize": "31"}))
    assert too_big.status_code == 400
    ok = _coupang_get(http, sandbox, coupang_account, path, urlencode({**params, "pageSize": "30"}))
    assert ok.status_code == 200 and ok.json()["code"] == 200
    bad_status = _coupang_get(
        http, sandbox, coupang_account, path, urlencode({**params, "pageSize": "30", "partnerCounselingStatus": "ALL"})
    )
    assert bad_status.status_code == 400


def test_coupang_callcenter_single_get__only_own_inquiries(http, sandbox, coupang_account) -> None:
    own = sandbox.store.add_inquiry(COUPANG_CALLCENTER)
    other_vendor = sandbox.store.register_coupang_account(vendor_id="A77777777")
    foreign = sandbox.store.add_inquiry(COUPANG_CALLCENTER, owner=other_vendor.vendor_id)
    ok = _coupang_get(http, sandbox, coupang_account, f"{V5}/callCenterInquiries/{own}", "")
    assert ok.status_code == 200 and ok.json()["data"]["inquiryId"] == int(own)
    assert _coupang_get(http, sandbox, coupang_account, f"{V5}/callCenterInquiries/{foreign}", "").status_code == 404


# --- Coupang replies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload_overrides", "fragment"),
    [
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"replyBy": "stranger"}, "replyBy"),
        ({"vendorId": "A00000000"}, "vendorId"),
    ],
)
def test_coupang_reply__invalid__400_and_not_applied(
    http, sandbox, coupang_account, payload_overrides, fragment
) -> None:
    inquiry = sandbox.store.add_inquiry(COUPANG_ONLINE)
    payload = {
        "content": "답변",
        "vendorId": coupang_account.vendor_id,
        "replyBy": coupang_account.reply_by[0],
        **payload_overrides,
    }
    response = _coupang_post(
        http, sandbox, coupang_account, f"{V4}/{coupang_account.vendor_id}/onlineInquiries/{inquiry}/replies", payload
    )
    assert response.status_code == 400 and fragment in response.json()["message"]
    assert sandbox.store.answers() == []
    assert sandbox.store.stats()["answer_requests"] == 1  # every request is counted, accepted or not


def test_coupang_reply__raw_control_characters_in_json__400(http, sandbox, coupang_account) -> None:
    inquiry = sandbox.store.add_inquiry(COUPANG_ONLINE)
    path = f"{V4}/{coupang_account.vendor_id}/onlineInquiries/{inquiry}/replies"
    auth = coupang_authorization(coupang_account.access_key, coupang_account.secret_key, "POST", path, "")
    body = '{"content": "line1\nline2", "vendorId": "%s", "replyBy": "cs-agent"}' % coupang_account.vendor_id
    response = http.post(sandbox.url + path, data=body.encode(), headers={"Authorization": auth}, timeout=5)
    assert response.status_code == 400 and "Could not read JSON" in response.json()["message"]


def test_coupang_reply__deleted_inquiry__400(http, sandbox, coupang_account) -> None:
    inquiry = sandbox.store.add_inquiry(COUPANG_ONLINE)
    sandbox.store.delete_inquiry(COUPANG_ONLINE, inquiry)
    payload = {"content": "답변", "vendorId": coupang_account.vendor_id, "replyBy": "cs-agent"}
    response = _coupang_post(
        http, sandbox, coupang_account, f"{V4}/{coupang_account.vendor_id}/onlineInquiries/{inquiry}/replies", payload
    )
    assert response.status_code == 400 and "deleted" in response.json()["message"]


def test_coupang_callcenter_reply__requires_matching_parent_answer(http, sandbox, coupang_account) -> None:
    inquiry = sandbox.store.add_inquiry(COUPANG_CALLCENTER)
    parent = sandbox.store.get_inquiry(COUPANG_CALLCENTER, inquiry)["replies"][0]["answerId"]
    path = f"{V4}/{coupang_account.vendor_id}/callCenterInquiries/{inquiry}/replies"
    base = {
        "vendorId": coupang_account.vendor_id,
        "inquiryId": inquiry,
        "content": "확인했습니다.",
        "replyBy": "cs-agent",
    }
    wrong = _coupang_post(http, sandbox, coupang_account, path, {**base, "parentAnswerId": str(parent + 1)})
    assert wrong.status_code == 400 and "can't be answer" in wrong.json()["message"]
    right = _coupang_post(http, sandbox, coupang_account, path, {**base, "parentAnswerId": str(parent)})
    assert right.status_code == 200
    stored = sandbox.store.get_inquiry(COUPANG_CALLCENTER, inquiry)
    assert stored["csPartnerCounselingStatus"] == "answered"
    assert stored["replies"][0]["partnerTransferStatus"] == "answered"
    assert stored["replies"][-1]["answerType"] == "vendor"


# --- Naver ----------------------------------------------------------------------------------------


def _token(http, sandbox, account, **overrides):
    timestamp = int(time.time() * 1000)
    form = {
        "client_id": account.client_id,
        "timestamp": str(timestamp),
        "grant_type": "client_credentials",
        "client_secret_sign": naver_client_secret_sign(account.client_id, account.client_secret, timestamp),
        "type": "SELF",
    }
    form.update(overrides)
    return http.post(sandbox.naver_base_url + "/v1/oauth2/token", data=form, timeout=5)


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


def test_unknown_path__404(http, sandbox) -> None:
    assert http.get(sandbox.url + "/nope", timeout=5).status_code == 404
    assert http.get(sandbox.naver_base_url + "/v1/nope", timeout=5).json()["code"] == "GW.NOT_FOUND"


# --- faults, ledger, control API --------------------------------------------------------------------


def test_faults__scope_answers_leaves_reads_alone(http, sandbox, coupang_account) -> None:
    sandbox.store.set_faults(down=True, scope="answers")
    path = f"{V5}/{coupang_account.vendor_id}/onlineInquiries"
    assert _coupang_get(http, sandbox, coupang_account, path, _list_query(coupang_account.vendor_id)).status_code == 200
    sandbox.store.set_faults(scope="all")
    assert _coupang_get(http, sandbox, coupang_account, path, _list_query(coupang_account.vendor_id)).status_code == 503


def test_faults__invalid_values_rejected() -> None:
    store = SandboxStore()
    for bad in ({"nope": 1}, {"fault_rate": 2}, {"lost_response": "maybe"}, {"down": "yes"}, {"latency_ms": -1}):
        with pytest.raises(ValueError):
            store.set_faults(**bad)


def test_hold_released_without_apply__not_applied(http, sandbox, coupang_account) -> None:
    import threading

    sandbox.store.set_faults(hold_answers="before_apply")
    inquiry = sandbox.store.add_inquiry(COUPANG_ONLINE)
    payload = {"content": "답변", "vendorId": coupang_account.vendor_id, "replyBy": "cs-agent"}
    path = f"{V4}/{coupang_account.vendor_id}/onlineInquiries/{inquiry}/replies"
    statuses = []
    thread = threading.Thread(
        target=lambda: statuses.append(_coupang_post(requests, sandbox, coupang_account, path, payload).status_code)
    )
    thread.start()
    assert sandbox.store.wait_for_held(1)
    assert sandbox.store.release(apply=False) == 1
    thread.join(5)
    assert statuses == [503] and sandbox.store.answers() == []


def test_control_api__round_trip_from_another_process_view(sandbox) -> None:
    control = SandboxControl(sandbox.url)
    assert control.health()
    coupang = control.add_coupang_account(vendor_id="A12121212")
    naver = control.add_naver_account()
    assert coupang["vendor_id"] == "A12121212" and naver["client_secret"].startswith("$2b$04$")
    ids = control.add_inquiries(COUPANG_ONLINE, 5, owner="A12121212", answered_ratio=0)
    explicit = control.add_inquiries(
        NAVER_INQUIRY, items=[{"content": "언제 와요?", "title": "배송", "created_at": "2025-05-05T10:00:00+09:00"}]
    )
    assert len(ids) == 5 and len(explicit) == 1
    assert control.inquiry(NAVER_INQUIRY, explicit[0])["inquiryContent"] == "언제 와요?"
    assert len(control.inquiries(COUPANG_ONLINE)) == 5
    assert control.set_faults(latency_ms=5)["latency_ms"] == 5
    with pytest.raises(SandboxControlError):
        control.set_faults(unknown_fault=1)
    control.answer_elsewhere(NAVER_INQUIRY, explicit[0], "사람 답변")
    assert control.inquiry(NAVER_INQUIRY, explicit[0])["answered"] is True
    assert control.answers() == []  # not via the API: no ledger entry
    assert control.stats()["inquiries"][COUPANG_ONLINE] == 5
    assert control.reset_faults()["latency_ms"] == 0
    assert control.expire_naver_tokens() == 0
    control.reset()
    assert control.stats()["inquiries"][COUPANG_ONLINE] == 0
    assert len(control.accounts()["coupang"]) == 1  # accounts survive a reset


def test_control_api__bad_input__400(http, sandbox) -> None:
    assert http.post(sandbox.control_url + "/inquiries", json={"kind": "NOPE"}, timeout=5).status_code == 400
    assert http.post(sandbox.control_url + "/inquiries", data=b"{not json", timeout=5).status_code == 400
    assert (
        http.post(sandbox.control_url + "/inquiries", json={"kind": COUPANG_ONLINE}, timeout=5).status_code == 400
    )  # no account
    assert (
        http.post(
            sandbox.control_url + "/accounts", json={"market": "NAVER", "client_secret": "plain"}, timeout=5
        ).status_code
        == 400
    )


def test_generated_data__realistic_korean_with_risky_and_answered_items() -> None:
    store = SandboxStore(seed=7)
    store.register_demo_accounts()
    store.add_inquiries(NAVER_QNA, 200, answered_ratio=0.25, risk_ratio=0.1)
    items = store.list_items(NAVER_QNA)
    risky_texts = {text for _intent, _title, text in RISKY}
    assert any(item["question"] in risky_texts for item in items)
    assert 20 < sum(item["answered"] for item in items) < 80
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in item["question"]) for item in items)  # Hangul


def test_generate_naver_secret__valid_and_random() -> None:
    import bcrypt

    first, second = generate_naver_secret(), generate_naver_secret()
    assert first != second and len(first) == 29
    bcrypt.hashpw(b"x", first.encode())
    bcrypt.hashpw(b"x", DEMO_NAVER["client_secret"].encode())


def test_stop__wakes_held_requests_and_closes_connections(sandbox, coupang_account) -> None:
    import threading

    sandbox.store.set_faults(hold_answers="before_apply")
    inquiry = sandbox.store.add_inquiry(COUPANG_ONLINE)
    path = f"{V4}/{coupang_account.vendor_id}/onlineInquiries/{inquiry}/replies"
    payload = {"content": "답변", "vendorId": coupang_account.vendor_id, "replyBy": "cs-agent"}
    thread = threading.Thread(target=lambda: _safe_post(sandbox, coupang_account, path, payload))
    thread.start()
    assert sandbox.store.wait_for_held(1)
    started = time.monotonic()
    sandbox.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 3
    assert sandbox.store.answers() == []


def _safe_post(sandbox, account, path, payload) -> None:
    try:
        _coupang_post(requests, sandbox, account, path, payload)
    except requests.RequestException:
        pass


# --- the management command ---------------------------------------------------------------------------


def test_market_sandbox_command__bad_flags__clear_error() -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="fault-rate"):
        call_command("market_sandbox", "--fault-rate", "2")
    with pytest.raises(CommandError, match="port"):
        call_command("market_sandbox", "--port", "70000")


def test_market_sandbox_command__serves_prints_credentials_and_stops_on_ctrl_c(tmp_path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "market_sandbox", "--port", "0", "--seed-inquiries", "4", "--latency-ms", "1"],
        cwd=root,
        env=env,
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
        assert "listening on http://127.0.0.1:" in output, output
        url = output.split("listening on ")[1].split()[0]
        assert "SANDBOX-ONLY" in output and "--vendor-id A00000001" in output and "--client-id" in output
        stats = SandboxControl(url).stats()
        assert stats["inquiries"][COUPANG_ONLINE] == 4
        assert SandboxControl(url).faults()["latency_ms"] == 1
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "Sandbox stopped" in rest
