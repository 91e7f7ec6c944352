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

import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from markets.sandbox.control_routes import ControlRoutes
from markets.sandbox.coupang_routes import CoupangRoutes
from markets.sandbox.naver_routes import NaverRoutes
from markets.sandbox.order_routes import OrderRoutes
from markets.sandbox.protocol import Reply, now_kst_iso
from markets.sandbox.routes import Route, match_route
from markets.sandbox.store import (
    SandboxStore,
)

logger = logging.getLogger("partialauto.markets.sandbox")

MAX_BODY_BYTES = 1_000_000
SIGNATURE_MAX_SKEW_SECONDS = 300  # Coupang: "Specified signature is expired." beyond ±5 min
TOKEN_MAX_SKEW_MS = 300_000  # Naver: the timestamp is valid for 5 minutes

_COUPANG = r"^/v2/providers/openapi/apis/api"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SandboxRequestHandler(CoupangRoutes, NaverRoutes, OrderRoutes, ControlRoutes, BaseHTTPRequestHandler):
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
                route.handler(self, params, raw_query, body)
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
                route.handler(self, route, params, raw_query, body, account)
            else:
                self.extra_headers["GNCP-GW-Trace-ID"] = self.request_id
                if route.handler is NaverRoutes.naver_token:
                    self.naver_token(raw_query, body)
                    return
                naver_account = self._naver_authenticate()
                self._naver_rate_limit(route, naver_account)
                route.handler(self, route, params, raw_query, body, naver_account)
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
