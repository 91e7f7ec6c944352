"""A local fake of the Coupang WING and Naver Commerce CS and order APIs, at the real paths, on one port.

* Coupang: ``/v2/providers/openapi/apis/api/{v4,v5,v6}/...`` with CEA HMAC verification against the
  raw query string (research/market-apis.md §1.10).
* Naver: ``/external/v1/...`` with the bcrypt token endpoint and Bearer checks (§2.9).
* Order and shipping reads of both (research/order-apis.md): handlers in ``order_routes.py``.
* Control API for tests, the demo and worker processes: ``/_sandbox/...`` (JSON, ``control_routes.py``).

Standard library only (``http.server.ThreadingHTTPServer``); no Django needed. Bind it to loopback:
the control API has no authentication (it is a test tool; its credentials are fake).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import bcrypt

from markets.clients.coupang import CALLCENTER_NOT_AWAITING, coupang_signature
from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, KST, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox import generator
from markets.sandbox.control_routes import ControlRoutes
from markets.sandbox.order_routes import OrderRoutes
from markets.sandbox.protocol import Reply, int_param, now_kst_iso
from markets.sandbox.store import (
    CoupangAccount,
    NaverAccount,
    SandboxStore,
    _apply_callcenter_answer,
    _apply_callcenter_confirm,
    _apply_inquiry_answer,
    awaiting_confirm,
    public_item,
)

logger = logging.getLogger("partialauto.markets.sandbox")

MAX_BODY_BYTES = 1_000_000
SIGNATURE_MAX_SKEW_SECONDS = 300  # Coupang: "Specified signature is expired." beyond ±5 min
TOKEN_MAX_SKEW_MS = 300_000  # Naver: the timestamp is valid for 5 minutes

_COUPANG = r"^/v2/providers/openapi/apis/api"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    market: str  # "coupang" | "naver" | "control"
    handler: str
    kind: str | None = None
    is_answer: bool = False


def _r(
    method: str, pattern: str, name: str, market: str, handler: str, kind: str | None = None, is_answer: bool = False
) -> Route:
    return Route(method, re.compile(pattern), name, market, handler, kind, is_answer)


ROUTES: tuple[Route, ...] = (
    # Coupang. The single call-center GET has no vendorId segment, so it is matched first.
    _r(
        "GET",
        _COUPANG + r"/v[45]/vendors/callCenterInquiries/(?P<id>[^/]+)$",
        "coupang.callcenter.get",
        "coupang",
        "coupang_callcenter_get",
        COUPANG_CALLCENTER,
    ),
    _r(
        "GET",
        _COUPANG + r"/v[45]/vendors/(?P<vendor>[^/]+)/onlineInquiries$",
        "coupang.online.list",
        "coupang",
        "coupang_list",
        COUPANG_ONLINE,
    ),
    _r(
        "GET",
        _COUPANG + r"/v[45]/vendors/(?P<vendor>[^/]+)/callCenterInquiries$",
        "coupang.callcenter.list",
        "coupang",
        "coupang_list",
        COUPANG_CALLCENTER,
    ),
    _r(
        "POST",
        _COUPANG + r"/v4/vendors/(?P<vendor>[^/]+)/onlineInquiries/(?P<id>[^/]+)/replies$",
        "coupang.online.reply",
        "coupang",
        "coupang_reply",
        COUPANG_ONLINE,
        True,
    ),
    _r(
        "POST",
        _COUPANG + r"/v4/vendors/(?P<vendor>[^/]+)/callCenterInquiries/(?P<id>[^/]+)/replies$",
        "coupang.callcenter.reply",
        "coupang",
        "coupang_reply",
        COUPANG_CALLCENTER,
        True,
    ),
    _r(
        "POST",
        _COUPANG + r"/v4/vendors/(?P<vendor>[^/]+)/callCenterInquiries/(?P<id>[^/]+)/confirms$",
        "coupang.callcenter.confirm",
        "coupang",
        "coupang_confirm",
        COUPANG_CALLCENTER,
    ),
    # Coupang orders. ".../ordersheets/{shipmentBoxId}" and ".../{orderId}/ordersheets" are different
    # look-ups: the orderId comes *before* "ordersheets" (research/order-apis.md §1.1).
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[45])/vendors/(?P<vendor>[^/]+)/ordersheets$",
        "coupang.orders.list",
        "coupang",
        "coupang_ordersheets_list",
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[45])/vendors/(?P<vendor>[^/]+)/ordersheets/(?P<box>[^/]+)/history$",
        "coupang.orders.history",
        "coupang",
        "coupang_ordersheet_history",
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[45])/vendors/(?P<vendor>[^/]+)/ordersheets/(?P<box>[^/]+)$",
        "coupang.orders.box",
        "coupang",
        "coupang_ordersheet_box",
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[45])/vendors/(?P<vendor>[^/]+)/(?P<order>[^/]+)/ordersheets$",
        "coupang.orders.order",
        "coupang",
        "coupang_ordersheets_by_order",
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[46])/vendors/(?P<vendor>[^/]+)/returnRequests$",
        "coupang.returns.list",
        "coupang",
        "coupang_returns_list",
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[46])/vendors/(?P<vendor>[^/]+)/returnRequests/(?P<receipt>[^/]+)$",
        "coupang.returns.get",
        "coupang",
        "coupang_return_get",
    ),
    # Naver
    _r("POST", r"^/external/v1/oauth2/token$", "naver.token", "naver", "naver_token"),
    _r("GET", r"^/external/v1/contents/qnas$", "naver.qnas.list", "naver", "naver_qnas_list", NAVER_QNA),
    _r(
        "PUT",
        r"^/external/v1/contents/qnas/(?P<id>[^/]+)$",
        "naver.qnas.answer",
        "naver",
        "naver_qnas_answer",
        NAVER_QNA,
        True,
    ),
    _r(
        "GET",
        r"^/external/v1/pay-user/inquiries$",
        "naver.inquiries.list",
        "naver",
        "naver_inquiries_list",
        NAVER_INQUIRY,
    ),
    _r(
        "POST",
        r"^/external/v1/pay-merchant/inquiries/(?P<id>[^/]+)/answer$",
        "naver.inquiries.answer",
        "naver",
        "naver_inquiries_answer",
        NAVER_INQUIRY,
        True,
    ),
    _r(
        "PUT",
        r"^/external/v1/pay-merchant/inquiries/(?P<id>[^/]+)/answer/(?P<answer>[^/]+)$",
        "naver.inquiries.answer.update",
        "naver",
        "naver_inquiries_answer_update",
        NAVER_INQUIRY,
        True,
    ),
    _r(
        "GET",
        r"^/external/v1/pay-order/seller/product-orders/last-changed-statuses$",
        "naver.orders.changes",
        "naver",
        "naver_order_changes",
    ),
    _r(
        "POST",
        r"^/external/v1/pay-order/seller/product-orders/query$",
        "naver.orders.query",
        "naver",
        "naver_order_query",
    ),
    _r(
        "GET",
        r"^/external/v1/pay-order/seller/orders/(?P<order>[^/]+)/product-order-ids$",
        "naver.orders.ids",
        "naver",
        "naver_order_ids",
    ),
    # Control API
    _r("GET", r"^/_sandbox/health$", "control.health", "control", "control_health"),
    _r("GET", r"^/_sandbox/accounts$", "control.accounts", "control", "control_accounts"),
    _r("POST", r"^/_sandbox/accounts$", "control.accounts.add", "control", "control_accounts_add"),
    _r("GET", r"^/_sandbox/inquiries$", "control.inquiries", "control", "control_inquiries"),
    _r("POST", r"^/_sandbox/inquiries$", "control.inquiries.add", "control", "control_inquiries_add"),
    _r(
        "POST",
        r"^/_sandbox/inquiries/backdated$",
        "control.inquiries.backdated",
        "control",
        "control_inquiries_backdated",
    ),
    _r("POST", r"^/_sandbox/inquiries/delete$", "control.inquiries.delete", "control", "control_inquiries_delete"),
    _r(
        "POST",
        r"^/_sandbox/inquiries/answer-elsewhere$",
        "control.inquiries.elsewhere",
        "control",
        "control_inquiries_elsewhere",
    ),
    _r("GET", r"^/_sandbox/faults$", "control.faults", "control", "control_faults"),
    _r("POST", r"^/_sandbox/faults$", "control.faults.set", "control", "control_faults_set"),
    _r("POST", r"^/_sandbox/faults/reset$", "control.faults.reset", "control", "control_faults_reset"),
    _r("GET", r"^/_sandbox/follow-ups$", "control.follow_ups", "control", "control_follow_ups"),
    _r("POST", r"^/_sandbox/follow-ups$", "control.follow_ups.set", "control", "control_follow_ups_set"),
    _r("POST", r"^/_sandbox/release$", "control.release", "control", "control_release"),
    _r("GET", r"^/_sandbox/answers$", "control.answers", "control", "control_answers"),
    _r("GET", r"^/_sandbox/stats$", "control.stats", "control", "control_stats"),
    _r("POST", r"^/_sandbox/reset$", "control.reset", "control", "control_reset"),
    _r("POST", r"^/_sandbox/naver/expire-tokens$", "control.naver.expire", "control", "control_naver_expire"),
    _r("GET", r"^/_sandbox/orders$", "control.orders", "control", "control_orders"),
    _r("POST", r"^/_sandbox/orders$", "control.orders.add", "control", "control_orders_add"),
    _r("POST", r"^/_sandbox/orders/advance$", "control.orders.advance", "control", "control_orders_advance"),
)


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path params, path_exists_with_other_method)."""
    other_method = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            if route.method == method:
                return route, found.groupdict(), False
            other_method = True
    return None, {}, other_method


