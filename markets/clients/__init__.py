"""Marketplace API clients (Coupang WING, Naver Commerce) behind one interface.

Typical use (ingestion / send pipeline / reconciliation)::

    from markets.clients import ClientConfig, SendOutcome, get_client

    client = get_client(ClientConfig(market_code="COUPANG", vendor_id=..., access_key=...,
                                      secret_key=..., reply_by=..., account_key="coupang_main"))
    for item in client.list_inquiries(COUPANG_ONLINE, start, end):
        ...  # RemoteInquiry or Malformed
    result = client.post_answer(kind, external_id, text, reply_context)
    state = client.lookup(kind, external_id, created_at)
"""

from __future__ import annotations

from markets.clients.base import MarketClient, get_client
from markets.clients.ratelimit import (
    DatabaseTokenBucket,
    Limiter,
    LocalTokenBucket,
    NullLimiter,
    RedisTokenBucket,
    get_limiter,
)
from markets.clients.types import (
    ALL_KINDS,
    COUPANG_CALLCENTER,
    COUPANG_ONLINE,
    KINDS_BY_MARKET,
    MARKET_COUPANG,
    MARKET_SMARTSTORE,
    NAVER_INQUIRY,
    NAVER_QNA,
    ClientConfig,
    LookupResult,
    Malformed,
    MarketAuthError,
    MarketError,
    MarketRateLimited,
    MarketRequestError,
    MarketResponseError,
    MarketUnavailable,
    ParsedPage,
    RemoteInquiry,
    SendOutcome,
    SendResult,
)

__all__ = [
    "ALL_KINDS",
    "COUPANG_CALLCENTER",
    "COUPANG_ONLINE",
    "KINDS_BY_MARKET",
    "MARKET_COUPANG",
    "MARKET_SMARTSTORE",
    "NAVER_INQUIRY",
    "NAVER_QNA",
    "ClientConfig",
    "DatabaseTokenBucket",
    "Limiter",
    "LocalTokenBucket",
    "LookupResult",
    "Malformed",
    "MarketAuthError",
    "MarketClient",
    "MarketError",
    "MarketRateLimited",
    "MarketRequestError",
    "MarketResponseError",
    "MarketUnavailable",
    "NullLimiter",
    "ParsedPage",
    "RedisTokenBucket",
    "RemoteInquiry",
    "SendOutcome",
    "SendResult",
    "get_client",
    "get_limiter",
]
