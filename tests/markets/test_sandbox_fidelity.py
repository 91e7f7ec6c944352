"""The sandbox against the documentation (research/market-apis.md), point by point: who may reply on
Coupang, the call-center confirmation of TRANSFERs and the documented refusal of a repeat reply, Naver's
answer update and trace ids, the documented list filters, empty pages and the Bearer scheme."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox.generator import coupang_time
from markets.sandbox.store import SandboxStore
from tests.markets.sandbox_requests import TODAY, V4, V5, _coupang_get, _coupang_post, _list_query, _token

NOT_AWAITING = "The inquiry can't be answer. It can do only inquiryStatus:progress, partnerTransferStatus:requestAnswer"
CLOSED = "This inquiry has closed. -522 (상담이 종료된 문의입니다 - 522)"
RECENT = datetime.now(UTC) - timedelta(hours=2)


def _callcenter_list(http, sandbox, account, **overrides: str):
    params = {
        "vendorId": account.vendor_id,
        "partnerCounselingStatus": "NONE",
        "inquiryStartAt": (TODAY - timedelta(days=2)).isoformat(),
        "inquiryEndAt": TODAY.isoformat(),
        "pageNum": "1",
        "pageSize": "30",
        **overrides,
    }
    return _coupang_get(http, sandbox, account, f"{V5}/{account.vendor_id}/callCenterInquiries", urlencode(params))


def _callcenter_reply(http, sandbox, account, inquiry: str, **overrides):
    parent = sandbox.store.get_inquiry(COUPANG_CALLCENTER, inquiry)["replies"][0]["answerId"]
    payload = {
        "vendorId": account.vendor_id,
        "inquiryId": inquiry,
        "content": "확인했습니다.",
        "replyBy": "cs-agent",
        "parentAnswerId": str(parent),
        **overrides,
    }
    return _coupang_post(
        http, sandbox, account, f"{V4}/{account.vendor_id}/callCenterInquiries/{inquiry}/replies", payload
    )


def _confirm(http, sandbox, account, inquiry: str, payload=None):
    path = f"{V4}/{account.vendor_id}/callCenterInquiries/{inquiry}/confirms"
    return _coupang_post(http, sandbox, account, path, {"confirmBy": "cs-agent"} if payload is None else payload)


def _ids(response) -> set[str]:
    return {str(item["inquiryId"]) for item in response.json()["data"]["content"]}


# --- Coupang: who replies, and the repeat reply --------------------------------------------------


def test_coupang_reply__reply_by_the_vendor_id__accepted(http, sandbox, coupang_account) -> None:
    online = sandbox.store.add_inquiry(COUPANG_ONLINE)
    payload = {"content": "답변", "vendorId": coupang_account.vendor_id, "replyBy": coupang_account.vendor_id}
    response = _coupang_post(
        http, sandbox, coupang_account, f"{V4}/{coupang_account.vendor_id}/onlineInquiries/{online}/replies", payload
    )
    assert response.status_code == 200, response.text
    callcenter = sandbox.store.add_inquiry(COUPANG_CALLCENTER, created_at=RECENT)
    assert (
        _callcenter_reply(http, sandbox, coupang_account, callcenter, replyBy=coupang_account.vendor_id).status_code
        == 200
    )
    assert len(sandbox.store.answers()) == 2
    # anyone else is still refused, with the documented text
    other = sandbox.store.add_inquiry(COUPANG_ONLINE)
    refused = _coupang_post(
        http,
        sandbox,
        coupang_account,
        f"{V4}/{coupang_account.vendor_id}/onlineInquiries/{other}/replies",
        {**payload, "replyBy": "A99999999"},
    )
    assert refused.status_code == 400 and "wing ID or vendorId" in refused.json()["message"]


@pytest.mark.parametrize("answered_by", ["api", "wing"])
def test_coupang_callcenter_reply__repeat__documented_400_and_not_applied(
    http, sandbox, coupang_account, answered_by
) -> None:
    inquiry = sandbox.store.add_inquiry(COUPANG_CALLCENTER, created_at=RECENT)
    if answered_by == "api":
        assert _callcenter_reply(http, sandbox, coupang_account, inquiry).status_code == 200
    else:
        sandbox.store.mark_answered_elsewhere(COUPANG_CALLCENTER, inquiry, "WING에서 답변했습니다.")
    before = len(sandbox.store.answers())

    again = _callcenter_reply(http, sandbox, coupang_account, inquiry, content="두 번째 답변")

    assert again.status_code == 400
    assert again.json() == {"code": 400, "message": NOT_AWAITING, "data": None}
    assert len(sandbox.store.answers()) == before
    assert (
        sum(r["answerType"] == "vendor" for r in sandbox.store.get_inquiry(COUPANG_CALLCENTER, inquiry)["replies"]) == 1
    )


# --- Coupang: TRANSFER and its confirmation ------------------------------------------------------


def test_coupang_transfer__listed_under_transfer_only__confirmed_once(http, sandbox, coupang_account) -> None:
    transfer = sandbox.store.add_inquiry(COUPANG_CALLCENTER, created_at=RECENT, transfer=True)
    waiting = sandbox.store.add_inquiry(COUPANG_CALLCENTER, created_at=RECENT)
    assert _ids(_callcenter_list(http, sandbox, coupang_account, partnerCounselingStatus="TRANSFER")) == {transfer}
    assert _ids(_callcenter_list(http, sandbox, coupang_account, partnerCounselingStatus="NO_ANSWER")) == {waiting}
    # a TRANSFER is confirmed, never answered
    assert _callcenter_reply(http, sandbox, coupang_account, transfer).json()["message"] == NOT_AWAITING

    confirmed = _confirm(http, sandbox, coupang_account, transfer)

    assert confirmed.status_code == 200 and confirmed.json() == {"code": "200", "message": "OK"}
    stored = sandbox.store.get_inquiry(COUPANG_CALLCENTER, transfer)
    assert (stored["inquiryStatus"], stored["csPartnerCounselingStatus"]) == ("complete", "answered")
    assert _ids(_callcenter_list(http, sandbox, coupang_account, partnerCounselingStatus="TRANSFER")) == set()
    again = _confirm(http, sandbox, coupang_account, transfer)
    assert again.status_code == 400 and again.json()["message"] == CLOSED
    assert sandbox.store.answers() == []  # a confirmation is not an answer


def test_coupang_confirm__not_a_transfer_or_too_late__documented_400s(http, sandbox, coupang_account) -> None:
    waiting = sandbox.store.add_inquiry(COUPANG_CALLCENTER, created_at=RECENT)
    refused = _confirm(http, sandbox, coupang_account, waiting)
    assert refused.status_code == 400 and refused.json()["message"] == NOT_AWAITING
    late = sandbox.store.add_inquiry(COUPANG_CALLCENTER, created_at=RECENT, transfer=True)
    sandbox.store.items[COUPANG_CALLCENTER][int(late)]["replies"][0]["replyAt"] = coupang_time(
        RECENT - timedelta(hours=23)
    )
    assert (
        _confirm(http, sandbox, coupang_account, late).json()["message"] == CLOSED
    )  # more than 24 h since the transfer
    assert _confirm(http, sandbox, coupang_account, "1015999999").status_code == 400
    no_body = sandbox.store.add_inquiry(COUPANG_CALLCENTER, created_at=RECENT, transfer=True)
    assert _confirm(http, sandbox, coupang_account, no_body, payload={}).status_code == 200  # confirmBy is optional


def test_generated_data__some_open_callcenter_inquiries_are_transfers() -> None:
    store = SandboxStore(seed=3)
    store.register_demo_accounts()
    store.add_inquiries(COUPANG_CALLCENTER, 300, answered_ratio=0.2, transfer_ratio=0.1)
    statuses = [item["csPartnerCounselingStatus"] for item in store.list_items(COUPANG_CALLCENTER)]
    assert 10 < statuses.count("transfer") < 45 and statuses.count("requestAnswer") > 150
    # … and none unless asked for (late and backdated items stay answerable)
    store.add_inquiries(COUPANG_CALLCENTER, 100, answered_ratio=0.0)
    assert [i["csPartnerCounselingStatus"] for i in store.list_items(COUPANG_CALLCENTER)].count(
        "transfer"
    ) == statuses.count("transfer")


# --- Coupang: documented list filters --------------------------------------------------------------


def test_coupang_online_list__vendor_item_id_filter(http, sandbox, coupang_account) -> None:
    first = sandbox.store.add_inquiry(COUPANG_ONLINE, created_at=RECENT, vendorItemId=85012345001)
    sandbox.store.add_inquiry(COUPANG_ONLINE, created_at=RECENT, vendorItemId=85012345002)
    path = f"{V5}/{coupang_account.vendor_id}/onlineInquiries"
    filtered = _coupang_get(
        http, sandbox, coupang_account, path, _list_query(coupang_account.vendor_id, vendorItemId="85012345001")
    )
    assert filtered.status_code == 200 and _ids(filtered) == {first}
    assert filtered.json()["data"]["pagination"]["totalElements"] == 1
    bad = _coupang_get(http, sandbox, coupang_account, path, _list_query(coupang_account.vendor_id, vendorItemId="x1"))
    assert bad.status_code == 400


def test_coupang_callcenter_list__order_id_and_vendor_item_id_filters(http, sandbox, coupang_account) -> None:
    first = sandbox.store.add_inquiry(
        COUPANG_CALLCENTER, created_at=RECENT, orderId=31000000000001, vendorItemId=[85012345001]
    )
    second = sandbox.store.add_inquiry(
        COUPANG_CALLCENTER, created_at=RECENT, orderId=31000000000002, vendorItemId=[85012345002]
    )
    assert _ids(_callcenter_list(http, sandbox, coupang_account, orderId="31000000000002")) == {second}
    assert _ids(_callcenter_list(http, sandbox, coupang_account, vendorItemId="85012345001")) == {first}
    assert (
        _ids(_callcenter_list(http, sandbox, coupang_account, orderId="31000000000001", vendorItemId="85012345002"))
        == set()
    )
    assert _callcenter_list(http, sandbox, coupang_account, orderId="abc").status_code == 400


# --- empty pages -----------------------------------------------------------------------------------


def test_empty_pages__no_pages_at_all(http, sandbox, coupang_account, naver_account) -> None:
    # The documented samples of an empty result (Naver's Spring pages: totalElements 0, totalPages 0,
    # last true) and a page count of ceil(total / size) everywhere: nothing found is zero pages.
    online = _coupang_get(
        http,
        sandbox,
        coupang_account,
        f"{V5}/{coupang_account.vendor_id}/onlineInquiries",
        _list_query(coupang_account.vendor_id),
    )
    assert online.json()["data"] == {
        "content": [],
        "pagination": {"currentPage": 1, "totalPages": 0, "totalElements": 0, "countPerPage": 50},
    }
    assert _callcenter_list(http, sandbox, coupang_account).json()["data"]["pagination"]["totalPages"] == 0
    headers = {"Authorization": f"Bearer {_token(http, sandbox, naver_account).json()['access_token']}"}
    qnas = http.get(
        sandbox.naver_base_url + "/v1/contents/qnas",
        headers=headers,
        timeout=5,
        params={"fromDate": "2025-01-01T00:00:00.000+09:00", "toDate": "2025-01-02T00:00:00.000+09:00"},
    ).json()
    assert (qnas["contents"], qnas["totalElements"], qnas["totalPages"], qnas["first"], qnas["last"]) == (
        [],
        0,
        0,
        True,
        True,
    )
    inquiries = http.get(
        sandbox.naver_base_url + "/v1/pay-user/inquiries",
        headers=headers,
        timeout=5,
        params={"startSearchDate": "2025-01-01", "endSearchDate": "2025-01-02"},
    ).json()
    assert (inquiries["content"], inquiries["totalPages"], inquiries["last"], inquiries["empty"]) == ([], 0, True, True)


def test_empty_window__clients_stop_after_one_page(sandbox, coupang_client, naver_client) -> None:
    now = datetime.now(UTC)
    for client, kind in (
        (coupang_client, COUPANG_CALLCENTER),
        (naver_client, NAVER_QNA),
        (naver_client, NAVER_INQUIRY),
    ):
        before = sandbox.store.stats()["requests_total"]
        assert list(client.list_inquiries(kind, now - timedelta(hours=1), now)) == []
        assert sandbox.store.stats()["requests_total"] - before <= 2  # one page per window (+ Naver's token once)


# --- Naver: answer update, trace ids, the Bearer scheme ------------------------------------------


def _naver_headers(http, sandbox, naver_account, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {_token(http, sandbox, naver_account).json()['access_token']}"}


def test_naver_answer_update__replaces_the_answer_with_its_id(http, sandbox, naver_account) -> None:
    headers = _naver_headers(http, sandbox, naver_account)
    inquiry = sandbox.store.add_inquiry(NAVER_INQUIRY)
    base = f"{sandbox.naver_base_url}/v1/pay-merchant/inquiries/{inquiry}/answer"
    posted = http.post(base, json={"answerComment": "첫 답변"}, headers=headers, timeout=5).json()
    comment = posted["data"]["inquiryCommentNo"]

    updated = http.put(
        f"{base}/{comment}", json={"answerComment": "고친 답변", "answerTemplateId": "7"}, headers=headers, timeout=5
    )

    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["data"] == {"inquiryNo": int(inquiry), "inquiryCommentNo": comment}
    assert body["traceId"] == updated.headers["GNCP-GW-Trace-ID"] and body["timestamp"]
    stored = sandbox.store.get_inquiry(NAVER_INQUIRY, inquiry)
    assert (stored["answerContent"], stored["answerContentId"], stored["answered"]) == ("고친 답변", comment, True)
    assert [(r.text, r.overwrote) for r in sandbox.store.answers(NAVER_INQUIRY, inquiry)] == [
        ("첫 답변", False),
        ("고친 답변", True),
    ]


def test_naver_answer_update__documented_errors(http, sandbox, naver_account) -> None:
    headers = _naver_headers(http, sandbox, naver_account)
    unanswered = sandbox.store.add_inquiry(NAVER_INQUIRY)
    answered = sandbox.store.add_inquiry(NAVER_INQUIRY, answered=True)
    answer_id = sandbox.store.get_inquiry(NAVER_INQUIRY, answered)["answerContentId"]
    url = f"{sandbox.naver_base_url}/v1/pay-merchant/inquiries/{{}}/answer/{{}}"
    cases = [
        ((answered, answer_id + 1), {"answerComment": "x"}, "ERR-NC-101001"),  # not this inquiry's answer
        ((unanswered, answer_id), {"answerComment": "x"}, "ERR-NC-101001"),  # nothing to update
        (("799999999", answer_id), {"answerComment": "x"}, "ERR-NC-101004"),
        ((answered, answer_id), {"answerContent": "x"}, "ERR-NC-101001"),
    ]  # the read field's name
    for ids, payload, code in cases:
        response = http.put(url.format(*ids), json=payload, headers=headers, timeout=5)
        assert (response.status_code, response.json()["code"]) == (400, code)
        assert response.json()["traceId"] == response.headers["GNCP-GW-Trace-ID"]
    assert sandbox.store.answers() == []


def test_naver_bodies__carry_the_trace_id(http, sandbox, naver_account) -> None:
    headers = _naver_headers(http, sandbox, naver_account)
    inquiry = sandbox.store.add_inquiry(NAVER_INQUIRY)
    responses = [
        http.post(
            f"{sandbox.naver_base_url}/v1/pay-merchant/inquiries/{inquiry}/answer",
            json={"answerComment": "답변"},
            headers=headers,
            timeout=5,
        ),  # success
        http.get(
            sandbox.naver_base_url + "/v1/pay-user/inquiries",
            timeout=5,
            params={"startSearchDate": "2025-01-01", "endSearchDate": "2025-01-02"},
        ),  # 401 GW.AUTHN
        http.get(
            sandbox.naver_base_url + "/v1/pay-user/inquiries",
            headers=headers,
            timeout=5,
            params={"startSearchDate": "2025-01-02", "endSearchDate": "2025-01-01"},
        ),  # 400 4002
        http.get(sandbox.naver_base_url + "/v1/nope", headers=headers, timeout=5),  # 404 GW.NOT_FOUND
        http.delete(
            f"{sandbox.naver_base_url}/v1/pay-merchant/inquiries/{inquiry}/answer", headers=headers, timeout=5
        ),  # 405
    ]
    assert [r.status_code for r in responses] == [200, 401, 400, 404, 405]
    for response in responses:
        body = response.json()
        assert body["traceId"] == response.headers["GNCP-GW-Trace-ID"] and body["timestamp"], body
    assert [r.json()["code"] for r in responses[1:]] == ["GW.AUTHN", "4002", "GW.NOT_FOUND", "METHOD_NOT_ALLOWED"]


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_naver_bearer_scheme__any_case(http, sandbox, naver_account, scheme) -> None:
    response = http.get(
        sandbox.naver_base_url + "/v1/contents/qnas",
        headers=_naver_headers(http, sandbox, naver_account, scheme),
        params={"fromDate": "2025-01-01T00:00:00.000+09:00", "toDate": "2025-01-02T00:00:00.000+09:00"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    unknown = http.get(
        sandbox.naver_base_url + "/v1/contents/qnas",
        headers={"Authorization": f"{scheme} nope"},
        timeout=5,
        params={"fromDate": "2025-01-01T00:00:00.000+09:00", "toDate": "2025-01-02T00:00:00.000+09:00"},
    )
    assert unknown.status_code == 401
