"""What the marketplace clients speak: markets and inquiry kinds, the client configuration, normalized
records, send and lookup results, and the errors reads raise."""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from partialauto.calendar import SEOUL

if TYPE_CHECKING:  # pragma: no cover
    pass

logger = logging.getLogger("partialauto.markets")


KST = SEOUL  # the marketplaces' local time


MAX_PAGES = 1000  # guard against a server that never reports the last page


# When the rate limiter's own store fails, a write is not attempted; ask to be retried after this long.
LIMITER_ERROR_RETRY_SECONDS = 5.0


MARKET_COUPANG = "COUPANG"


MARKET_SMARTSTORE = "SMARTSTORE"


COUPANG_ONLINE = "COUPANG_ONLINE"  # 상품별 고객문의 (product Q&A)


COUPANG_CALLCENTER = "COUPANG_CALLCENTER"  # 쿠팡 고객센터 문의 (transferred by Coupang's call centre)


NAVER_QNA = "NAVER_QNA"  # 상품 문의 (product Q&A; the answer is a PUT that overwrites!)


NAVER_INQUIRY = "NAVER_INQUIRY"  # 고객 문의 (order-related 1:1 inquiry)


KINDS_BY_MARKET: dict[str, tuple[str, ...]] = {
    MARKET_COUPANG: (COUPANG_ONLINE, COUPANG_CALLCENTER),
    MARKET_SMARTSTORE: (NAVER_QNA, NAVER_INQUIRY),
}


ALL_KINDS: tuple[str, ...] = (COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_QNA, NAVER_INQUIRY)


DEFAULT_BASE_URLS = {
    MARKET_COUPANG: "https://api-gateway.coupang.com",
    MARKET_SMARTSTORE: "https://api.commerce.naver.com/external",
}


