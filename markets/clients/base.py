"""Market-neutral client interface for the marketplace CS APIs (Coupang, Naver SmartStore).

Pure Python: nothing here touches the Django ORM, so the sandbox, the send pipeline and the tests can
use it from any process. The market modules (``coupang.py``, ``naver.py``) fill in signing, paths and
payload parsing; this module owns the public API (listing pages, answering, reconciliation look-ups)
and ``get_client``. The HTTP transport and the classification of a write's outcome are in
``http_client.py``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:  # pragma: no cover
    from markets.clients.ratelimit import Limiter
from markets.clients.http_client import Endpoint, HttpClient, _Prepared
from markets.clients.parsing import ensure_aware, parse_market_datetime, short_text
from markets.clients.types import (
    MARKET_COUPANG,
    MAX_PAGES,
    ClientConfig,
    LookupResult,
    Malformed,
    MarketError,
    MarketResponseError,
    ParsedPage,
    RemoteInquiry,
    SendResult,
    logger,
)


class MarketClient(HttpClient):
    """One marketplace account. Thread-safe for reads; one ``requests.Session`` per client.

    Public API: ``list_inquiries``, ``post_answer``, ``lookup``, ``check_connection``.
    """

    market_code: str = ""
    kinds: tuple[str, ...] = ()
    #: page size per kind (the marketplace maxima); tests may lower them.
    page_sizes: dict[str, int]

    def __init__(self, config: ClientConfig, limiter: Limiter, session: requests.Session | None = None):
        super().__init__(config, limiter, session)
        self.page_sizes = dict(type(self).default_page_sizes())

    @classmethod
    def default_page_sizes(cls) -> dict[str, int]:
        return {}

    # -- public API, implemented per market --

    @abc.abstractmethod
    def list_inquiries(
        self, kind: str, start: datetime, end: datetime, answered: bool | None = None
    ) -> Iterator[RemoteInquiry | Malformed]:
        """Yield every inquiry of ``kind`` created in [start, end] (aware datetimes).

        Windows are split to the API's limits and every page is fetched. Ids are de-duplicated
        within one call. Items may slightly exceed [start, end] where the API filters by whole days
        (Coupang, Naver customer inquiries). An unreadable item is yielded as ``Malformed``. If a whole
        page cannot be read, ``MarketResponseError`` is raised with ``.malformed`` holding the raw body
        (it is not also yielded). Everything yielded before an exception is valid, but the listing is
        incomplete (do not advance a cursor). Network/auth/rate-limit failures raise the other
        ``MarketError`` subclasses.
        """

    def _pages(
        self,
        kind: str,
        windows: Iterable[tuple[Any, Any]],
        prepare: Callable[[tuple[Any, Any], int], _Prepared],
        parse: Callable[[str, bytes], ParsedPage],
    ) -> Iterator[RemoteInquiry | Malformed]:
        """Page through each window until the marketplace says it is done, yielding each inquiry once.

        ``prepare(window, page)`` builds the request; ``parse(kind, body)`` reads one page. A page that
        cannot be read stops the listing (the caller keeps its watermark), with the raw body attached.
        """
        self._check_kind(kind)
        seen: set[str] = set()
        endpoint = Endpoint(f"list.{kind}")
        size = self.page_sizes[kind]
        for window in windows:
            page = 1
            while True:
                result = self._read(endpoint, prepare(window, page))
                parsed = parse(kind, result.body)
                if not parsed.ok:
                    raise MarketResponseError(
                        f"{kind} page {page} ({window[0]}..{window[1]}) unreadable: {parsed.error}",
                        http_status=result.status,
                        malformed=next((i for i in parsed.items if isinstance(i, Malformed)), None),
                    )
                for item in parsed.items:
                    if isinstance(item, RemoteInquiry):
                        if item.external_id in seen:
                            continue  # the list shifted between pages; already yielded
                        seen.add(item.external_id)
                    yield item
                if not parsed.items or parsed.last is True:
                    break
                if parsed.last is None:
                    if parsed.total_pages is not None:
                        if page >= parsed.total_pages:
                            break
                    elif len(parsed.items) < size:
                        break
                page += 1
                if page > MAX_PAGES:
                    raise MarketResponseError(f"{kind}: more than {MAX_PAGES} pages in one window; giving up")

    @abc.abstractmethod
    def post_answer(self, kind: str, external_id: str, text: str, reply_context: dict | None = None) -> SendResult:
        """Send one answer. Never raises for marketplace/network failures: read ``SendResult.outcome``."""

    @abc.abstractmethod
    def lookup(self, kind: str, external_id: str, created_at: datetime | None = None) -> LookupResult:
        """Ask the marketplace whether the inquiry exists and has an answer (for reconciliation)."""

    @abc.abstractmethod
    def check_connection(self) -> tuple[bool, str]:
        """Cheap authenticated read, for the admin's "test connection". Never raises."""

    def _check_kind(self, kind: str) -> None:
        if kind not in self.kinds:
            raise ValueError(f"{kind!r} is not an inquiry kind of {self.market_code} (expected one of {self.kinds})")

    def _lookup_failed(self, kind: str, external_id: str, exc: BaseException) -> LookupResult:
        message = getattr(exc, "message", None) or short_text(exc)
        logger.warning("market lookup failed kind=%s external_id=%s error=%s", kind, external_id, message)
        return LookupResult(found=False, answered=False, answer_text=None, outcome_error=message)

    def _find_in_listing(self, kind: str, external_id: str, start: datetime, end: datetime) -> LookupResult:
        """Lookup by listing a window (for APIs without a single-item GET)."""
        try:
            for item in self.list_inquiries(kind, start, end, answered=None):
                if isinstance(item, RemoteInquiry) and item.external_id == str(external_id):
                    return LookupResult(found=True, answered=item.answered, answer_text=item.answer_text)
                if (
                    isinstance(item, Malformed)
                    and isinstance(item.payload, dict)
                    and any(
                        str(item.payload.get(k)) == str(external_id) for k in ("inquiryId", "questionId", "inquiryNo")
                    )
                ):
                    # Our item exists but is unreadable: its answer state is unknown, so say so.
                    return LookupResult(False, False, None, outcome_error=f"item is malformed: {item.error}")
        except MarketError as exc:
            return self._lookup_failed(kind, external_id, exc)
        return LookupResult(found=False, answered=False, answer_text=None)


