"""Coupang WING OPEN API client: product Q&A (onlineInquiries) and call-center inquiries.

Spec: research/market-apis.md §1. Every request carries a fresh CEA HMAC-SHA256 signature over
``signed-date + METHOD + path + query``; the query string is built once with ``urlencode`` and the
identical string is both signed and sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from markets.clients.base import MarketClient, lookup_window
from markets.clients.coupang_orders import CoupangOrderReads
from markets.clients.http_client import Endpoint, _Prepared
from markets.clients.parsing import (
    answer_problem,
    as_id,
    date_windows,
    id_list,
    kst_date,
    load_json,
    opt_int,
    opt_text,
    parse_market_datetime,
    raw_preview,
    req_text,
    short_text,
)
from markets.clients.ratelimit import COUPANG_BURST, COUPANG_RATE
from markets.clients.transport import HttpResult
from markets.clients.types import (
    COUPANG_CALLCENTER,
    COUPANG_ONLINE,
    MARKET_COUPANG,
    LookupResult,
    Malformed,
    MarketError,
    MarketRequestError,
    ParsedPage,
    RemoteInquiry,
    SendOutcome,
    SendResult,
)

API_V4 = "/v2/providers/openapi/apis/api/v4/vendors"
API_V5 = "/v2/providers/openapi/apis/api/v5/vendors"

#: ``inquiryEndAt - inquiryStartAt <= 7 days``; 6 keeps every window at 7 calendar days inclusive,
#: which is within the limit however the gateway counts the end day.
MAX_WINDOW_SPAN_DAYS = 6
ONLINE_PAGE_SIZE = 50
CALLCENTER_PAGE_SIZE = 30
LOOKUP_FALLBACK_DAYS = 30

_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)

# Coupang documents no specific text for a second product Q&A answer; match the usual wordings (EN/KO).
_ALREADY_ANSWERED_RE = re.compile(r"already\s+(been\s+)?answer|already\s+repl|이미\s*답변|중복\s*답변|duplicate", re.I)
#: The documented 400 of a call-center reply to an inquiry that no longer awaits the seller: answered
#: already (in WING, or by an earlier attempt of ours) or closed by Coupang. Whose answer it is, if any,
#: is settled by looking the inquiry up, like every other "already answered".
CALLCENTER_NOT_AWAITING = (
    "The inquiry can't be answer. It can do only inquiryStatus:progress, partnerTransferStatus:requestAnswer"
)
_NOT_AWAITING_MARK = "can't be answer"
#: ``partnerTransferStatus`` of a transfer Coupang's call centre finished itself: the seller only confirms
#: it (``…/confirms``); there is nothing to answer.
CONFIRM_ONLY_TRANSFER = "transfer"


# --- signing -----------------------------------------------------------------------------------


def coupang_signed_date(now: datetime | None = None) -> str:
    """UTC time as ``yyMMdd'T'HHmmss'Z'`` (e.g. ``240101T000000Z``)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.strftime("%y%m%dT%H%M%SZ")


