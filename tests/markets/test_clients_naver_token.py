"""Naver token lifecycle: cached, renewed below 30 minutes, renewed once after 401 GW.AUTHN."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from markets.clients.base import get_client
from markets.clients.naver_auth import CachedToken, MemoryTokenCache
from markets.clients.ratelimit import NullLimiter
from markets.clients.types import NAVER_INQUIRY, NAVER_QNA, MarketAuthError, SendOutcome
from tests.markets.conftest import fast, naver_config_for

NOW = datetime.now(UTC)


def _list(client, kind=NAVER_QNA):
    return list(client.list_inquiries(kind, NOW - timedelta(days=1), NOW))


def test_token__cached_across_calls(sandbox, naver_client) -> None:
    sandbox.store.add_inquiries(NAVER_QNA, 3, days_back=0.5)
    _list(naver_client)
    _list(naver_client, NAVER_INQUIRY)
    _list(naver_client)
    assert sandbox.store.token_requests == 1


def test_token__shared_by_clients_of_the_same_account(sandbox, naver_account) -> None:
    cache = MemoryTokenCache()
    first = fast(get_client(naver_config_for(sandbox, naver_account), NullLimiter(), token_cache=cache))
    second = fast(get_client(naver_config_for(sandbox, naver_account), NullLimiter(), token_cache=cache))
    _list(first)
    _list(second)
    assert sandbox.store.token_requests == 1


def test_token__renewed_when_less_than_30_minutes_remain(sandbox, naver_client) -> None:
    # The sandbox issues tokens that live only 25 minutes: every use is "below 30 min", so renew.
    sandbox.store.set_faults(token_ttl=25 * 60)
    _list(naver_client)
    _list(naver_client)
    assert sandbox.store.token_requests == 2
    assert sandbox.store.tokens_issued == 2


def test_token__client_clock_says_renew__server_returns_same_token__no_request_storm(sandbox, naver_client) -> None:
    _list(naver_client)
    key = naver_client._token_key
    entry = naver_client.token_cache.get(key)
    # Our clock believes 29 minutes remain; Naver still thinks it has ~3 h and returns the same token.
    now = time.time()
    naver_client.token_cache.set(key, CachedToken(entry.token, now + 29 * 60, now - 1))
    _list(naver_client)
    _list(naver_client)
    assert sandbox.store.token_requests == 2  # asked once, then waits a minute before asking again
    assert sandbox.store.tokens_issued == 1
    assert naver_client.token_cache.get(key).token == entry.token


def test_token__renewal_with_injected_clock(sandbox, naver_account) -> None:
    fake_now = [time.time()]
    client = fast(
        get_client(
            naver_config_for(sandbox, naver_account),
            NullLimiter(),
            token_cache=MemoryTokenCache(),
            clock=lambda: fake_now[0],
        )
    )
    _list(client)
    _list(client)
    assert sandbox.store.tokens_issued == 1
    # 2 h 40 min later both sides see 20 minutes left: the client asks and Naver issues a new token.
    sandbox.store.age_naver_tokens(3 * 3600 - 20 * 60)
    fake_now[0] += 3 * 3600 - 20 * 60
    _list(client)
    assert sandbox.store.tokens_issued == 2
    _list(client)
    assert sandbox.store.token_requests == 2  # the new token is cached again


def test_token__expired_server_side__401_then_renewed_once_and_retried(sandbox, naver_client) -> None:
    _list(naver_client)
    sandbox.store.expire_naver_tokens()
    _list(naver_client)
    assert sandbox.store.token_requests == 2
    assert sandbox.store.by_status[401] == 1


def test_token__expired_during_write__retried_once_and_delivered_once(sandbox, naver_client) -> None:
    external_id = sandbox.store.add_inquiry(NAVER_INQUIRY, created_at=NOW - timedelta(hours=1))
    _list(naver_client)
    sandbox.store.expire_naver_tokens()

    result = naver_client.post_answer(NAVER_INQUIRY, external_id, "답변", {})

    assert result.outcome == SendOutcome.DELIVERED
    assert sandbox.store.answer_requests[NAVER_INQUIRY] == 2  # the 401 one was rejected before processing
    assert len(sandbox.store.answers(NAVER_INQUIRY)) == 1


def test_token__always_401__auth_error_after_one_renewal(sandbox, naver_client) -> None:
    # Every token dies immediately: renewal cannot help, the client must not loop.
    sandbox.store.set_faults(token_ttl=0)
    with pytest.raises(MarketAuthError, match=r"GW\.AUTHN"):
        _list(naver_client)
    assert sandbox.store.token_requests == 2


def test_token__refused__clear_auth_error(sandbox, naver_account) -> None:
    from markets.sandbox.accounts import generate_naver_secret

    client = fast(
        get_client(naver_config_for(sandbox, naver_account, client_secret=generate_naver_secret()), NullLimiter())
    )
    with pytest.raises(MarketAuthError, match="token request refused: HTTP 400"):
        _list(client)
    ok, message = client.check_connection()
    assert not ok and "token" in message


def test_check_connection__ok_for_both_markets(coupang_client, naver_client) -> None:
    for client in (coupang_client, naver_client):
        ok, message = client.check_connection()
        assert ok, message


def test_check_connection__unreachable__false_with_reason(sandbox, naver_account, closed_port) -> None:
    client = fast(
        get_client(
            naver_config_for(sandbox, naver_account, api_base_url=f"http://127.0.0.1:{closed_port}/external"),
            NullLimiter(),
        )
    )
    ok, message = client.check_connection()
    assert not ok and "refused" in message
