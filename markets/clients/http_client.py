"""The HTTP half of every marketplace client: the session, local rate-limit slots, retried reads, and a
write sent once with its outcome classified (research/reliability.md §2.6):

* the request definitely never reached the marketplace  -> ``FAILED_RETRYABLE`` (safe to retry)
* the marketplace rejected it without effect            -> ``FAILED_PERMANENT`` / ``AUTH_ERROR`` /
                                                           ``RATE_LIMITED``
* the marketplace says an answer already exists          -> ``ALREADY_ANSWERED``
* it accepted it                                         -> ``DELIVERED``
* we cannot know (read timeout, reset after sending, 5xx) -> ``UNKNOWN`` — never resend; reconcile

Writes are never retried inside the client except when the marketplace proved the first attempt was
not processed (Naver ``401 GW.AUTHN`` → renew the token, retry once). Reads are idempotent and are
retried a few times on transient errors. The market modules fill in the hooks (signing, error bodies).
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Self

import requests
from requests.adapters import HTTPAdapter

from partialauto import backoff

if TYPE_CHECKING:  # pragma: no cover
    from markets.clients.ratelimit import Limiter
from markets.clients.transport import (
    BACKOFF_CAP_SECONDS,
    HttpResult,
    SendState,
    TransportFailure,
    classify_transport_error,
)
from markets.clients.types import (
    LIMITER_ERROR_RETRY_SECONDS,
    ClientConfig,
    MarketAuthError,
    MarketError,
    MarketRateLimited,
    MarketRequestError,
    MarketUnavailable,
    SendOutcome,
    SendResult,
    logger,
)


@dataclass
class Endpoint:
    """A call target: its rate-limit key suffix and whether it mutates remote state."""

    name: str
    write: bool = False


@dataclass
class _Prepared:
    method: str
    path: str  # path relative to the base URL, beginning with '/'
    query: str = ""  # the exact encoded query string that is sent (and signed)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


class HttpClient(abc.ABC):
    """HTTP calls of one marketplace account (``MarketClient`` builds the CS API on it). Thread-safe for
    reads; one ``requests.Session`` per client."""

    #: how many times a read is retried after a transient failure (network, 5xx, 429)
    read_retries: int = 3
    #: base of the exponential 429 back-off in seconds (≥ 1 s against the real marketplaces)
    rate_limit_backoff_base: float = 1.0
    #: pause before retrying a read after a network error / 5xx
    read_retry_pause: float = 0.25
    #: longest wait for a local rate-limit slot before giving up
    acquire_timeout_read: float = 30.0
    acquire_timeout_write: float = 10.0
    #: before a write, drop pooled keep-alive connections idle longer than this. A connection that a
    #: NAT or load balancer silently dropped would otherwise turn the answer into an UNKNOWN outcome
    #: (reset after the bytes left us) instead of a clean send on a fresh connection.
    write_reconnect_after_idle: float = 30.0

    def __init__(self, config: ClientConfig, limiter: Limiter, session: requests.Session | None = None):
        config.validate()
        self.config = config
        self.limiter = limiter
        self.session = session or self._new_session()
        # consecutive 429s per limiter key, for the exponential back-off
        self._backoff_lock = threading.Lock()
        self._backoff_streak: dict[str, int] = {}
        self._last_io = 0.0  # time.monotonic() of the last response on self.session

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        # No transparent retries anywhere: a retried POST could answer twice. urllib3's default for
        # requests is already Retry(0, read=False); mounting it explicitly documents the intent.
        adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=8)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"User-Agent": "partialauto/1.0", "Accept": "application/json"})
        # Never pick up proxies or .netrc credentials from the environment for marketplace calls.
        session.trust_env = False
        return session

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} account={self.config.account_key!r} base={self.config.base_url!r}>"

    # -- hooks for the market modules --

    @abc.abstractmethod
    def _authorize(self, prepared: _Prepared, *, force_refresh: bool = False) -> None:
        """Add authentication headers to ``prepared`` (may raise MarketAuthError/TransportFailure)."""

    def _rate_for(self, key: str) -> tuple[float, int]:
        """(tokens per second, burst) for a limiter key."""
        return (8.0, 10)

    def _observe_headers(self, key: str, headers: Mapping[str, str]) -> None:  # noqa: B027 (optional hook)
        """Learn rate-limit hints from response headers (Naver); by default there is nothing to learn."""

    def _is_auth_retryable(self, result: HttpResult) -> bool:
        """True when a 401 proves the request was not processed and fresh credentials may help."""
        return False

    @abc.abstractmethod
    def _is_already_answered(self, kind: str, result: HttpResult) -> bool: ...

    @abc.abstractmethod
    def _remote_ref(self, kind: str, result: HttpResult) -> str | None: ...

    @abc.abstractmethod
    def _error_message(self, result: HttpResult) -> str: ...

    # -- shared machinery --

    def _limit_key(self, endpoint: Endpoint) -> str:
        return f"{self.config.limiter_scope}:{endpoint.name}"

    def _url(self, prepared: _Prepared) -> str:
        url = self.config.base_url + prepared.path
        return f"{url}?{prepared.query}" if prepared.query else url

    def _transmit(self, prepared: _Prepared) -> HttpResult:
        """One HTTP exchange. Raises ``TransportFailure`` when no response arrived."""
        try:
            # The URL is passed pre-encoded (no ``params=``) so the bytes on the wire are exactly the
            # query string that was signed (Coupang HMAC covers the raw query).
            response = self.session.request(
                prepared.method,
                self._url(prepared),
                data=prepared.body,
                headers=prepared.headers,
                timeout=self.config.timeout,
                allow_redirects=False,
            )
            body = response.content  # read fully here so body errors are classified too
        except requests.RequestException as exc:
            raise classify_transport_error(exc) from None
        self._last_io = time.monotonic()
        return HttpResult(status=response.status_code, headers=response.headers, body=body)

    def _drop_idle_connections(self) -> None:
        """Close pooled connections; requests in flight on other threads finish on theirs."""
        for adapter in self.session.adapters.values():
            poolmanager = getattr(adapter, "poolmanager", None)
            if poolmanager is not None:
                poolmanager.clear()

    def _acquire(self, key: str, endpoint: Endpoint) -> bool:
        rate, burst = self._rate_for(key)
        timeout = self.acquire_timeout_write if endpoint.write else self.acquire_timeout_read
        return self.limiter.acquire(key, rate, burst, timeout)

    def _next_backoff(self, key: str) -> float:
        """Exponential back-off with jitter for consecutive 429s on one key (≥ the base)."""
        with self._backoff_lock:
            streak = self._backoff_streak.get(key, 0)
            self._backoff_streak[key] = streak + 1
        # base × 2^streak (capped) plus up to half of it again
        return backoff.jittered(
            streak + 1, base=self.rate_limit_backoff_base, cap=BACKOFF_CAP_SECONDS, low=1.0, high=1.5
        )

    def _reset_backoff(self, key: str) -> None:
        with self._backoff_lock:
            self._backoff_streak.pop(key, None)

    def _on_429(self, key: str, result: HttpResult) -> float:
        delay = self._next_backoff(key)
        self.limiter.penalize(key, delay)
        logger.warning("market rate limited (429) key=%s backoff=%.2fs", key, delay)
        return delay

    def _read(self, endpoint: Endpoint, prepared: _Prepared) -> HttpResult:
        """Perform an idempotent read with retries; return a 2xx result or raise ``MarketError``."""
        key = self._limit_key(endpoint)
        auth_refreshed = False  # at most one credential renewal per call
        refresh_pending = False  # renew on the next attempt only (not on every later retry)
        attempt = 0
        while True:
            if not self._acquire(key, endpoint):
                raise MarketRateLimited(
                    f"no local rate-limit slot for {endpoint.name} within {self.acquire_timeout_read:.0f}s"
                )
            try:
                self._authorize(prepared, force_refresh=refresh_pending)
                refresh_pending = False
                result = self._transmit(prepared)
            except TransportFailure as failure:
                attempt += 1
                if attempt > self.read_retries:
                    raise MarketUnavailable(f"{endpoint.name}: {failure.message}") from None
                logger.info(
                    "market read retry endpoint=%s reason=%s attempt=%d", endpoint.name, failure.message, attempt
                )
                time.sleep(self.read_retry_pause * attempt)
                continue
            self._observe_headers(key, result.headers)
            status = result.status
            if 200 <= status < 300:
                self._reset_backoff(key)
                return result
            if status == 429:
                attempt += 1
                if attempt > self.read_retries:
                    raise MarketRateLimited(f"{endpoint.name}: HTTP 429 after {attempt} attempts", http_status=429)
                self._on_429(key, result)
                continue
            if status == 401 and not auth_refreshed and self._is_auth_retryable(result):
                auth_refreshed = refresh_pending = True
                continue
            message = f"{endpoint.name}: HTTP {status}: {self._error_message(result)}"
            if status in (401, 403):
                raise MarketAuthError(message, http_status=status)
            if status >= 500:
                attempt += 1
                if attempt > self.read_retries:
                    raise MarketUnavailable(message, http_status=status)
                time.sleep(self.read_retry_pause * attempt)
                continue
            raise MarketRequestError(message, http_status=status)

    def _write(self, kind: str, external_id: str, endpoint: Endpoint, prepared: _Prepared) -> SendResult:
        """Perform a non-idempotent write once and classify the outcome (never raises MarketError)."""
        key = self._limit_key(endpoint)
        try:
            acquired = self._acquire(key, endpoint)
        except Exception as exc:  # the limiter's store (Redis, the database) failed: nothing was sent
            return self._log_result(
                kind,
                external_id,
                SendResult(
                    SendOutcome.RATE_LIMITED,
                    error=f"rate limiter unavailable ({type(exc).__name__}); not sent",
                    retry_after=LIMITER_ERROR_RETRY_SECONDS,
                ),
            )
        if not acquired:
            return self._log_result(
                kind,
                external_id,
                SendResult(
                    SendOutcome.RATE_LIMITED,
                    error=f"no local rate-limit slot within {self.acquire_timeout_write:.0f}s (not sent)",
                    retry_after=1.0,
                ),
            )
        auth_refreshed = False
        while True:
            try:
                self._authorize(prepared, force_refresh=auth_refreshed)
            except MarketAuthError as exc:
                return self._log_result(
                    kind, external_id, SendResult(SendOutcome.AUTH_ERROR, exc.http_status, exc.message)
                )
            except (TransportFailure, MarketError) as exc:
                # Getting credentials failed before our request was built: nothing was sent.
                message = getattr(exc, "message", str(exc))
                return self._log_result(
                    kind, external_id, SendResult(SendOutcome.FAILED_RETRYABLE, None, f"auth step failed: {message}")
                )
            if time.monotonic() - self._last_io > self.write_reconnect_after_idle:
                self._drop_idle_connections()
            try:
                result = self._transmit(prepared)
            except TransportFailure as failure:
                outcome = SendOutcome.FAILED_RETRYABLE if failure.state == SendState.NOT_SENT else SendOutcome.UNKNOWN
                return self._log_result(kind, external_id, SendResult(outcome, None, failure.message))
            self._observe_headers(key, result.headers)
            if result.status == 401 and not auth_refreshed and self._is_auth_retryable(result):
                # The gateway refused the token, so the request was not processed: renewing the token
                # and retrying once is safe (Naver's documented fallback).
                auth_refreshed = True
                continue
            break
        send_result = self._classify_write(kind, key, result)
        return self._log_result(kind, external_id, send_result)

    def _classify_write(self, kind: str, key: str, result: HttpResult) -> SendResult:
        status = result.status
        if 200 <= status < 300:
            self._reset_backoff(key)
            body_error = self._body_error_on_success(result)
            if body_error:
                # A 2xx whose body says "error": we cannot tell whether it was applied.
                return SendResult(SendOutcome.UNKNOWN, status, f"2xx with error body: {body_error}")
            return SendResult(SendOutcome.DELIVERED, status, "", self._remote_ref(kind, result))
        message = f"HTTP {status}: {self._error_message(result)}"
        if status == 429:
            delay = self._on_429(key, result)
            return SendResult(SendOutcome.RATE_LIMITED, status, message, retry_after=delay)
        if 400 <= status < 500 and self._is_already_answered(kind, result):
            return SendResult(SendOutcome.ALREADY_ANSWERED, status, message)
        if status in (401, 403):
            return SendResult(SendOutcome.AUTH_ERROR, status, message)
        if status == 408:
            # The server gave up waiting for our request before processing it.
            return SendResult(SendOutcome.FAILED_RETRYABLE, status, message)
        if 400 <= status < 500:
            return SendResult(SendOutcome.FAILED_PERMANENT, status, message)
        if status >= 500:
            return SendResult(SendOutcome.UNKNOWN, status, message)
        # 1xx/3xx should not happen (redirects are not followed); the outcome is unknowable.
        return SendResult(SendOutcome.UNKNOWN, status, message)

    def _body_error_on_success(self, result: HttpResult) -> str | None:
        return None

    def _log_result(self, kind: str, external_id: str, result: SendResult) -> SendResult:
        level = logging.INFO if result.outcome == SendOutcome.DELIVERED else logging.WARNING
        logger.log(
            level,
            "market answer kind=%s external_id=%s account=%s outcome=%s http_status=%s error=%s",
            kind,
            external_id,
            self.config.account_key,
            result.outcome.value,
            result.http_status,
            result.error,
        )
        return result
