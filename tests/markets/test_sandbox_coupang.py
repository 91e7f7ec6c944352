"""The sandbox's Coupang CS routes: authentication, list validation and replies, rejected exactly as the real
gateway rejects them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from markets.clients.coupang import coupang_authorization, coupang_signature, coupang_signed_date
from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE
from tests.markets.sandbox_requests import TODAY, V4, V5, _coupang_get, _coupang_post, _list_query

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
