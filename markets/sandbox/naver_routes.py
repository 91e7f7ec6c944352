"""Naver Commerce's CS endpoints in the sandbox: the bcrypt token endpoint, Bearer checks, the
per-application rate limit, Q&A and customer inquiries with their answers. A mixin of the sandbox
request handler."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import bcrypt

from markets.clients.types import KST, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox import generator
from markets.sandbox.accounts import NaverAccount
from markets.sandbox.inquiry_store import _apply_inquiry_answer, public_item
from markets.sandbox.protocol import Reply, int_param, now_kst_iso
from markets.sandbox.store import SandboxStore

if TYPE_CHECKING:
    from markets.sandbox.routes import Route

logger = logging.getLogger("partialauto.markets.sandbox")

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TOKEN_MAX_SKEW_MS = 300_000  # Naver: the timestamp is valid for 5 minutes


class NaverRoutes:
    """Naver handlers; mixed into ``SandboxRequestHandler`` (which provides the attributes below)."""

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

    def _naver_error(self, status: int, code: str, message: str, invalid: list[dict[str, str]] | None = None) -> Reply:
        payload: dict[str, Any] = {
            "code": code,
            "message": message,
            "timestamp": now_kst_iso(),
            "traceId": self.request_id,
        }
        if invalid:
            payload["invalidInputs"] = invalid
        return Reply(status, payload)

    def naver_token(self, raw_query: str, body: bytes) -> None:
        fields = dict(parse_qsl(raw_query, keep_blank_values=True))
        content_type = self.headers.get("Content-Type", "")
        if body and "application/x-www-form-urlencoded" in content_type:
            try:
                fields.update(parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=False))
            except UnicodeDecodeError:
                raise self._naver_error(400, "BadRequest", "요청 형식이 올바르지 않습니다.") from None
        missing = [
            n for n in ("client_id", "timestamp", "grant_type", "client_secret_sign", "type") if not fields.get(n)
        ]
        if missing:
            raise self._naver_error(
                400,
                "BadRequest",
                "필수 파라미터가 없습니다.",
                [{"name": n, "type": "NotBlank", "message": "필수 입력값입니다."} for n in missing],
            )
        if fields["grant_type"] != "client_credentials":
            raise self._naver_error(400, "BadRequest", "grant_type은 client_credentials 이어야 합니다.")
        if fields["type"] not in ("SELF", "SELLER"):
            raise self._naver_error(400, "BadRequest", "type은 SELF 또는 SELLER 이어야 합니다.")
        if fields["type"] == "SELLER" and not fields.get("account_id"):
            raise self._naver_error(403, "Forbidden", "SELLER 타입은 account_id가 필요합니다.")
        if (
            not fields["timestamp"].isdigit()
            or abs(int(time.time() * 1000) - int(fields["timestamp"])) > TOKEN_MAX_SKEW_MS
        ):
            raise self._naver_error(400, "BadRequest", "timestamp가 유효하지 않습니다. (5분 이내여야 합니다)")
        with self.store.lock:
            account = self.store.naver_accounts.get(fields["client_id"])
        if account is None or not _naver_sign_ok(account, fields["timestamp"], fields["client_secret_sign"]):
            raise self._naver_error(400, "BadRequest", "client_id 또는 client_secret_sign이 유효하지 않습니다.")
        token, expires_in = self.store.issue_naver_token(account.client_id, fields["type"])
        self._send_json(200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})

    def _naver_authenticate(self) -> NaverAccount:
        # Naver's docs only show "Bearer {token}"; like the usual OAuth gateways (RFC 7235 §2.1: the auth
        # scheme is case-insensitive) the scheme is matched in any case, so "bearer …" is accepted too.
        scheme, _, token = self.headers.get("Authorization", "").strip().partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        owner = self.store.naver_token_owner(token) if token else None
        with self.store.lock:
            account = self.store.naver_accounts.get(owner) if owner else None
        if account is None:
            raise self._naver_error(401, "GW.AUTHN", "요청을 보낼 권한이 없습니다.")
        return account

    def _naver_rate_limit(self, route: Route, account: NaverAccount) -> None:
        faults = self.store.faults
        if faults.naver_rps <= 0:
            return
        allowed, tokens = self.store.rate_limit(
            f"naver:{account.client_id}:{route.name}", faults.naver_rps, faults.naver_burst
        )
        self.extra_headers.update(
            {
                "GNCP-GW-RateLimit-Replenish-Rate": f"{faults.naver_rps:g}",
                "GNCP-GW-RateLimit-Burst-Capacity": str(faults.naver_burst),
                "GNCP-GW-RateLimit-Remaining": str(max(0, int(tokens))),
            }
        )
        if not allowed:
            raise self._naver_error(429, "GW.RATE_LIMIT", "요청이 많아 서비스를 일시적으로 사용할 수 없습니다.")

    def _naver_datetime_param(self, query: dict[str, str], name: str) -> datetime:
        value = query.get(name)
        try:
            if not value:
                raise ValueError
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self._naver_error(
                400,
                "BAD_REQUEST",
                "요청 파라미터가 올바르지 않습니다.",
                [{"name": name, "type": "DateTime", "message": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX 형식이어야 합니다."}],
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=KST)

    def naver_qnas_list(
        self, route: Route, params: dict[str, str], raw_query: str, body: bytes, account: NaverAccount
    ) -> None:
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        start = self._naver_datetime_param(query, "fromDate")
        end = self._naver_datetime_param(query, "toDate")
        page, size = int_param(query.get("page"), 1), int_param(query.get("size"), 100)
        if page is None or page < 1 or size is None or not 1 <= size <= 100:
            raise self._naver_error(
                400,
                "BAD_REQUEST",
                "page는 1 이상, size는 1~100 이어야 합니다.",
                [{"name": "size", "type": "Range", "message": "1~100"}],
            )
        answered = query.get("answered")
        if answered not in (None, "true", "false"):
            raise self._naver_error(400, "BAD_REQUEST", "answered는 true 또는 false 이어야 합니다.")

        def matches(item: dict[str, Any]) -> bool:
            if item["_owner"] != account.client_id or item["_deleted"]:
                return False
            created = datetime.fromisoformat(item["createDate"])
            if not start <= created <= end:
                return False
            return answered is None or bool(item.get("answered")) == (answered == "true")

        with self.store.lock:
            selected = sorted(
                (i for i in self.store.items[NAVER_QNA].values() if matches(i)),
                key=lambda i: (datetime.fromisoformat(i["createDate"]), i["questionId"]),
                reverse=True,
            )
            total = len(selected)
            chunk = [public_item(i) for i in selected[(page - 1) * size : page * size]]
        total_pages = math.ceil(total / size)
        self._send_json(
            200,
            {
                "contents": chunk,
                "page": page,
                "size": size,
                "totalElements": total,
                "totalPages": total_pages,
                "sort": {"sorted": True, "fields": [{"name": "createDate", "direction": "desc"}]},
                "first": page == 1,
                "last": page >= total_pages,
            },
        )

    def naver_qnas_answer(
        self, route: Route, params: dict[str, str], raw_query: str, body: bytes, account: NaverAccount
    ) -> None:
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise self._naver_error(400, "BAD_REQUEST", "요청 본문을 읽을 수 없습니다.") from None
        text = payload.get("commentContent") if isinstance(payload, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise self._naver_error(
                400,
                "BAD_REQUEST",
                "commentContent는 필수입니다.",
                [{"name": "commentContent", "type": "NotBlank", "message": "필수 입력값입니다."}],
            )
        raw_id = params["id"]

        def apply() -> Callable[[], None]:
            item = self.store.items[NAVER_QNA].get(int(raw_id)) if raw_id.isdigit() else None
            if item is None or item["_owner"] != account.client_id or item["_deleted"]:
                raise self._naver_error(404, "NOT_FOUND", f"문의 {raw_id}를 찾을 수 없습니다.")
            overwrote = bool(item.get("answered"))
            # Like the real API: the PUT registers *or overwrites* the answer.
            item.update(answer=text, answered=True)
            self.store.record_answer(NAVER_QNA, raw_id, text, self.request_id, account.client_id, overwrote=overwrote)
            return lambda: self._send_empty(204)

        self._answer_flow(route, apply)

    def naver_inquiries_list(
        self, route: Route, params: dict[str, str], raw_query: str, body: bytes, account: NaverAccount
    ) -> None:
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        invalid = [
            {"name": n, "type": "Date", "message": "yyyy-MM-dd 형식이어야 합니다."}
            for n in ("startSearchDate", "endSearchDate")
            if not _DATE_RE.match(query.get(n, ""))
        ]
        if invalid:
            raise self._naver_error(400, "4001", "입력값이 올바르지 않습니다.", invalid)
        try:
            start, end = date.fromisoformat(query["startSearchDate"]), date.fromisoformat(query["endSearchDate"])
        except ValueError:
            raise self._naver_error(400, "4001", "입력값이 올바르지 않습니다.") from None
        if start > end:
            raise self._naver_error(400, "4002", "검색 시작일이 종료일보다 이후입니다.")
        if (end - start).days > 365:
            raise self._naver_error(400, "4003", "검색 기간은 365일을 초과할 수 없습니다.")
        page, size = int_param(query.get("page"), 1), int_param(query.get("size"), 10)
        if page is None or size is None:
            raise self._naver_error(400, "4001", "입력값이 올바르지 않습니다.")
        if page < 1:
            raise self._naver_error(400, "4004", "page는 1 이상이어야 합니다.")
        if page > 1_000_000:
            raise self._naver_error(400, "4005", "page는 1000000 이하여야 합니다.")
        if size < 10:
            raise self._naver_error(400, "4006", "size는 10 이상이어야 합니다.")
        if size > 200:
            raise self._naver_error(400, "4007", "size는 200 이하여야 합니다.")
        answered = query.get("answered")
        if answered not in (None, "true", "false"):
            raise self._naver_error(400, "4001", "answered는 true 또는 false 이어야 합니다.")

        def matches(item: dict[str, Any]) -> bool:
            if item["_owner"] != account.client_id or item["_deleted"]:
                return False
            created = datetime.fromisoformat(item["inquiryRegistrationDateTime"]).astimezone(KST).date()
            if not start <= created <= end:
                return False
            return answered is None or bool(item.get("answered")) == (answered == "true")

        with self.store.lock:
            selected = sorted(
                (i for i in self.store.items[NAVER_INQUIRY].values() if matches(i)),
                key=lambda i: (datetime.fromisoformat(i["inquiryRegistrationDateTime"]), i["inquiryNo"]),
                reverse=True,
            )
            total = len(selected)
            chunk = [public_item(i) for i in selected[(page - 1) * size : page * size]]
        total_pages = math.ceil(total / size)
        sort = {"sorted": True, "unsorted": False, "empty": False}
        self._send_json(
            200,
            {
                "totalPages": total_pages,
                "totalElements": total,
                "pageable": {
                    "pageNumber": page - 1,
                    "pageSize": size,
                    "sort": sort,
                    "paged": True,
                    "unpaged": False,
                    "offset": (page - 1) * size,
                },
                "first": page == 1,
                "last": page >= total_pages,
                "number": page - 1,
                "sort": sort,
                "numberOfElements": len(chunk),
                "size": size,
                "content": chunk,
                "empty": not chunk,
            },
        )

    def _naver_answer_comment(self, body: bytes) -> str:
        """The ``answerComment`` of a customer-inquiry answer body (posted or replaced), or Naver's 400."""
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise self._naver_error(400, "ERR-NC-101001", "요청 형식이 올바르지 않습니다.") from None
        text = payload.get("answerComment") if isinstance(payload, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise self._naver_error(400, "ERR-NC-101001", "answerComment는 필수입니다.")
        return text

    def naver_inquiries_answer(
        self, route: Route, params: dict[str, str], raw_query: str, body: bytes, account: NaverAccount
    ) -> None:
        text = self._naver_answer_comment(body)
        raw_id = params["id"]

        def apply() -> Callable[[], None]:
            item = self.store.items[NAVER_INQUIRY].get(int(raw_id)) if raw_id.isdigit() else None
            if item is None or item["_owner"] != account.client_id or item["_deleted"]:
                raise self._naver_error(400, "ERR-NC-101004", f"문의 번호 {raw_id}에 해당하는 문의가 없습니다.")
            if item.get("answered"):
                raise self._naver_error(400, "ERR-NC-101010", "이미 답변이 등록된 문의입니다.")
            comment_no = _apply_inquiry_answer(self.store, item, text)
            self.store.record_answer(NAVER_INQUIRY, raw_id, text, self.request_id, account.client_id)
            response = {
                "data": {"inquiryNo": item["inquiryNo"], "inquiryCommentNo": comment_no},
                "code": "SUCCESS",
                "message": "성공",
                "timestamp": now_kst_iso(),
                "traceId": self.request_id,
            }
            return lambda: self._send_json(200, response)

        self._answer_flow(route, apply)

    def naver_inquiries_answer_update(
        self, route: Route, params: dict[str, str], raw_query: str, body: bytes, account: NaverAccount
    ) -> None:
        """``PUT …/answer/{answerContentId}``: replace the text of the inquiry's existing answer."""
        text = self._naver_answer_comment(body)
        raw_id, answer_id = params["id"], params["answer"]

        def apply() -> Callable[[], None]:
            item = self.store.items[NAVER_INQUIRY].get(int(raw_id)) if raw_id.isdigit() else None
            if item is None or item["_owner"] != account.client_id or item["_deleted"]:
                raise self._naver_error(400, "ERR-NC-101004", f"문의 번호 {raw_id}에 해당하는 문의가 없습니다.")
            if not item.get("answered") or str(item.get("answerContentId")) != answer_id:
                raise self._naver_error(400, "ERR-NC-101001", f"답변 번호 {answer_id}에 해당하는 답변이 없습니다.")
            item.update(answerContent=text, answerRegistrationDateTime=generator.naver_time(datetime.now(UTC)))
            self.store.record_answer(NAVER_INQUIRY, raw_id, text, self.request_id, account.client_id, overwrote=True)
            response = {
                "data": {"inquiryNo": item["inquiryNo"], "inquiryCommentNo": item["answerContentId"]},
                "code": "SUCCESS",
                "message": "성공",
                "timestamp": now_kst_iso(),
                "traceId": self.request_id,
            }
            return lambda: self._send_json(200, response)

        self._answer_flow(route, apply)


def _naver_sign_ok(account: NaverAccount, timestamp: str, sign: str) -> bool:
    """Check ``client_secret_sign`` in standard or URL-safe Base64 (the Java sample uses URL-safe)."""
    expected = bcrypt.hashpw(f"{account.client_id}_{timestamp}".encode(), account.client_secret.encode())
    padded = sign + "=" * (-len(sign) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            candidate = decode(padded.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
        if hmac.compare_digest(candidate, expected):
            return True
    return False