def coupang_signature(secret_key: str, signed_date: str, method: str, path: str, query: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``signed_date + METHOD + path + query`` (query without '?')."""
    message = f"{signed_date}{method.upper()}{path}{query}"
    return hmac.new(secret_key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def coupang_authorization(
    access_key: str, secret_key: str, method: str, path: str, query: str = "", signed_date: str | None = None
) -> str:
    """The ``Authorization`` header value for one request."""
    signed_date = signed_date or coupang_signed_date()
    signature = coupang_signature(secret_key, signed_date, method, path, query)
    return f"CEA algorithm=HmacSHA256, access-key={access_key}, signed-date={signed_date}, signature={signature}"


# --- parsing -----------------------------------------------------------------------------------


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


def _code_ok(code: Any) -> bool:
    # The online sample has "200" (string), the call-center sample 200 (number).
    return str(code).strip().upper() in ("200", "SUCCESS", "OK")


def parse_coupang_page(kind: str, body: bytes | str) -> ParsedPage:
    """A list response body → items + paging. Never raises."""
    parse_item = _ITEM_PARSERS[kind]
    try:
        document = load_json(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return ParsedPage(
            [Malformed(kind, raw_preview(body), f"response is not JSON: {short_text(exc, 120)}")],
            ok=False,
            error="response is not JSON",
        )
    if not isinstance(document, dict):
        return ParsedPage(
            [Malformed(kind, document, "response is not a JSON object")],
            ok=False,
            error="response is not a JSON object",
        )
    if "code" in document and not _code_ok(document.get("code")):
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
        document = load_json(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return Malformed(COUPANG_CALLCENTER, raw_preview(body), f"response is not JSON: {short_text(exc, 120)}")
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        return Malformed(COUPANG_CALLCENTER, document, "response has no data object")
    return parse_coupang_callcenter_item(document["data"])


# --- client ------------------------------------------------------------------------------------


class CoupangClient(CoupangOrderReads, MarketClient):
    market_code = MARKET_COUPANG
    kinds = (COUPANG_ONLINE, COUPANG_CALLCENTER)

    @classmethod
    def default_page_sizes(cls) -> dict[str, int]:
        return {COUPANG_ONLINE: ONLINE_PAGE_SIZE, COUPANG_CALLCENTER: CALLCENTER_PAGE_SIZE}

    # -- hooks --

    def _limit_key(self, endpoint: Endpoint) -> str:
        # Coupang counts every API together per vendorId.
        return self.config.limiter_scope

    #: (calls per second, burst) per vendor; Coupang's limit is 10/s, so stay under it
    rate: tuple[float, int] = (COUPANG_RATE, COUPANG_BURST)

    def _rate_for(self, key: str) -> tuple[float, int]:
        return self.rate

    def _authorize(self, prepared: _Prepared, *, force_refresh: bool = False) -> None:
        # A new signed-date on every attempt: a stale one is rejected ("Specified signature is expired.").
        prepared.headers["Authorization"] = coupang_authorization(
            self.config.access_key, self.config.secret_key, prepared.method, prepared.path, prepared.query
        )
        prepared.headers["X-Requested-By"] = self.config.vendor_id
        if prepared.body is not None:
            prepared.headers["Content-Type"] = "application/json;charset=UTF-8"

    def _error_message(self, result: HttpResult) -> str:
        document = result.json_or_none()
        if isinstance(document, dict):
            message = document.get("message") or document.get("errorMessage") or ""
            code = document.get("code")
            return short_text(f"{message}" + (f" (code {code})" if code not in (None, "") else ""))
        text = result.body[:2000].decode("utf-8", "replace")
        if "Access Denied" in text:
            return "Access Denied (IP not allowed, or a temporary block after too many errors)"
        return short_text(text, 200) or "(empty body)"

    def _is_already_answered(self, kind: str, result: HttpResult) -> bool:
        if result.status != 400:
            return False
        document = result.json_or_none()
        message = document.get("message") if isinstance(document, dict) else None
        if not isinstance(message, str):
            return False
        if kind == COUPANG_CALLCENTER and _NOT_AWAITING_MARK in message.lower():
            return True
        return bool(_ALREADY_ANSWERED_RE.search(message))

    def _remote_ref(self, kind: str, result: HttpResult) -> str | None:
        return None  # the reply response carries no id

    def _body_error_on_success(self, result: HttpResult) -> str | None:
        document = result.json_or_none()
        if isinstance(document, dict) and "code" in document and not _code_ok(document.get("code")):
            return short_text(f"code={document.get('code')}: {document.get('message')}")
        return None

    # -- reads --

    def _list_prepared(self, kind: str, start: date, end: date, page: int, answered: bool | None) -> _Prepared:
        vendor = self.config.vendor_id
        size = self.page_sizes[kind]
        if kind == COUPANG_ONLINE:
            path = f"{API_V5}/{vendor}/onlineInquiries"
            status_param = ("answeredType", {None: "ALL", True: "ANSWERED", False: "NOANSWER"}[answered])
        else:
            path = f"{API_V5}/{vendor}/callCenterInquiries"
            status_param = ("partnerCounselingStatus", {None: "NONE", True: "ANSWER", False: "NO_ANSWER"}[answered])
        # Built once; this exact string is signed and sent (parameter order as in the official example).
        query = urlencode(
            [
                ("vendorId", vendor),
                status_param,
                ("inquiryStartAt", start.isoformat()),
                ("inquiryEndAt", end.isoformat()),
                ("pageNum", str(page)),
                ("pageSize", str(size)),
            ]
        )
        return _Prepared("GET", path, query)

    def list_inquiries(
        self, kind: str, start: datetime, end: datetime, answered: bool | None = None
    ) -> Iterator[RemoteInquiry | Malformed]:
        windows = date_windows(kst_date(start), kst_date(end), MAX_WINDOW_SPAN_DAYS)
        return self._pages(
            kind, windows, lambda w, page: self._list_prepared(kind, w[0], w[1], page, answered), parse_coupang_page
        )

    # -- writes --

    def post_answer(self, kind: str, external_id: str, text: str, reply_context: dict | None = None) -> SendResult:
        self._check_kind(kind)
        problem = answer_problem(external_id, text)
        if problem:
            return self._log_result(kind, str(external_id), SendResult(SendOutcome.FAILED_PERMANENT, None, problem))
        external_id = str(external_id).strip()
        vendor = self.config.vendor_id
        if kind == COUPANG_ONLINE:
            path = f"{API_V4}/{vendor}/onlineInquiries/{external_id}/replies"
            payload: dict[str, Any] = {"content": text, "vendorId": vendor, "replyBy": self.config.reply_by}
        else:
            context = reply_context or {}
            parent = context.get("parentAnswerId")
            if (
                context.get("inquiryStatus") != "progress"
                or context.get("partnerTransferStatus") != "requestAnswer"
                or parent in (None, "")
            ):
                # Coupang only accepts a reply to an open transfer; anything else is a 400 at best and
                # must go to WING by hand (e.g. after the 24 h window closed).
                return self._log_result(
                    kind,
                    external_id,
                    SendResult(
                        SendOutcome.FAILED_PERMANENT,
                        None,
                        "call-center inquiry is not awaiting a seller answer "
                        f"(inquiryStatus={context.get('inquiryStatus')!r}, "
                        f"partnerTransferStatus={context.get('partnerTransferStatus')!r}); not sent",
                    ),
                )
            path = f"{API_V4}/{vendor}/callCenterInquiries/{external_id}/replies"
            payload = {
                "vendorId": vendor,
                "inquiryId": external_id,
                "content": text,
                "replyBy": self.config.reply_by,
                "parentAnswerId": str(parent),
            }
        # json.dumps escapes newlines/CRs; raw control characters inside the JSON are a documented 400.
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return self._write(kind, external_id, Endpoint("answer", write=True), _Prepared("POST", path, "", body))

    # -- reconciliation --

    def lookup(self, kind: str, external_id: str, created_at: datetime | None = None) -> LookupResult:
        self._check_kind(kind)
        external_id = str(external_id).strip()
        if kind == COUPANG_ONLINE:
            # No single-item GET for product Q&A: list the window around created_at (all answer states).
            start, end = lookup_window(created_at, fallback_days=LOOKUP_FALLBACK_DAYS)
            return self._find_in_listing(kind, external_id, start, end)
        if not external_id.isdigit():
            return LookupResult(False, False, None)
        try:
            result = self._read(
                Endpoint("get.callcenter"), _Prepared("GET", f"{API_V5}/callCenterInquiries/{external_id}")
            )
        except MarketRequestError as exc:
            if exc.http_status in (400, 404):
                return LookupResult(found=False, answered=False, answer_text=None)
            return self._lookup_failed(kind, external_id, exc)
        except MarketError as exc:
            return self._lookup_failed(kind, external_id, exc)
        item = parse_coupang_callcenter_single(result.body)
        if isinstance(item, Malformed):
            return LookupResult(False, False, None, outcome_error=f"unreadable response: {item.error}")
        return LookupResult(found=True, answered=item.answered, answer_text=item.answer_text)

    def check_connection(self) -> tuple[bool, str]:
        today = kst_date(datetime.now(UTC))
        prepared = self._list_prepared(COUPANG_ONLINE, today - timedelta(days=1), today, 1, None)
        try:
            result = self._read(Endpoint("check"), prepared)
        except MarketError as exc:
            return False, f"Coupang connection failed: {exc.message}"
        except Exception as exc:
            return False, f"Coupang connection failed: {type(exc).__name__}"
        parsed = parse_coupang_online_page(result.body)
        if not parsed.ok:
            return False, f"Coupang answered but the response was not understood: {parsed.error}"
        return True, f"Coupang OK: signature accepted for vendor {self.config.vendor_id}"
