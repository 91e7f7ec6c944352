"""Property tests: arbitrary, mutated and truncated payloads never crash the parsers, and every item
ends up either parsed or Malformed (nothing silently dropped)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from markets.clients.coupang_parsing import (
    parse_coupang_callcenter_item,
    parse_coupang_callcenter_single,
    parse_coupang_online_item,
    parse_coupang_page,
)
from markets.clients.naver_parsing import parse_naver_inquiry_item, parse_naver_page, parse_naver_qna_item
from markets.clients.types import (
    COUPANG_CALLCENTER,
    COUPANG_ONLINE,
    NAVER_INQUIRY,
    NAVER_QNA,
    Malformed,
    ParsedPage,
    RemoteInquiry,
)
from markets.sandbox import generator
from markets.sandbox.inquiry_store import public_item

ITEM_PARSERS = {
    COUPANG_ONLINE: parse_coupang_online_item,
    COUPANG_CALLCENTER: parse_coupang_callcenter_item,
    NAVER_QNA: parse_naver_qna_item,
    NAVER_INQUIRY: parse_naver_inquiry_item,
}
KINDS = list(ITEM_PARSERS)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=15,
)
# Values a marketplace might plausibly put in a field, including wrong types and odd timestamps.
field_values = json_values | st.sampled_from(
    [
        "2025-13-40 25:61:61",
        "2025-01-01 00:00:00",
        "0001-01-01T00:00:00+09:00",
        "9999-12-31T23:59:59-12:00",
        "2025-01-01T00:00:00.000Z",
        "",
        "  ",
        "a\x00b",
        "12345",
        "-1",
        "true",
        "1e5",
    ]
)


def _valid_item(kind: str, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    when = generator.random_created_at(rng, days_back=5, now=now)
    answered = rng.random() < 0.5
    if kind == COUPANG_ONLINE:
        item = generator.coupang_online_item(rng, inquiry_id=seed + 1, created_at=when, answered=answered, comment_id=9)
    elif kind == COUPANG_CALLCENTER:
        item = generator.coupang_callcenter_item(
            rng, inquiry_id=seed + 1, created_at=when, answered=answered, answer_ids=(7, 8)
        )
    elif kind == NAVER_QNA:
        item = generator.naver_qna_item(rng, question_id=seed + 1, created_at=when, answered=answered)
    else:
        item = generator.naver_inquiry_item(rng, inquiry_no=seed + 1, created_at=when, answered=answered, comment_no=9)
    return public_item(item)


@st.composite
def mutated_items(draw: st.DrawFn, kind: str) -> dict[str, Any] | Any:
    item = _valid_item(kind, draw(st.integers(min_value=0, max_value=10_000)))
    keys = sorted(item)
    for key in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
        if draw(st.booleans()):
            del item[key]
        else:
            item[key] = draw(field_values)
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(json_values)  # sometimes not an item at all
    return item


def _check_item_result(kind: str, payload: Any, result: Any) -> None:
    assert isinstance(result, (RemoteInquiry, Malformed))
    assert result.kind == kind
    if isinstance(result, Malformed):
        assert result.payload is payload and isinstance(result.error, str) and result.error
        return
    assert isinstance(result.external_id, str) and result.external_id.lstrip("-").isdigit()
    assert result.created_at.tzinfo is not None and result.created_at.utcoffset() is not None
    assert isinstance(result.content, str) and "\x00" not in result.content
    assert isinstance(result.title, str)
    assert isinstance(result.answered, bool)
    assert result.answer_text is None or isinstance(result.answer_text, str)
    assert isinstance(result.reply_context, dict) and "created_at" in result.reply_context
    json.dumps(result.reply_context)  # storable in a JSONField
    for optional in (result.product_id, result.product_name, result.order_id, result.buyer_name_masked):
        assert optional is None or isinstance(optional, str)
    assert result.raw is payload


def _page_body(kind: str, elements: list[Any]) -> dict[str, Any]:
    if kind in (COUPANG_ONLINE, COUPANG_CALLCENTER):
        return {
            "code": "200" if kind == COUPANG_ONLINE else 200,
            "message": "OK",
            "data": {
                "content": elements,
                "pagination": {"currentPage": 1, "totalPages": 1, "totalElements": len(elements), "countPerPage": 50},
            },
        }
    key = "contents" if kind == NAVER_QNA else "content"
    return {key: elements, "page": 1, "number": 0, "totalPages": 1, "last": True}


def _parse_page(kind: str, body: bytes | str) -> ParsedPage:
    if kind in (COUPANG_ONLINE, COUPANG_CALLCENTER):
        return parse_coupang_page(kind, body)
    return parse_naver_page(kind, body)


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(kind=st.sampled_from(KINDS), payload=json_values)
def test_item_parsers__arbitrary_json__never_raise(kind: str, payload: Any) -> None:
    _check_item_result(kind, payload, ITEM_PARSERS[kind](payload))


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_item_parsers__mutated_real_items__parsed_or_malformed(data: st.DataObject, kind: str) -> None:
    payload = data.draw(mutated_items(kind))
    _check_item_result(kind, payload, ITEM_PARSERS[kind](payload))


@SETTINGS
@given(kind=st.sampled_from(KINDS), seed=st.integers(min_value=0, max_value=10_000))
def test_item_parsers__generated_items__always_parse(kind: str, seed: int) -> None:
    payload = _valid_item(kind, seed)
    result = ITEM_PARSERS[kind](payload)
    assert isinstance(result, RemoteInquiry), result
    _check_item_result(kind, payload, result)


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(KINDS), count=st.integers(min_value=0, max_value=6))
def test_page_parsers__every_item_accounted_for(data: st.DataObject, kind: str, count: int) -> None:
    elements = [data.draw(mutated_items(kind)) for _ in range(count)]
    page = _parse_page(kind, json.dumps(_page_body(kind, elements)))
    assert page.ok
    assert len(page.items) == count  # one result per element: parsed or Malformed, never dropped
    for element, result in zip(elements, page.items, strict=True):
        assert result.raw is not None if isinstance(result, RemoteInquiry) else result.payload == element


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(KINDS), count=st.integers(min_value=1, max_value=4))
def test_page_parsers__truncated_json__malformed_page_not_exception(data: st.DataObject, kind: str, count: int) -> None:
    body = json.dumps(_page_body(kind, [_valid_item(kind, i) for i in range(count)]), ensure_ascii=False)
    cut = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    page = _parse_page(kind, body[:cut])
    assert not page.ok and page.error
    assert len(page.items) == 1 and isinstance(page.items[0], Malformed)
    assert page.items[0].payload == body[:cut]  # the raw text is kept for a person


@SETTINGS
@given(kind=st.sampled_from(KINDS), body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_page_parsers__arbitrary_bytes__never_raise(kind: str, body: bytes) -> None:
    page = _parse_page(kind, body)
    assert isinstance(page, ParsedPage)
    assert all(isinstance(item, (RemoteInquiry, Malformed)) for item in page.items)
    if not page.ok:
        assert page.error


@SETTINGS
@given(kind=st.sampled_from(KINDS), document=json_values)
def test_page_parsers__arbitrary_json_documents__never_raise(kind: str, document: Any) -> None:
    page = _parse_page(kind, json.dumps(document))
    assert all(isinstance(item, (RemoteInquiry, Malformed)) for item in page.items)
    assert page.ok or page.error


@SETTINGS
@given(body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps({"code": 200, "data": v}).encode()))
def test_callcenter_single__never_raises(body: bytes) -> None:
    assert isinstance(parse_coupang_callcenter_single(body), (RemoteInquiry, Malformed))


def test_page_parsers__deeply_nested_json__malformed_not_recursion_error() -> None:
    body = "[" * 100_000 + "]" * 100_000
    for kind in KINDS:
        page = _parse_page(kind, body)
        assert not page.ok
