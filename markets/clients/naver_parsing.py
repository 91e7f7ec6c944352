"""Naver Commerce API parsing: product Q&A and customer inquiry list items and pages → ``RemoteInquiry``.

Never raises: an unreadable item becomes ``Malformed``, an unreadable page a ``ParsedPage`` that is not ok.
"""

from __future__ import annotations

from typing import Any

from markets.clients.parsing import (
    UnreadableBody,
    as_bool,
    as_id,
    id_list,
    load_object,
    mask_name,
    opt_int,
    opt_text,
    parse_market_datetime,
    req_text,
    short_text,
)
from markets.clients.types import NAVER_INQUIRY, NAVER_QNA, Malformed, ParsedPage, RemoteInquiry

_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)


def parse_naver_qna_item(item: Any) -> RemoteInquiry | Malformed:
    """One ``/v1/contents/qnas`` ``contents[]`` element → ``RemoteInquiry`` (or ``Malformed``)."""
    kind = NAVER_QNA
    if not isinstance(item, dict):
        return Malformed(kind, item, f"item must be an object, got {type(item).__name__}")
    try:
        external_id = as_id(item.get("questionId"))
        created_at = parse_market_datetime(item.get("createDate"))
        content = req_text(item.get("question"), "question")
        answer = item.get("answer") if isinstance(item.get("answer"), str) and item.get("answer") else None
        answered = as_bool(item["answered"], "answered") if "answered" in item else answer is not None
        return RemoteInquiry(
            kind=kind,
            external_id=external_id,
            created_at=created_at,
            title="",
            content=content,
            product_id=opt_text(item.get("productId")),
            product_name=opt_text(item.get("productName")),
            order_id=None,
            answered=answered,
            answer_text=answer,
            reply_context={"created_at": created_at.isoformat()},
            buyer_name_masked=opt_text(item.get("maskedWriterId")),
            raw=item,
            product_refs=id_list(item.get("productId")),
        )
    except _PARSE_ERRORS as exc:
        return Malformed(kind, item, short_text(exc))


def parse_naver_inquiry_item(item: Any) -> RemoteInquiry | Malformed:
    """One ``/v1/pay-user/inquiries`` ``content[]`` element → ``RemoteInquiry`` (or ``Malformed``)."""
    kind = NAVER_INQUIRY
    if not isinstance(item, dict):
        return Malformed(kind, item, f"item must be an object, got {type(item).__name__}")
    try:
        external_id = as_id(item.get("inquiryNo"))
        created_at = parse_market_datetime(item.get("inquiryRegistrationDateTime"))
        title = req_text(item.get("title") if item.get("title") is not None else "", "title")
        content = req_text(item.get("inquiryContent"), "inquiryContent")
        answered = as_bool(item.get("answered"), "answered")
        answer = (
            item.get("answerContent")
            if isinstance(item.get("answerContent"), str) and item.get("answerContent")
            else None
        )
        answer_content_id = item.get("answerContentId")
        return RemoteInquiry(
            kind=kind,
            external_id=external_id,
            created_at=created_at,
            title=title,
            content=content,
            product_id=opt_text(item.get("productNo")),
            product_name=opt_text(item.get("productName")),
            order_id=opt_text(item.get("orderId")),
            answered=answered,
            answer_text=answer,
            reply_context={
                "created_at": created_at.isoformat(),
                "category": opt_text(item.get("category")),
                "answerContentId": opt_text(answer_content_id),
            },
            buyer_name_masked=mask_name(item.get("customerName")),
            raw=item,
            order_refs={
                "order_ids": id_list(item.get("orderId")),
                "product_order_ids": id_list(item.get("productOrderIdList")),
            },
            product_refs=id_list(item.get("productNo")),
        )
    except _PARSE_ERRORS as exc:
        return Malformed(kind, item, short_text(exc))


def parse_naver_page(kind: str, body: bytes | str) -> ParsedPage:
    """A list response body → items + paging. Never raises.

    Product Q&A uses the list key ``contents``; customer inquiries use ``content`` (a Spring page
    whose ``number`` is 0-based while the request's ``page`` is 1-based).
    """
    list_key, parse_item = (
        ("contents", parse_naver_qna_item) if kind == NAVER_QNA else ("content", parse_naver_inquiry_item)
    )
    try:
        document = load_object(kind, body)
    except UnreadableBody as unreadable:
        return ParsedPage([unreadable.malformed], ok=False, error=unreadable.problem)
    elements = document.get(list_key)
    if not isinstance(elements, list):
        if elements is None and list_key not in document and "code" in document:
            return ParsedPage(
                [],
                ok=False,
                error=f"code={short_text(document.get('code'), 40)}: {short_text(document.get('message'))}",
            )
        return ParsedPage(
            [Malformed(kind, document, f"response has no {list_key} list")],
            ok=False,
            error=f"response has no {list_key} list",
        )
    items = [parse_item(element) for element in elements]
    last = document.get("last") if isinstance(document.get("last"), bool) else None
    if kind == NAVER_QNA:
        page = opt_int(document.get("page"))
    else:
        number = opt_int(document.get("number"))
        page = number + 1 if number is not None else None
    return ParsedPage(items, ok=True, page=page, total_pages=opt_int(document.get("totalPages")), last=last)


def parse_naver_qna_page(body: bytes | str) -> ParsedPage:
    return parse_naver_page(NAVER_QNA, body)


def parse_naver_inquiry_page(body: bytes | str) -> ParsedPage:
    return parse_naver_page(NAVER_INQUIRY, body)