_BCRYPT_SALT_RE = re.compile(r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{22}$")


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs for one marketplace account.

    ``account_key`` is a stable, non-secret string (e.g. the account's name) used to key the shared
    rate limiter and the token cache. Secrets never appear in ``repr()``.
    """

    market_code: str
    api_base_url: str = ""
    vendor_id: str = ""
    access_key: str = ""
    secret_key: str = ""
    reply_by: str = ""
    client_id: str = ""
    client_secret: str = ""
    account_key: str = ""
    connect_timeout: float = 3.05
    read_timeout: float = 10.0

    def __repr__(self) -> str:
        def hidden(value: str) -> str:
            return "'***'" if value else "''"

        return (
            f"ClientConfig(market_code={self.market_code!r}, api_base_url={self.base_url!r}, "
            f"vendor_id={self.vendor_id!r}, access_key={hidden(self.access_key)}, "
            f"secret_key={hidden(self.secret_key)}, reply_by={self.reply_by!r}, "
            f"client_id={self.client_id!r}, client_secret={hidden(self.client_secret)}, "
            f"account_key={self.account_key!r}, connect_timeout={self.connect_timeout!r}, "
            f"read_timeout={self.read_timeout!r})"
        )

    __str__ = __repr__

    @property
    def base_url(self) -> str:
        """The API base URL without a trailing slash (the real one when none is configured)."""
        return (self.api_base_url or DEFAULT_BASE_URLS.get(self.market_code, "")).rstrip("/")

    @property
    def timeout(self) -> tuple[float, float]:
        return (float(self.connect_timeout), float(self.read_timeout))

    def validate(self) -> None:
        """Raise ``ValueError`` naming (never showing) missing or invalid settings."""
        if self.market_code not in KINDS_BY_MARKET:
            raise ValueError(f"unknown market_code {self.market_code!r}; expected COUPANG or SMARTSTORE")
        if self.market_code == MARKET_COUPANG:
            required: tuple[str, ...] = ("vendor_id", "access_key", "secret_key", "reply_by")
        else:
            required = ("client_id", "client_secret")
        missing = [name for name in required if not getattr(self, name)]
        if missing:
            raise ValueError(f"{self.market_code} account is missing: {', '.join(missing)}")
        if self.market_code == MARKET_SMARTSTORE and not _BCRYPT_SALT_RE.match(self.client_secret):
            # Naver's client secret *is* a bcrypt salt ("$2a$04$" + 22 chars); anything else cannot sign.
            raise ValueError("SMARTSTORE client_secret is not a valid bcrypt salt (expected $2a$NN$ + 22 chars)")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("api_base_url must start with http:// or https://")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")

    @property
    def limiter_scope(self) -> str:
        """Non-secret identity the rate limits are counted against on the marketplace side."""
        if self.market_code == MARKET_COUPANG:
            return f"coupang:{self.vendor_id}"  # Coupang counts per vendorId
        return f"naver:{self.client_id}"  # Naver counts per application (and per API)


@dataclass
class RemoteInquiry:
    """One marketplace inquiry in the normalized shape of market-apis.md §4.

    ``reply_context`` carries what ``post_answer``/``lookup`` need later (always ``created_at`` as an
    ISO string; call-center: ``parentAnswerId``, ``inquiryStatus``, ``partnerTransferStatus``…). Pass
    it back unchanged. ``raw`` is the marketplace's item as received; it may hold personal data
    (masked names, masked phone numbers) — store it, do not log it.
    """

    kind: str
    external_id: str
    created_at: datetime
    title: str
    content: str
    product_id: str | None
    product_name: str | None
    order_id: str | None
    answered: bool
    answer_text: str | None
    reply_context: dict[str, Any]
    buyer_name_masked: str | None
    raw: dict[str, Any]
    #: the orders the inquiry names: ``order_ids``, Naver ``product_order_ids``, Coupang ``item_ids``
    #: (vendorItemIds, to pick the right shipment box of an order)
    order_refs: dict[str, list[str]] = field(default_factory=dict)
    #: every product id the payload carries (product id, seller product id, option id…)
    product_refs: list[str] = field(default_factory=list)


@dataclass
class Malformed:
    """An item (or a whole page) the parser could not turn into a ``RemoteInquiry``.

    ``payload`` is the original item dict, or the raw response text when the page itself was unreadable.
    Nothing is dropped: the caller stores it for a person to look at.
    """

    kind: str
    payload: Any
    error: str


@dataclass
class ParsedPage:
    """Result of parsing one list response body.

    ``ok`` is False when the envelope itself was unreadable; then ``items`` holds one ``Malformed``
    with the raw text and the paging position is unknown.
    """

    items: list[RemoteInquiry | Malformed]
    ok: bool
    page: int | None = None
    total_pages: int | None = None
    last: bool | None = None
    error: str | None = None


class SendOutcome(enum.StrEnum):
    DELIVERED = "DELIVERED"  # 2xx: the marketplace accepted the answer
    FAILED_RETRYABLE = "FAILED_RETRYABLE"  # definitely not sent (connect failure, local pre-check failed)
    FAILED_PERMANENT = "FAILED_PERMANENT"  # rejected without effect (4xx); a person must look
    ALREADY_ANSWERED = "ALREADY_ANSWERED"  # an answer exists remotely; reconcile (ours or someone else's?)
    AUTH_ERROR = "AUTH_ERROR"  # 401/403: credentials, IP allowlist or API permission
    RATE_LIMITED = "RATE_LIMITED"  # 429 or no local rate-limit slot; not sent; retry after retry_after
    UNKNOWN = "UNKNOWN"  # may or may not have been applied: do NOT resend, reconcile with lookup()


@dataclass
class SendResult:
    outcome: SendOutcome
    http_status: int | None = None
    error: str = ""
    remote_ref: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == SendOutcome.DELIVERED


@dataclass
class LookupResult:
    """What the marketplace currently says about one inquiry.

    ``outcome_error`` is set when the marketplace could not be asked (network, auth, 5xx): then
    ``found``/``answered`` mean nothing and reconciliation must try again later.
    """

    found: bool
    answered: bool
    answer_text: str | None
    outcome_error: str | None = None


class MarketError(Exception):
    """A read call failed. Messages are short and never contain secrets or tokens."""

    def __init__(self, message: str, *, http_status: int | None = None, malformed: Malformed | None = None):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.malformed = malformed


class MarketAuthError(MarketError):
    """401/403 or a token request that was refused."""


class MarketRateLimited(MarketError):
    """429s persisted, or no local rate-limit slot was available in time."""


class MarketUnavailable(MarketError):
    """Network failure, timeout or 5xx after the read retries."""


class MarketRequestError(MarketError):
    """The marketplace rejected our request (4xx other than auth/rate limit)."""


class MarketResponseError(MarketError):
    """The response could not be understood (bad JSON, missing paging), listing is incomplete."""
