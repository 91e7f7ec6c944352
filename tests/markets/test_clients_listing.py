"""Listing: paging, window splitting and parsing for all four kinds, over HTTP against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from markets.clients.types import (
    COUPANG_CALLCENTER,
    COUPANG_ONLINE,
    KST,
    NAVER_INQUIRY,
    NAVER_QNA,
    Malformed,
    MarketResponseError,
    RemoteInquiry,
)

NOW = datetime.now(UTC)


def _requests_for(sandbox, route_name: str) -> list[dict[str, str]]:
    names = {
        "coupang.online.list": "onlineInquiries",
        "coupang.callcenter.list": "/callCenterInquiries",
        "naver.qnas.list": "/contents/qnas",
        "naver.inquiries.list": "/pay-user/inquiries",
    }
    return [
        dict(parse_qsl(entry["query"]))
        for entry in sandbox.store.request_log
        if entry["path"].endswith(names[route_name])
    ]


@pytest.mark.parametrize(
    ("kind", "client_fixture", "route", "page_size"),
    [
        (COUPANG_ONLINE, "coupang_client", "coupang.online.list", 50),
        (COUPANG_CALLCENTER, "coupang_client", "coupang.callcenter.list", 30),
        (NAVER_QNA, "naver_client", "naver.qnas.list", 100),
        (NAVER_INQUIRY, "naver_client", "naver.inquiries.list", 200),
    ],
)
def test_list_inquiries__pages_and_windows__every_item_once(
    request, sandbox, kind, client_fixture, route, page_size
) -> None:
    client = request.getfixturevalue(client_fixture)
    # Given: 130 inquiries spread over 20 days (three Coupang 7-day windows) and small pages
    client.page_sizes[kind] = 10 if kind == NAVER_INQUIRY else 7
    ids = set(sandbox.store.add_inquiries(kind, 130, start=NOW - timedelta(days=20), end=NOW - timedelta(minutes=1)))

    # When
    items = list(client.list_inquiries(kind, NOW - timedelta(days=21), NOW))

    # Then: every inquiry exactly once, all parsed
    assert all(isinstance(item, RemoteInquiry) for item in items)
    assert sorted(item.external_id for item in items) == sorted(ids)
    queries = _requests_for(sandbox, route)
    assert len(queries) >= 130 // client.page_sizes[kind]  # several pages were fetched
    if kind in (COUPANG_ONLINE, COUPANG_CALLCENTER):
        spans = {(q["inquiryStartAt"], q["inquiryEndAt"]) for q in queries}
        assert len(spans) >= 3  # 21 days → at least three ≤7-day windows
        for start, end in spans:
            assert (datetime.fromisoformat(end) - datetime.fromisoformat(start)).days <= 7
    assert page_size == type(client).default_page_sizes()[kind]


@pytest.mark.parametrize("kind", [COUPANG_ONLINE, COUPANG_CALLCENTER])
def test_coupang_list__default_page_sizes_are_the_maxima(sandbox, coupang_client, kind) -> None:
    sandbox.store.add_inquiries(kind, 75, days_back=2)
    items = list(coupang_client.list_inquiries(kind, NOW - timedelta(days=3), NOW))
    assert len(items) == 75
    sizes = {
        q["pageSize"]
        for q in _requests_for(sandbox, "coupang.online.list" if kind == COUPANG_ONLINE else "coupang.callcenter.list")
    }
    assert sizes == {"50" if kind == COUPANG_ONLINE else "30"}


def test_naver_inquiry_list__long_range_split_into_365_day_windows(sandbox, naver_client) -> None:
    sandbox.store.add_inquiry(NAVER_INQUIRY, created_at=NOW - timedelta(days=500))
    sandbox.store.add_inquiry(NAVER_INQUIRY, created_at=NOW - timedelta(days=2))
    items = list(naver_client.list_inquiries(NAVER_INQUIRY, NOW - timedelta(days=600), NOW))
    assert len(items) == 2
    queries = _requests_for(sandbox, "naver.inquiries.list")
    assert len(queries) == 2
    for q in queries:
        span = datetime.fromisoformat(q["endSearchDate"]) - datetime.fromisoformat(q["startSearchDate"])
        assert span.days <= 365
        assert q["size"] == "200"


@pytest.mark.parametrize(("answered", "expected"), [(None, 6), (True, 2), (False, 4)])
@pytest.mark.parametrize("kind", [COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_QNA, NAVER_INQUIRY])
def test_list_inquiries__answered_filter(request, sandbox, kind, answered, expected) -> None:
    client = request.getfixturevalue("coupang_client" if kind.startswith("COUPANG") else "naver_client")
    for index in range(6):
        sandbox.store.add_inquiry(kind, answered=index < 2, created_at=NOW - timedelta(hours=index + 1))
    items = list(client.list_inquiries(kind, NOW - timedelta(days=1), NOW, answered=answered))
    assert len(items) == expected
    if answered is not None:
        assert {item.answered for item in items} == {answered}


def test_coupang_online__normalized_fields(sandbox, coupang_client) -> None:
    created = datetime(2025, 3, 4, 9, 30, 15, tzinfo=KST)
    external_id = sandbox.store.add_inquiry(
        COUPANG_ONLINE,
        created_at=NOW - timedelta(hours=2),
        content="배송 언제 되나요?",
        answered=True,
        answer="내일 출고됩니다.",
    )
    sandbox.store.items[COUPANG_ONLINE][int(external_id)]["inquiryAt"] = created.strftime("%Y-%m-%d %H:%M:%S")
    [item] = list(
        coupang_client.list_inquiries(COUPANG_ONLINE, created - timedelta(days=1), created + timedelta(days=1))
    )
    assert item.kind == COUPANG_ONLINE and item.external_id == external_id
    # Coupang's naive "yyyy-MM-dd HH:mm:ss" is KST
    assert item.created_at == created and item.created_at.tzinfo is not None
    assert item.content == "배송 언제 되나요?"
    assert item.answered is True and item.answer_text == "내일 출고됩니다."
    assert item.product_id and item.reply_context["created_at"]
    assert item.raw["inquiryId"] == int(external_id)


def test_coupang_callcenter__reply_context_and_question(sandbox, coupang_client) -> None:
    external_id = sandbox.store.add_inquiry(
        COUPANG_CALLCENTER, created_at=NOW - timedelta(hours=3), content="교환 원해요"
    )
    stored = sandbox.store.get_inquiry(COUPANG_CALLCENTER, external_id)
    [item] = list(coupang_client.list_inquiries(COUPANG_CALLCENTER, NOW - timedelta(days=1), NOW))
    assert item.answered is False
    assert "교환 원해요" in item.content  # the agent's transfer note is part of the question
    assert item.reply_context["inquiryStatus"] == "progress"
    assert item.reply_context["partnerTransferStatus"] == "requestAnswer"
    assert item.reply_context["parentAnswerId"] == str(stored["replies"][0]["answerId"])
    assert item.order_id == str(stored["orderId"])


def test_naver_items__normalized_fields(sandbox, naver_client) -> None:
    qna_id = sandbox.store.add_inquiry(NAVER_QNA, created_at=NOW - timedelta(hours=1), content="사이즈 문의")
    inq_id = sandbox.store.add_inquiry(
        NAVER_INQUIRY, created_at=NOW - timedelta(hours=1), content="환불 문의", title="환불"
    )
    [qna] = list(naver_client.list_inquiries(NAVER_QNA, NOW - timedelta(days=1), NOW))
    [inquiry] = list(naver_client.list_inquiries(NAVER_INQUIRY, NOW - timedelta(days=1), NOW))
    assert (qna.external_id, qna.content, qna.answered) == (qna_id, "사이즈 문의", False)
    assert qna.buyer_name_masked and "*" in qna.buyer_name_masked
    assert (inquiry.external_id, inquiry.title, inquiry.content) == (inq_id, "환불", "환불 문의")
    assert inquiry.order_id and inquiry.buyer_name_masked and "*" in inquiry.buyer_name_masked
    assert abs(inquiry.created_at - (NOW - timedelta(hours=1))) < timedelta(seconds=1)


def test_list__malformed_item__yielded_as_malformed_and_others_parsed(sandbox, coupang_client) -> None:
    good = sandbox.store.add_inquiry(COUPANG_ONLINE, created_at=NOW - timedelta(hours=1))
    bad = sandbox.store.add_inquiry(COUPANG_ONLINE, created_at=NOW - timedelta(hours=2))
    sandbox.store.items[COUPANG_ONLINE][int(bad)]["content"] = {"not": "text"}
    items = list(coupang_client.list_inquiries(COUPANG_ONLINE, NOW - timedelta(days=1), NOW))
    parsed = [i for i in items if isinstance(i, RemoteInquiry)]
    malformed = [i for i in items if isinstance(i, Malformed)]
    assert [i.external_id for i in parsed] == [good]
    assert len(malformed) == 1 and malformed[0].payload["inquiryId"] == int(bad)
    assert "content" in malformed[0].error


def test_list__unreadable_page__error_carries_the_raw_body(sandbox, coupang_account) -> None:
    # A server answering 200 with HTML: the listing must not look complete.
    from markets.clients.base import MarketClient
    from markets.clients.coupang import CoupangClient
    from markets.clients.ratelimit import NullLimiter
    from tests.markets.conftest import coupang_config_for

    class HtmlOnce(CoupangClient):
        def _transmit(self, prepared):  # the real HTTP exchange, then a corrupted body
            result = MarketClient._transmit(self, prepared)
            result.body = b"<html>gateway says hi</html>"
            return result

    client = HtmlOnce(coupang_config_for(sandbox, coupang_account), NullLimiter())
    seen = []
    with pytest.raises(MarketResponseError) as excinfo:
        for item in client.list_inquiries(COUPANG_ONLINE, NOW - timedelta(days=1), NOW):
            seen.append(item)
    assert seen == []  # the raw page travels with the exception only (stored once by the caller)
    malformed = excinfo.value.malformed
    assert isinstance(malformed, Malformed) and "gateway says hi" in malformed.payload


def test_list__naive_datetime__rejected(coupang_client) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        list(coupang_client.list_inquiries(COUPANG_ONLINE, datetime(2025, 1, 1), datetime(2025, 1, 2)))


def test_list__wrong_kind_for_market__rejected(coupang_client) -> None:
    with pytest.raises(ValueError, match="not an inquiry kind of COUPANG"):
        list(coupang_client.list_inquiries(NAVER_QNA, NOW - timedelta(days=1), NOW))
