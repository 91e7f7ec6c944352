"""Coupang WING OPEN API parsing: product Q&A and call-center inquiry list items, pages and the single
call-center GET → ``RemoteInquiry``. Never raises: unreadable items become ``Malformed``.
"""

from __future__ import annotations

from typing import Any

from markets.clients.parsing import (
    UnreadableBody,
    as_id,
    id_list,
    load_object,
    opt_int,
    opt_text,
    parse_market_datetime,
    req_text,
    short_text,
)
from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, Malformed, ParsedPage, RemoteInquiry

_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)

#: ``partnerTransferStatus`` of a transfer Coupang's call centre finished itself: the seller only confirms
#: it (``…/confirms``); there is nothing to answer.
CONFIRM_ONLY_TRANSFER = "transfer"


def _first_id(value: Any) -> str | None:
    """``vendorItemId``/``orderIds`` arrive as a number, a list of numbers, or null."""
    if isinstance(value, list):
        for element in value:
            try:
                return as_id(element)
            except ValueError:
                continue
        return None
    if value is None:
        return None
    try:
        return as_id(value)
    except ValueError:
        return None


def _list_of_dicts(value: Any, name: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list, got {type(value).__name__}")
    return [element for element in value if isinstance(element, dict)]


def parse_coupang_online_item(item: Any) -> RemoteInquiry | Malformed:
    """One ``onlineInquiries`` ``content[]`` element → ``RemoteInquiry`` (or ``Malformed``)."""
    kind = COUPANG_ONLINE
    if not isinstance(item, dict):
        return Malformed(kind, item, f"item must be an object, got {type(item).__name__}")
    try:
        external_id = as_id(item.get("inquiryId"))
        created_at = parse_market_datetime(item.get("inquiryAt"))
        content = req_text(item.get("content"), "content")
        comments = _list_of_dicts(item.get("commentDtoList"), "commentDtoList")
        # "Answered" has no explicit flag: a non-empty comment list means a seller answer exists.
        answered = bool(item.get("commentDtoList"))
        answer_text = None
        for comment in comments:
            if isinstance(comment.get("content"), str):
                answer_text = comment["content"]  # the latest one wins
        return RemoteInquiry(
            kind=kind,
            external_id=external_id,
            created_at=created_at,
            title="",
            content=content,
            product_id=_first_id(item.get("productId")) or _first_id(item.get("sellerProductId")),
            product_name=opt_text(item.get("productName")),
            order_id=_first_id(item.get("orderIds")),
            answered=answered,
            answer_text=answer_text,
            reply_context={"created_at": created_at.isoformat(), "vendorItemId": _first_id(item.get("vendorItemId"))},
            buyer_name_masked=None,  # Coupang only sends a masked e-mail (being removed); not a name
            raw=item,
            order_refs={"order_ids": id_list(item.get("orderIds")), "item_ids": id_list(item.get("vendorItemId"))},
            product_refs=id_list(item.get("productId"), item.get("sellerProductId"), item.get("vendorItemId")),
        )
    except _PARSE_ERRORS as exc:
        return Malformed(kind, item, short_text(exc))


def parse_coupang_callcenter_item(item: Any) -> RemoteInquiry | Malformed:
    """One ``callCenterInquiries`` element → ``RemoteInquiry`` (or ``Malformed``).

    The question is ``content`` plus the call-center agents' transfer notes (``replies`` with
    ``answerType=csAgent``). ``reply_context`` records what a reply needs: ``parentAnswerId`` = the
    ``answerId`` of the agent reply awaiting the seller (``partnerTransferStatus=requestAnswer``).
    """
    kind = COUPANG_CALLCENTER
    if not isinstance(item, dict):
        return Malformed(kind, item, f"item must be an object, got {type(item).__name__}")
    try:
        external_id = as_id(item.get("inquiryId"))
        created_at = parse_market_datetime(item.get("inquiryAt"))
        content = req_text(item.get("content") if item.get("content") is not None else "", "content")
        replies = _list_of_dicts(item.get("replies"), "replies")
        agent_notes = [
            r["content"]
            for r in replies
            if r.get("answerType") == "csAgent" and isinstance(r.get("content"), str) and r["content"].strip()
        ]
        if any("\x00" in note for note in agent_notes):
            raise ValueError("replies[].content contains a NUL character")
        question = "\n\n".join([content, *agent_notes]) if content else "\n\n".join(agent_notes)
        vendor_replies = [r for r in replies if r.get("answerType") == "vendor"]
        counseling = item.get("csPartnerCounselingStatus")
        answer_text = None
        for reply in vendor_replies:
            if isinstance(reply.get("content"), str):
                answer_text = reply["content"]
        waiting = [r for r in replies if r.get("partnerTransferStatus") == "requestAnswer"]
        # Prefer the row flagged needAnswer=true, then the latest one.
        waiting.sort(key=lambda r: (r.get("needAnswer") is True,))
        transfer = waiting[-1] if waiting else None
        agent_rows = [r for r in replies if r.get("answerType") == "csAgent"]
        transfer_status = (
            "requestAnswer" if transfer else (agent_rows[-1].get("partnerTransferStatus") if agent_rows else None)
        )
        # A TRANSFER item was answered by Coupang's call centre; the seller only confirms it (in WING).
        confirm_only = str(transfer_status or "").lower() == CONFIRM_ONLY_TRANSFER
        answered = counseling == "answered" or bool(vendor_replies) or confirm_only
        parent_answer_id = None
        if transfer is not None:
            try:
                parent_answer_id = as_id(transfer.get("answerId"))
            except ValueError:
                parent_answer_id = None
        return RemoteInquiry(
            kind=kind,
            external_id=external_id,
            created_at=created_at,
            title=opt_text(item.get("receiptCategory")) or "",
            content=question,
            product_id=_first_id(item.get("vendorItemId")),
            product_name=opt_text(item.get("itemName")),
            order_id=_first_id(item.get("orderId")),
            answered=answered,
            answer_text=answer_text,
            reply_context={
                "created_at": created_at.isoformat(),
                "inquiryStatus": opt_text(item.get("inquiryStatus")),
                "csPartnerCounselingStatus": opt_text(counseling),
                "partnerTransferStatus": opt_text(transfer_status),
                "parentAnswerId": parent_answer_id,
            },
            buyer_name_masked=None,
            raw=item,
            order_refs={"order_ids": id_list(item.get("orderId")), "item_ids": id_list(item.get("vendorItemId"))},
            product_refs=id_list(item.get("vendorItemId")),
        )
    except _PARSE_ERRORS as exc:
        return Malformed(kind, item, short_text(exc))


_ITEM_PARSERS = {COUPANG_ONLINE: parse_coupang_online_item, COUPANG_CALLCENTER: parse_coupang_callcenter_item}


def code_ok(code: Any) -> bool:
    # The online sample has "200" (string), the call-center sample 200 (number).
    return str(code).strip().upper() in ("200", "SUCCESS", "OK")


def parse_coupang_page(kind: str, body: bytes | str) -> ParsedPage:
    """A list response body → items + paging. Never raises."""
    parse_item = _ITEM_PARSERS[kind]
    try:
        document = load_object(kind, body)
    except UnreadableBody as unreadable:
        return ParsedPage([unreadable.malformed], ok=False, error=unreadable.problem)
    if "code" in document and not code_ok(document.get("code")):
        return ParsedPage(
            [], ok=False, error=f"code={short_text(document.get('code'), 40)}: {short_text(document.get('message'))}"
        )
    data = document.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("content", []), (list, type(None))):
        return ParsedPage(
            [Malformed(kind, document, "response has no data.content list")],
            ok=False,
            error="response has no data.content list",
        )
    items = [parse_item(element) for element in (data.get("content") or [])]
    pagination = data.get("pagination")
    if not isinstance(pagination, dict):
        pagination = {}
    page = opt_int(pagination.get("currentPage"))
    total = opt_int(pagination.get("totalPages"))
    return ParsedPage(items, ok=True, page=page, total_pages=total)


def parse_coupang_online_page(body: bytes | str) -> ParsedPage:
    return parse_coupang_page(COUPANG_ONLINE, body)


def parse_coupang_callcenter_page(body: bytes | str) -> ParsedPage:
    return parse_coupang_page(COUPANG_CALLCENTER, body)


def parse_coupang_callcenter_single(body: bytes | str) -> RemoteInquiry | Malformed:
    """The single call-center GET (``data`` is one object). Never raises."""
    try:
        document = load_object(COUPANG_CALLCENTER, body)
    except UnreadableBody as unreadable:
        return unreadable.malformed
    if not isinstance(document.get("data"), dict):
        return Malformed(COUPANG_CALLCENTER, document, "response has no data object")
    return parse_coupang_callcenter_item(document["data"])
