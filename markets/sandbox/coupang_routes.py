"""Coupang WING's CS endpoints in the sandbox: CEA HMAC checks, the per-vendor rate limit, listing,
call-center look-up, replies and confirmations. A mixin of the sandbox request handler."""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from markets.clients.coupang import CALLCENTER_NOT_AWAITING, coupang_signature
from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, KST
from markets.sandbox import generator
from markets.sandbox.accounts import CoupangAccount
from markets.sandbox.inquiry_store import (
    _apply_callcenter_answer,
    _apply_callcenter_confirm,
    awaiting_confirm,
    public_item,
)
from markets.sandbox.protocol import Reply, int_param
from markets.sandbox.store import SandboxStore

if TYPE_CHECKING:
    from markets.sandbox.routes import Route

logger = logging.getLogger("partialauto.markets.sandbox")

SIGNATURE_MAX_SKEW_SECONDS = 300  # Coupang: "Specified signature is expired." beyond ±5 min
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CoupangRoutes:
    """Coupang handlers; mixed into ``SandboxRequestHandler`` (which provides the attributes below)."""

    if TYPE_CHECKING:

        @property
        def store(self) -> SandboxStore: ...

    request_id: str
    extra_headers: dict[str, str]
    close_connection: bool
    headers: Any
    _send_json: Callable[[int, Any], None]
    _send_empty: Callable[[int], None]
    _answer_flow: Callable[[Route, Callable[[], Callable[[], None]]], None]

    def _coupang_unauthorized(self, message: str) -> Reply:
        payload: dict[str, Any] = {"code": "ERROR", "message": message, "transactionId": self.request_id}
        if message == "Request is not authorized.":
            payload["messages"] = {
                "korean": "미인증된 요청은 허용되지 않습니다. 인증 정보를 확인해 주세요.",
                "english": "Unauthorized request is denied. Please check the authentication information.",
            }
        return Reply(401, payload)

    def _coupang_authenticate(self, method: str, raw_path: str, raw_query: str) -> CoupangAccount:
        header = self.headers.get("Authorization")
        if not header:
            raise self._coupang_unauthorized("Request is not authorized.")
        found = re.match(r"^\s*CEA\s+(.+)$", header)
        if not found:
            raise self._coupang_unauthorized("HMAC format is invalid.")
        fields: dict[str, str] = {}
        # Both "a=1, b=2" (the documented format) and "a=1,b=2" (one Partners page) are accepted.
        for part in found.group(1).split(","):
            name, sep, value = part.strip().partition("=")
            if not sep:
                raise self._coupang_unauthorized("HMAC format is invalid.")
            fields[name.strip()] = value.strip()
        if fields.get("algorithm") != "HmacSHA256" or not all(
            fields.get(k) for k in ("access-key", "signed-date", "signature")
        ):
            raise self._coupang_unauthorized("HMAC format is invalid.")
        try:
            signed = datetime.strptime(fields["signed-date"], "%y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise self._coupang_unauthorized("HMAC format is invalid.") from None
        if abs((datetime.now(UTC) - signed).total_seconds()) > SIGNATURE_MAX_SKEW_SECONDS:
            raise self._coupang_unauthorized("Specified signature is expired.")
        with self.store.lock:
            account = self.store.coupang_by_access_key.get(fields["access-key"])
        if account is None:
            raise self._coupang_unauthorized("Request is not authorized.")
        # Verified against the raw path and query exactly as received: no decoding, no re-ordering.
        expected = coupang_signature(account.secret_key, fields["signed-date"], method, raw_path, raw_query)
        if not hmac.compare_digest(expected, fields["signature"]):
            raise self._coupang_unauthorized("Invalid signature.")
        return account

    def _coupang_rate_limit(self, account: CoupangAccount) -> None:
        rps = self.store.faults.coupang_rps
        allowed, _tokens = self.store.rate_limit(f"coupang:{account.vendor_id}", rps, max(1, int(rps)))
        if not allowed:
            raise Reply(429, {"code": "ERROR", "message": "Too Many Requests", "transactionId": self.request_id})

    @staticmethod
    def _coupang_bad_request(message: str) -> Reply:
        return Reply(400, {"code": 400, "message": message, "data": None})

    def coupang_list(
        self, route: Route, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        kind = route.kind or COUPANG_ONLINE
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        if query.get("vendorId") != account.vendor_id:
            raise self._coupang_bad_request("vendorId is required and must match the path vendorId.")
        allowed: tuple[str, ...]
        if kind == COUPANG_ONLINE:
            status_param, allowed, max_size = "answeredType", ("ALL", "ANSWERED", "NOANSWER"), 50
        else:
            status_param, allowed, max_size = "partnerCounselingStatus", ("NONE", "ANSWER", "NO_ANSWER", "TRANSFER"), 30
        status = query.get(status_param)
        # exact, case-sensitive (lower-case "noAnswer" fails on the real API)
        if status is None or status not in allowed:
            raise self._coupang_bad_request(f"{status_param} can't be null")
        start_text, end_text = query.get("inquiryStartAt", ""), query.get("inquiryEndAt", "")
        if not (_DATE_RE.match(start_text) and _DATE_RE.match(end_text)):
            raise self._coupang_bad_request("inquiryStartAt and inquiryEndAt are required (yyyy-MM-dd).")
        try:
            start, end = date.fromisoformat(start_text), date.fromisoformat(end_text)
        except ValueError:
            raise self._coupang_bad_request(
                "inquiryStartAt and inquiryEndAt must be valid dates (yyyy-MM-dd)."
            ) from None
        if end < start:
            raise self._coupang_bad_request("inquiryEndAt must not be before inquiryStartAt.")
        if (end - start).days > 7:
            raise self._coupang_bad_request(
                "The search period can be up to 7 days. (inquiryEndAt - inquiryStartAt <= 7days)"
            )
        page_num, page_size = int_param(query.get("pageNum"), 1), int_param(query.get("pageSize"), 10)
        if page_num is None or page_num < 1:
            raise self._coupang_bad_request("pageNum must be 1 or greater.")
        if page_size is None or page_size < 1 or page_size > max_size:
            raise self._coupang_bad_request(f"pageSize must be between 1 and {max_size}.")
        # The documented optional filters: vendorItemId on both lists, orderId on the call-center list.
        filters = {
            name: query[name]
            for name in ("vendorItemId", "orderId")
            if query.get(name) and (name == "vendorItemId" or kind == COUPANG_CALLCENTER)
        }
        for name, value in filters.items():
            if not value.isdigit():
                raise self._coupang_bad_request(f"{name} must be a number.")

        def matches(item: dict[str, Any]) -> bool:
            if item["_owner"] != account.vendor_id or item["_deleted"]:
                return False
            if not start_text <= str(item.get("inquiryAt", ""))[:10] <= end_text:
                return False
            if any(value not in _ids(item.get(name)) for name, value in filters.items()):
                return False
            if kind == COUPANG_ONLINE:
                answered = bool(item.get("commentDtoList"))
                return status == "ALL" or (status == "ANSWERED") == answered
            counseling = item.get("csPartnerCounselingStatus")
            return {
                "NONE": True,
                "ANSWER": counseling == "answered",
                "NO_ANSWER": counseling == "requestAnswer",
                "TRANSFER": awaiting_confirm(item) is not None,
            }[status]

        with self.store.lock:
            selected = sorted(
                (i for i in self.store.items[kind].values() if matches(i)),
                key=lambda i: (str(i.get("inquiryAt", "")), i.get("inquiryId", 0)),
                reverse=True,
            )
            total = len(selected)
            chunk = [public_item(i) for i in selected[(page_num - 1) * page_size : page_num * page_size]]
        self._send_json(
            200,
            {
                # The product Q&A sample uses "200" (string), the call-center sample 200 (number).
                "code": "200" if kind == COUPANG_ONLINE else 200,
                "message": "OK",
                # Nothing found is zero pages (totalPages 0), as in the documented empty Naver pages; Coupang's
                # docs show no empty sample, and its clients stop on an empty page either way.
                "data": {
                    "content": chunk,
                    "pagination": {
                        "currentPage": page_num,
                        "totalPages": math.ceil(total / page_size),
                        "totalElements": total,
                        "countPerPage": page_size,
                    },
                },
            },
        )

    def coupang_callcenter_get(
        self, route: Route, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        with self.store.lock:
            item = self.store.items[COUPANG_CALLCENTER].get(int(params["id"])) if params["id"].isdigit() else None
            if item is None or item["_owner"] != account.vendor_id or item["_deleted"]:
                raise Reply(404, {"code": 404, "message": f"inquiry {params['id']} not found", "data": None})
            data = public_item(item)
        self._send_json(200, {"code": 200, "message": "OK", "data": data})

    def coupang_reply(
        self, route: Route, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        kind = route.kind or COUPANG_ONLINE
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self._coupang_bad_request(f"Could not read JSON: {str(exc)[:120]}") from None
        if not isinstance(payload, dict):
            raise self._coupang_bad_request("Could not read JSON: expected an object")
        content = payload.get("content")
        if not isinstance(content, str) or not content.strip():
            raise self._coupang_bad_request("content는 필수 입력값입니다. (Please enter content.)")
        if str(payload.get("vendorId")) != account.vendor_id:
            raise self._coupang_bad_request("vendorId is invalid.")
        # "the responder's WING ID or the vendor ID" (the error text: "wing ID or vendorId")
        if payload.get("replyBy") not in (*account.reply_by, account.vendor_id):
            raise self._coupang_bad_request(
                "The value of replyBy (Responder Seller Portal (WING) ID) is incorrect. "
                "Please enter the correct wing ID or vendorId."
            )
        raw_id = params["id"]
        parent: int | None = None
        if kind == COUPANG_CALLCENTER:
            if str(payload.get("inquiryId")) != raw_id:
                raise self._coupang_bad_request("inquiryId in the body must match the path.")
            try:
                parent = int(str(payload.get("parentAnswerId")))
            except ValueError:
                raise self._coupang_bad_request("parentAnswerId is required.") from None

        def apply() -> Callable[[], None]:
            item = self.store.items[kind].get(int(raw_id)) if raw_id.isdigit() else None
            if item is None or item["_owner"] != account.vendor_id:
                raise self._coupang_bad_request(f"The inquiry does not exist. (inquiryId={raw_id})")
            if item["_deleted"]:
                raise self._coupang_bad_request("Replying to a deleted product inquiry is not allowed.")
            if kind == COUPANG_ONLINE:
                if item["commentDtoList"]:
                    raise self._coupang_bad_request(
                        "This inquiry has already been answered. (이미 답변이 등록된 문의입니다.)"
                    )
                item["commentDtoList"].append(
                    {
                        "inquiryCommentId": self.store.new_sub_id(),
                        "inquiryId": item["inquiryId"],
                        "content": content,
                        "inquiryCommentAt": generator.coupang_time(datetime.now(UTC)),
                    }
                )
            else:
                # Answered already (in WING, or by an earlier request) is refused like any other state
                # that does not await the seller: with the one documented text.
                waiting = any(
                    r.get("partnerTransferStatus") == "requestAnswer" and r.get("answerId") == parent
                    for r in item["replies"]
                )
                answered = any(r.get("answerType") == "vendor" for r in item["replies"])
                if item.get("inquiryStatus") != "progress" or not waiting or answered:
                    raise self._coupang_bad_request(CALLCENTER_NOT_AWAITING)
                _apply_callcenter_answer(self.store, item, content, str(payload.get("replyBy")), parent)
            self.store.record_answer(kind, raw_id, content, self.request_id, account.vendor_id)
            return lambda: self._send_json(200, {"code": "200", "message": "OK"})

        self._answer_flow(route, apply)

    def coupang_confirm(
        self, route: Route, params: dict[str, str], raw_query: str, body: bytes, account: CoupangAccount
    ) -> None:
        """Confirm a TRANSFER (a consultation Coupang's call centre finished): once, within 24 hours."""
        try:
            payload = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError) as exc:
            raise self._coupang_bad_request(f"Could not read JSON: {str(exc)[:120]}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("confirmBy", ""), str):
            raise self._coupang_bad_request("Could not read JSON: expected an object with confirmBy (String)")
        raw_id = params["id"]
        with self.store.lock:
            item = self.store.items[COUPANG_CALLCENTER].get(int(raw_id)) if raw_id.isdigit() else None
            if item is None or item["_owner"] != account.vendor_id or item["_deleted"]:
                raise self._coupang_bad_request(f"The inquiry does not exist. (inquiryId={raw_id})")
            transfer = awaiting_confirm(item)
            if item.get("inquiryStatus") == "complete" or (
                transfer is not None and _older_than_a_day(transfer.get("replyAt"))
            ):
                raise self._coupang_bad_request("This inquiry has closed. -522 (상담이 종료된 문의입니다 - 522)")
            if transfer is None:
                raise self._coupang_bad_request(CALLCENTER_NOT_AWAITING)
            _apply_callcenter_confirm(item)
        self._send_json(200, {"code": "200", "message": "OK"})

    # -- Naver --


def _ids(value: Any) -> set[str]:
    """A Coupang id field (a number, or a list of numbers such as the call-center ``vendorItemId``) as strings."""
    return {str(v) for v in (value if isinstance(value, list) else [value]) if v is not None}


def _older_than_a_day(reply_at: Any) -> bool:
    """Whether a Coupang time (naive KST ``yyyy-MM-dd HH:mm:ss``) lies more than 24 hours back."""
    try:
        at = datetime.strptime(str(reply_at), "%Y-%m-%d %H:%M:%S").replace(tzinfo=KST)
    except ValueError:
        return False
    return datetime.now(UTC) - at > timedelta(hours=24)