class SandboxRequestHandler(OrderRoutes, ControlRoutes, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real gateways
    server_version = "PartialautoSandbox/1.0"
    timeout = 300  # idle keep-alive connections are closed after 5 minutes
    server: _SandboxHTTPServer

    # -- plumbing --

    def setup(self) -> None:
        super().setup()
        # Without NODELAY, a response written as headers + body meets the client's delayed ACK and
        # every call takes ~40 ms on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    @property
    def store(self) -> SandboxStore:
        return self.server.store

    def _handle(self, method: str) -> None:
        self.request_id = uuid.uuid4().hex
        self.extra_headers: dict[str, str] = {}
        raw_path, _, raw_query = self.path.partition("?")
        self.route: Route | None = None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send_json(413 if length > 0 else 400, {"code": 400, "message": "invalid Content-Length"})
            return
        body = self.rfile.read(length) if length else b""
        route, params, other_method = match_route(method, raw_path)
        self.route = route
        self.store.note_request(
            route.name if route else "unknown",
            {
                "method": method,
                "path": raw_path,
                "query": raw_query,
                "request_id": self.request_id,
                "at": time.time(),
                "client_port": self.client_address[1],
            },
        )
        try:
            if route is None:
                naver = raw_path.startswith("/external/")
                if naver:  # every Naver response carries its trace id, in the header and in an error body
                    self.extra_headers["GNCP-GW-Trace-ID"] = self.request_id
                if other_method:
                    if naver:
                        raise self._naver_error(405, "METHOD_NOT_ALLOWED", f"{method} 메서드는 지원하지 않습니다.")
                    raise Reply(405, {"code": 405, "message": f"Request method '{method}' not supported"})
                if naver:
                    raise self._naver_error(404, "GW.NOT_FOUND", "API를 찾을 수 없습니다.")
                raise Reply(404, {"code": 404, "message": "Not Found", "data": None})
            if route.market == "control":
                getattr(self, route.handler)(params, raw_query, body)
                return
            if route.is_answer and route.kind:
                with self.store.lock:
                    self.store.answer_requests[route.kind] += 1
            if not self._apply_faults(route):
                return
            if route.market == "coupang":
                account = self._coupang_authenticate(method, raw_path, raw_query)
                vendor = params.get("vendor")
                if vendor is not None and vendor != account.vendor_id:
                    raise Reply(
                        403,
                        {
                            "code": "ERROR",
                            "message": "The vendorId in the path does not belong to this access key.",
                            "transactionId": self.request_id,
                        },
                    )
                self._coupang_rate_limit(account)
                getattr(self, route.handler)(route, params, raw_query, body, account)
            else:
                self.extra_headers["GNCP-GW-Trace-ID"] = self.request_id
                if route.handler == "naver_token":
                    self.naver_token(raw_query, body)
                    return
                naver_account = self._naver_authenticate()
                self._naver_rate_limit(route, naver_account)
                getattr(self, route.handler)(route, params, raw_query, body, naver_account)
        except Reply as reply:
            self._send_json(reply.status, reply.payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            logger.exception("sandbox handler error on %s %s", method, raw_path)
            try:
                if raw_path.startswith("/external/"):
                    self._send_json(
                        500, self._naver_error(500, "GW.INTERNAL_SERVER_ERROR", "내부 서버 오류입니다.").payload
                    )
                else:
                    self._send_json(500, {"code": 500, "message": "sandbox internal error", "data": None})
            except OSError:
                self.close_connection = True

    def _send(self, status: int, body: bytes, content_type: str | None) -> None:
        # Counted before the write: a client that has read the response must find it counted.
        self.store.note_status(status)
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Sandbox-Request-Id", self.request_id)
        for name, value in getattr(self, "extra_headers", {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        if hasattr(self, "_headers_buffer"):
            # Headers and body in one write (end_headers() would flush the headers on their own).
            self._headers_buffer.append(b"\r\n" + body)
            self.flush_headers()
        else:  # HTTP/0.9 request: http.server keeps no header buffer
            self.end_headers()
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json;charset=UTF-8")

    def _send_empty(self, status: int) -> None:
        self._send(status, b"", None)

    # -- faults --

    def _gateway_error(self, route: Route, status: int) -> dict[str, Any]:
        if route.market == "naver":
            code = {429: "GW.RATE_LIMIT", 500: "GW.INTERNAL_SERVER_ERROR", 503: "GW.BLOCK.02", 504: "GW.TIMEOUT.01"}[
                status
            ]
            message = {
                429: "요청이 많아 서비스를 일시적으로 사용할 수 없습니다.",
                500: "내부 서버 오류입니다.",
                503: "점검 중입니다.",
                504: "요청 대기 시간이 초과되었습니다.",
            }[status]
            return {"code": code, "message": message, "timestamp": now_kst_iso(), "traceId": self.request_id}
        if status == 500:
            return {"code": 500, "message": "Internal Server Error", "data": None}
        message = {429: "Too Many Requests", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
        return {"code": "ERROR", "message": message, "transactionId": self.request_id}

    def _apply_faults(self, route: Route) -> bool:
        """Apply pre-processing faults. Returns False when a fault response was already sent."""
        store = self.store
        faults = store.faults
        if faults.scope == "answers" and not route.is_answer:
            return True
        if faults.down:
            self._send_json(503, self._gateway_error(route, 503))
            return False
        if faults.burst_429 and store.take_counted("burst_429"):
            self._send_json(429, self._gateway_error(route, 429))
            return False
        if faults.latency_ms > 0:
            store.stopping.wait(faults.latency_ms / 1000)
        if faults.fault_rate > 0 and store.rng.random() < faults.fault_rate:
            self._send_json(500, self._gateway_error(route, 500))
            return False
        if faults.read_timeout > 0 and store.take_counted("read_timeout_count"):
            # Hold long enough for the client to time out; the request is NOT processed.
            store.stopping.wait(faults.read_timeout)
            self.close_connection = True
            self._send_json(504, self._gateway_error(route, 504))
            return False
        return True

    def _answer_flow(self, route: Route, apply: Callable[[], Callable[[], None]]) -> None:
        """Run an answer write with the hold / lost-response faults around it.

        ``apply`` runs under the store lock; it raises ``Reply`` to reject, or applies the answer,
        records it in the ledger and returns the function that sends the success response.
        """
        store = self.store
        mode = store.faults.hold_answers
        if mode == "before_apply" and not store.hold():
            # Released with apply=False (or the sandbox stopped): nothing was applied.
            self.close_connection = True
            self._send_json(503, self._gateway_error(route, 503))
            return
        with store.lock:
            respond = apply()
        if mode == "after_apply":
            store.hold()
        if (
            store.faults.lost_response
            and store.chance(store.faults.lost_response_rate)
            and store.take_counted("lost_response_count")
        ):
            if store.faults.lost_response == "drop":
                # Processed, but the connection dies before any response byte is written.
                self.close_connection = True
                store.note_status(0)
                return
            self.close_connection = True
            self._send_json(504, self._gateway_error(route, 504))
            return
        respond()

    # -- Coupang --

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


class _SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], store: SandboxStore):
        self.store = store
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, SandboxRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("sandbox connection error from %s", client_address, exc_info=True)


class SandboxURLs:
    """Where each marketplace's API lives on a sandbox whose root is ``self.url``."""

    if TYPE_CHECKING:  # an attribute or a property of the subclass

        @property
        def url(self) -> str: ...

    @property
    def coupang_base_url(self) -> str:
        return self.url

    @property
    def naver_base_url(self) -> str:
        return self.url + "/external"


class SandboxServer(SandboxURLs):
    """The sandbox marketplace. ``start()`` serves in a background thread; ``stop()`` ends it.

    >>> with SandboxServer() as sandbox:            # doctest: +SKIP
    ...     creds = sandbox.store.register_demo_accounts()
    ...     sandbox.store.add_inquiries("COUPANG_ONLINE", 20)
    ...     sandbox.coupang_base_url, sandbox.naver_base_url
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, store: SandboxStore | None = None, *, seed: int | None = None
    ):
        self.store = store or SandboxStore(seed=seed)
        self._httpd = _SandboxHTTPServer((host, port), self.store)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def control_url(self) -> str:
        return self.url + "/_sandbox"

    def start(self) -> SandboxServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"sandbox-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake held requests, close every open connection. Idempotent."""
        self.store.shutdown()  # wakes held requests and fault sleeps
        if self._thread is not None:
            self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_all_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
