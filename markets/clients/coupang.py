"""Coupang WING OPEN API client: product Q&A (onlineInquiries) and call-center inquiries.

Spec: research/market-apis.md §1. Every request carries a fresh CEA HMAC-SHA256 signature over
``signed-date + METHOD + path + query``; the query string is built once with ``urlencode`` and the
identical string is both signed and sent. Payload parsing is in ``coupang_parsing.py``.
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
from markets.clients.coupang_parsing import (
    code_ok,
    parse_coupang_callcenter_single,
    parse_coupang_online_page,
    parse_coupang_page,
)
from markets.clients.http_client import Endpoint, _Prepared
from markets.clients.parsing import answer_problem, date_windows, kst_date, short_text
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

# Coupang documents no specific text for a second product Q&A answer; match the usual wordings (EN/KO).
_ALREADY_ANSWERED_RE = re.compile(r"already\s+(been\s+)?answer|already\s+repl|이미\s*답변|중복\s*답변|duplicate", re.I)
#: The documented 400 of a call-center reply to an inquiry that no longer awaits the seller: answered
#: already (in WING, or by an earlier attempt of ours) or closed by Coupang. Whose answer it is, if any,
#: is settled by looking the inquiry up, like every other "already answered".
CALLCENTER_NOT_AWAITING = (
    "The inquiry can't be answer. It can do only inquiryStatus:progress, partnerTransferStatus:requestAnswer"
)
_NOT_AWAITING_MARK = "can't be answer"


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
        if isinstance(document, dict) and "code" in document and not code_ok(document.get("code")):
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
