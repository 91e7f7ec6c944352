"""Fixtures for the marketplace client and sandbox tests: a real sandbox on loopback per test."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from markets.clients.base import MarketClient, get_client
from markets.clients.naver_auth import clear_token_cache, naver_client_secret_sign
from markets.clients.ratelimit import LocalTokenBucket
from markets.clients.types import ClientConfig
from markets.sandbox import SandboxServer
from markets.sandbox.accounts import CoupangAccount, NaverAccount

# Small timeouts keep fault tests fast; the sandbox's faults use slightly longer holds.
TEST_CONNECT_TIMEOUT = 1.0
TEST_READ_TIMEOUT = 0.5


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(seed=1234).start()
    # Rate limits are exercised by dedicated tests; elsewhere they would only slow the suite down.
    server.store.set_faults(coupang_rps=0, naver_rps=1000, naver_burst=2000)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def coupang_account(sandbox: SandboxServer) -> CoupangAccount:
    return sandbox.store.register_coupang_account(vendor_id="A00012345", reply_by="cs-agent")


@pytest.fixture
def naver_account(sandbox: SandboxServer) -> NaverAccount:
    return sandbox.store.register_naver_account(client_id="naver-app-1")


@pytest.fixture
def token(http: requests.Session, sandbox: SandboxServer, naver_account: NaverAccount) -> str:
    """A Naver ``SELF`` access token of ``naver_account``, from the sandbox's token endpoint (``http`` is the
    suite-wide fixture from ``tests.shared_fixtures``)."""
    timestamp = int(time.time() * 1000)
    form = {
        "client_id": naver_account.client_id,
        "timestamp": str(timestamp),
        "grant_type": "client_credentials",
        "client_secret_sign": naver_client_secret_sign(naver_account.client_id, naver_account.client_secret, timestamp),
        "type": "SELF",
    }
    response = http.post(sandbox.naver_base_url + "/v1/oauth2/token", data=form, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture(autouse=True)
def _fresh_naver_tokens() -> Iterator[None]:
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def limiter() -> LocalTokenBucket:
    return LocalTokenBucket()


def coupang_config_for(sandbox: SandboxServer, account: CoupangAccount, **overrides: object) -> ClientConfig:
    values: dict = dict(
        market_code="COUPANG",
        api_base_url=sandbox.coupang_base_url,
        vendor_id=account.vendor_id,
        access_key=account.access_key,
        secret_key=account.secret_key,
        reply_by=account.reply_by[0],
        account_key="coupang_test",
        connect_timeout=TEST_CONNECT_TIMEOUT,
        read_timeout=TEST_READ_TIMEOUT,
    )
    values.update(overrides)
    return ClientConfig(**values)


def naver_config_for(sandbox: SandboxServer, account: NaverAccount, **overrides: object) -> ClientConfig:
    values: dict = dict(
        market_code="SMARTSTORE",
        api_base_url=sandbox.naver_base_url,
        client_id=account.client_id,
        client_secret=account.client_secret,
        account_key="naver_test",
        connect_timeout=TEST_CONNECT_TIMEOUT,
        read_timeout=TEST_READ_TIMEOUT,
    )
    values.update(overrides)
    return ClientConfig(**values)


def fast(client: MarketClient) -> MarketClient:
    """Test pacing: real back-off is ≥ 1 s and real rates are a few calls/s; tests only need to see them work."""
    client.rate_limit_backoff_base = 0.02
    client.read_retry_pause = 0.01
    if hasattr(client, "rate"):
        client.rate = (1000.0, 1000)
    if hasattr(client, "default_rate"):
        client.default_rate = (1000.0, 1000)
    return client


@pytest.fixture
def coupang_client(
    sandbox: SandboxServer, coupang_account: CoupangAccount, limiter: LocalTokenBucket
) -> Iterator[MarketClient]:
    client = fast(get_client(coupang_config_for(sandbox, coupang_account), limiter))
    yield client
    client.close()


@pytest.fixture
def naver_client(
    sandbox: SandboxServer, naver_account: NaverAccount, limiter: LocalTokenBucket
) -> Iterator[MarketClient]:
    client = fast(get_client(naver_config_for(sandbox, naver_account), limiter))
    yield client
    client.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