def lookup_window(
    created_at: datetime | None, *, fallback_days: int, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The listing window used by ``lookup``: a day either side of ``created_at`` (or the recent past)."""
    now = now or datetime.now(UTC)
    if created_at is None:
        return now - timedelta(days=fallback_days), now
    created_at = ensure_aware(created_at, "created_at")
    # A day either side absorbs clock/zone differences and day-granular filters on the marketplace.
    return created_at - timedelta(days=1), created_at + timedelta(days=1)


def reply_context_created_at(reply_context: Mapping[str, Any] | None) -> datetime | None:
    """Read back the ``created_at`` ISO string every parser stores in ``reply_context``."""
    if not reply_context:
        return None
    value = reply_context.get("created_at")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return parse_market_datetime(value)
        except ValueError:
            return None
    return None


def get_client(config: ClientConfig, limiter: Limiter | None = None, **kwargs: Any) -> MarketClient:
    """Build the client for ``config.market_code``.

    ``limiter`` defaults to the process-wide shared limiter (``ratelimit.get_limiter()``: Redis when
    ``settings.REDIS_URL`` is set, else the ``market_rate_bucket`` table). Extra keyword arguments:
    ``session`` (a ``requests.Session``), and for Naver ``token_cache`` / ``clock``.
    Raises ``ValueError`` when the configuration is incomplete (the message names fields, never values).
    """
    # Imported here: the market modules import this one.
    from markets.clients.coupang import CoupangClient
    from markets.clients.naver import NaverClient
    from markets.clients.ratelimit import get_limiter

    config.validate()
    limiter = limiter if limiter is not None else get_limiter()
    if config.market_code == MARKET_COUPANG:
        kwargs.pop("token_cache", None)
        kwargs.pop("clock", None)
        return CoupangClient(config, limiter, **kwargs)
    return NaverClient(config, limiter, **kwargs)
