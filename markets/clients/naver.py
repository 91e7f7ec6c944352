"""Naver Commerce API (SmartStore) client: product Q&A and customer inquiries.

Spec: research/market-apis.md §2. Paths are relative to the base URL
(``https://api.commerce.naver.com/external``).

* Token: ``POST /v1/oauth2/token`` signed with bcrypt (``client_secret`` is the bcrypt salt). Tokens are
  cached per account and renewed when fewer than 30 minutes remain, and once after a ``401 GW.AUTHN``.
* Product Q&A answers are a ``PUT`` that *overwrites* an existing answer, so ``post_answer`` first
  checks the question is still unanswered and refuses (``ALREADY_ANSWERED``) otherwise.
* The gateway's ``GNCP-GW-RateLimit-*`` headers tune the shared rate limiter.

Signing and the token cache are in ``naver_auth.py``, payload parsing in ``naver_parsing.py``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests

from markets.clients.base import MarketClient, lookup_window, reply_context_created_at
from markets.clients.http_client import Endpoint, _Prepared
from markets.clients.naver_auth import (
    CachedToken,
    TokenCache,
    default_token_cache,
    naver_client_secret_sign,
    token_lock,
)
from markets.clients.naver_orders import NaverOrderReads
from markets.clients.naver_parsing import parse_naver_page, parse_naver_qna_page
from markets.clients.parsing import (
    answer_problem,
    date_windows,
    datetime_windows,
    ensure_aware,
    kst_date,
    opt_text,
    short_text,
)
from markets.clients.ratelimit import NAVER_DEFAULT_BURST, NAVER_DEFAULT_RATE
from markets.clients.transport import HttpResult, TransportFailure
from markets.clients.types import (
    KST,
    MARKET_SMARTSTORE,
    NAVER_INQUIRY,
    NAVER_QNA,
    ClientConfig,
    LookupResult,
    Malformed,
    MarketAuthError,
    MarketError,
    MarketRateLimited,
    MarketResponseError,
    MarketUnavailable,
    RemoteInquiry,
    SendOutcome,
    SendResult,
)

if TYPE_CHECKING:  # pragma: no cover
    from markets.clients.ratelimit import Limiter

logger = logging.getLogger("partialauto.markets")

TOKEN_PATH = "/v1/oauth2/token"
QNAS_PATH = "/v1/contents/qnas"
INQUIRIES_PATH = "/v1/pay-user/inquiries"
ANSWER_INQUIRY_PATH = "/v1/pay-merchant/inquiries/{inquiry_no}/answer"

QNA_PAGE_SIZE = 100  # documented maximum
INQUIRY_PAGE_SIZE = 200  # documented maximum (minimum 10)
#: the Q&A list documents no maximum range; long backfills are split anyway to keep responses small
QNA_WINDOW = timedelta(days=30)
#: customer inquiries: at most 365 days (error 4003); 364 keeps the inclusive span within it
INQUIRY_WINDOW_SPAN_DAYS = 364
LOOKUP_FALLBACK_DAYS = 30

#: renew the token when fewer than this many seconds remain (Naver re-issues only below 30 min)
TOKEN_RENEW_BEFORE = 30 * 60
DEFAULT_TOKEN_LIFETIME = 10_800


def _naver_datetime(value: datetime) -> str:
    """``yyyy-MM-dd'T'HH:mm:ss.SSSXXX`` in KST (urlencode turns '+' into %2B)."""
    return ensure_aware(value).astimezone(KST).isoformat(timespec="milliseconds")


# --- client ------------------------------------------------------------------------------------


class NaverClient(NaverOrderReads, MarketClient):
    market_code = MARKET_SMARTSTORE
    kinds = (NAVER_QNA, NAVER_INQUIRY)
    token_type = "SELF"

    def __init__(
        self,
        config: ClientConfig,
        limiter: Limiter,
        session: requests.Session | None = None,
        *,
        token_cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(config, limiter, session)
        self.token_cache: TokenCache = token_cache or default_token_cache()
        self._clock = clock
        #: (rate, burst) until the gateway's GNCP-GW-RateLimit-* headers say otherwise
        self.default_rate: tuple[float, int] = (NAVER_DEFAULT_RATE, NAVER_DEFAULT_BURST)
        self._learned_rates: dict[str, tuple[float, int]] = {}  # per limiter key (= per API)
        # Non-secret cache key: where + which app + which account.
        raw_key = f"{self.config.base_url}|{self.config.client_id}|{self.config.account_key}|{self.token_type}"
        self._token_key = hashlib.sha256(raw_key.encode()).hexdigest()[:40]

    @classmethod
    def default_page_sizes(cls) -> dict[str, int]:
        return {NAVER_QNA: QNA_PAGE_SIZE, NAVER_INQUIRY: INQUIRY_PAGE_SIZE}

    # -- token --

    def _request_token(self) -> tuple[str, float]:
        """Ask the token endpoint; returns (token, expires_in seconds)."""
        # The real wall clock, not the injectable cache clock: Naver rejects timestamps ±5 min off.
        timestamp_ms = int(time.time() * 1000)
        form = urlencode(
            {
                "client_id": self.config.client_id,
                "timestamp": str(timestamp_ms),
                "grant_type": "client_credentials",
                "client_secret_sign": naver_client_secret_sign(
                    self.config.client_id, self.config.client_secret, timestamp_ms
                ),
                "type": self.token_type,
            }
        )
        endpoint = Endpoint("token")
        key = self._limit_key(endpoint)
        if not self._acquire(key, endpoint):
            raise MarketRateLimited("no local rate-limit slot for the token endpoint")
        prepared = _Prepared(
            "POST", TOKEN_PATH, "", form.encode("ascii"), {"Content-Type": "application/x-www-form-urlencoded"}
        )
        result = self._transmit(prepared)  # TransportFailure propagates: nothing of ours was sent yet
        if result.status == 200:
            document = result.json_or_none()
            token = document.get("access_token") if isinstance(document, dict) else None
            if not isinstance(token, str) or not token:
                raise MarketResponseError("token response has no access_token", http_status=200)
            expires_in = document.get("expires_in", DEFAULT_TOKEN_LIFETIME)
            try:
                expires_in = float(expires_in)
            except (TypeError, ValueError):
                expires_in = float(DEFAULT_TOKEN_LIFETIME)
            logger.info("naver token issued account=%s expires_in=%ss", self.config.account_key, int(expires_in))
            return token, expires_in
        message = f"token request refused: HTTP {result.status}: {self._error_message(result)}"
        if result.status == 429:
            self._on_429(key, result)
            raise MarketRateLimited(message, http_status=429)
        if result.status >= 500:
            raise MarketUnavailable(message, http_status=result.status)
        raise MarketAuthError(message, http_status=result.status)

    def _access_token(self, stale: str | None = None) -> str:
        """A usable token from the cache, or a fresh one. ``stale`` = a token the gateway just refused."""
        with token_lock(self._token_key):
            entry = self.token_cache.get(self._token_key)
            now = self._clock()
            if entry and entry.token != stale and now < entry.refresh_after and now < entry.expires_at - 60:
                return entry.token
            if entry and stale is not None and entry.token == stale:
                self.token_cache.delete(self._token_key)
            token, expires_in = self._request_token()
            now = self._clock()
            expires_at = now + expires_in
            refresh_after = expires_at - TOKEN_RENEW_BEFORE
            if entry and token == entry.token and refresh_after <= now and expires_in > 120:
                # Naver hands back the same token while it thinks ≥30 min remain; our clock disagrees
                # slightly. Use it and ask again in a minute instead of on every call.
                refresh_after = now + 60
            self.token_cache.set(self._token_key, CachedToken(token, expires_at, refresh_after))
            return token

    def invalidate_token(self) -> None:
        self.token_cache.delete(self._token_key)

    # -- hooks --

    def _authorize(self, prepared: _Prepared, *, force_refresh: bool = False) -> None:
        stale = None
        if force_refresh:
            stale = prepared.headers.get("Authorization", "").removeprefix("Bearer ") or None
        prepared.headers["Authorization"] = f"Bearer {self._access_token(stale=stale)}"
        if prepared.body is not None:
            prepared.headers["Content-Type"] = "application/json"

    def _rate_for(self, key: str) -> tuple[float, int]:
        return self._learned_rates.get(key, self.default_rate)

    def _observe_headers(self, key: str, headers: Mapping[str, str]) -> None:
        try:
            rate = float(headers.get("GNCP-GW-RateLimit-Replenish-Rate", "") or 0)
        except ValueError:
            rate = 0.0
        if rate > 0:
            try:
                burst = int(float(headers.get("GNCP-GW-RateLimit-Burst-Capacity", "") or 0))
            except ValueError:
                burst = 0
            # Stay a little under the advertised rate and use half the burst: other processes share
            # the same bucket and network jitter bunches requests up on arrival.
            self._learned_rates[key] = (max(0.1, rate * 0.9), max(1, burst // 2 if burst else int(rate)))
        remaining = headers.get("GNCP-GW-RateLimit-Remaining")
        if remaining is not None:
            try:
                if float(remaining) <= 0:
                    current_rate = self._rate_for(key)[0]
                    self.limiter.penalize(key, 1.0 / current_rate)
            except ValueError:
                pass

    def _is_auth_retryable(self, result: HttpResult) -> bool:
        document = result.json_or_none()
        return result.status == 401 and isinstance(document, dict) and document.get("code") == "GW.AUTHN"

    def _error_message(self, result: HttpResult) -> str:
        document = result.json_or_none()
        if isinstance(document, dict):
            code = document.get("code")
            message = short_text(document.get("message"), 200)
            hint = ""
            if result.status == 403:
                hint = " (check the API group '문의' is enabled and the server IP is registered)"
            return short_text(f"{code}: {message}{hint}" if code else f"{message}{hint}")
        return short_text(result.body[:2000].decode("utf-8", "replace"), 200) or "(empty body)"

    def _is_already_answered(self, kind: str, result: HttpResult) -> bool:
        document = result.json_or_none()
        return isinstance(document, dict) and document.get("code") == "ERR-NC-101010"

    def _remote_ref(self, kind: str, result: HttpResult) -> str | None:
        document = result.json_or_none()
        if isinstance(document, dict) and isinstance(document.get("data"), dict):
            return opt_text(document["data"].get("inquiryCommentNo"))
        return None

    # -- reads --

    def _list_prepared(
        self, kind: str, window: tuple[Any, Any], page: int, answered: bool | None, size: int | None = None
    ) -> _Prepared:
        size = size or self.page_sizes[kind]
        if kind == NAVER_QNA:
            params = [("fromDate", _naver_datetime(window[0])), ("toDate", _naver_datetime(window[1]))]
            path = QNAS_PATH
        else:
            params = [("startSearchDate", window[0].isoformat()), ("endSearchDate", window[1].isoformat())]
            path = INQUIRIES_PATH
        if answered is not None:
            params.append(("answered", "true" if answered else "false"))
        params += [("page", str(page)), ("size", str(size))]
        return _Prepared("GET", path, urlencode(params))

    def _windows(self, kind: str, start: datetime, end: datetime) -> list[tuple[Any, Any]]:
        ensure_aware(start, "start")
        ensure_aware(end, "end")
        if kind == NAVER_QNA:
            return list(datetime_windows(start, end, QNA_WINDOW))
        return list(date_windows(kst_date(start), kst_date(end), INQUIRY_WINDOW_SPAN_DAYS))

    def list_inquiries(
        self, kind: str, start: datetime, end: datetime, answered: bool | None = None
    ) -> Iterator[RemoteInquiry | Malformed]:
        self._check_kind(kind)
        return self._pages(
            kind,
            self._windows(kind, start, end),
            lambda window, page: self._list_prepared(kind, window, page, answered),
            parse_naver_page,
        )

    # -- writes --

    def post_answer(self, kind: str, external_id: str, text: str, reply_context: dict | None = None) -> SendResult:
        self._check_kind(kind)
        problem = answer_problem(external_id, text)
        if problem:
            return self._log_result(kind, str(external_id), SendResult(SendOutcome.FAILED_PERMANENT, None, problem))
        external_id = str(external_id).strip()
        if kind == NAVER_QNA:
            # The PUT registers *or overwrites*. Never clobber an answer someone else (or an earlier
            # attempt of ours) already left: check first, and only then write.
            state = self.lookup(kind, external_id, reply_context_created_at(reply_context))
            if state.outcome_error:
                return self._log_result(
                    kind,
                    external_id,
                    SendResult(
                        SendOutcome.FAILED_RETRYABLE,
                        None,
                        f"could not confirm the question is unanswered (not sent): {state.outcome_error}",
                    ),
                )
            if not state.found:
                return self._log_result(
                    kind,
                    external_id,
                    SendResult(SendOutcome.FAILED_PERMANENT, None, "question not found on Naver (not sent)"),
                )
            if state.answered:
                return self._log_result(
                    kind,
                    external_id,
                    SendResult(
                        SendOutcome.ALREADY_ANSWERED, None, "question already has an answer on Naver; not overwritten"
                    ),
                )
            body = json.dumps({"commentContent": text}, ensure_ascii=False).encode("utf-8")
            prepared = _Prepared("PUT", f"{QNAS_PATH}/{external_id}", "", body)
            return self._write(kind, external_id, Endpoint("answer.qna", write=True), prepared)
        body = json.dumps({"answerComment": text}, ensure_ascii=False).encode("utf-8")
        prepared = _Prepared("POST", ANSWER_INQUIRY_PATH.format(inquiry_no=external_id), "", body)
        return self._write(kind, external_id, Endpoint("answer.inquiry", write=True), prepared)

    # -- reconciliation --

    def lookup(self, kind: str, external_id: str, created_at: datetime | None = None) -> LookupResult:
        self._check_kind(kind)
        start, end = lookup_window(created_at, fallback_days=LOOKUP_FALLBACK_DAYS)
        return self._find_in_listing(kind, str(external_id).strip(), start, end)

    def check_connection(self) -> tuple[bool, str]:
        now = datetime.now(UTC)
        try:
            self._access_token()
        except (MarketError, TransportFailure) as exc:
            return False, f"Naver token request failed: {exc.message}"
        except Exception as exc:
            return False, f"Naver token request failed: {type(exc).__name__}"
        prepared = self._list_prepared(NAVER_QNA, (now - timedelta(days=1), now), 1, None, size=10)
        try:
            result = self._read(Endpoint(f"list.{NAVER_QNA}"), prepared)
        except MarketError as exc:
            return False, f"Naver token OK, but listing product Q&A failed: {exc.message}"
        except Exception as exc:
            return False, f"Naver connection failed: {type(exc).__name__}"
        parsed = parse_naver_qna_page(result.body)
        if not parsed.ok:
            return False, f"Naver answered but the response was not understood: {parsed.error}"
        return True, f"Naver OK: token issued for application {self.config.client_id} and product Q&A readable"
