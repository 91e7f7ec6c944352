"""Rate limiting: the shared token buckets (memory, database, Redis) and the clients' 429 back-off."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from markets.clients.base import get_client
from markets.clients.ratelimit import (
    DatabaseTokenBucket,
    LocalTokenBucket,
    NullLimiter,
    RedisTokenBucket,
    get_limiter,
    reset_limiter_cache,
)
from markets.clients.types import COUPANG_ONLINE, NAVER_QNA, MarketRateLimited
from tests.markets.conftest import coupang_config_for, fast, naver_config_for

NOW = datetime.now(UTC)


class SpyLimiter(LocalTokenBucket):
    """A real in-process bucket that also records what the client asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.penalties: list[tuple[str, float]] = []
        self.rates: list[tuple[str, float, int]] = []

    def acquire(self, key: str, rate: float, burst: int, timeout: float) -> bool:
        self.rates.append((key, rate, burst))
        return super().acquire(key, rate, burst, timeout)

    def penalize(self, key: str, seconds: float) -> None:
        self.penalties.append((key, seconds))
        super().penalize(key, seconds)


# --- bucket semantics (shared by every backend) -------------------------------------------------


def _bucket_contract(bucket, key: str) -> None:
    # burst is available at once, then the rate applies
    assert all(bucket.acquire(key, 20.0, 3, timeout=0) for _ in range(3))
    assert bucket.acquire(key, 20.0, 3, timeout=0) is False
    started = time.monotonic()
    assert bucket.acquire(key, 20.0, 3, timeout=1.0) is True
    assert 0.02 <= time.monotonic() - started < 0.5
    # a penalty blocks everyone on the key until it ends
    bucket.penalize(key, 0.3)
    assert bucket.acquire(key, 1000.0, 10, timeout=0.05) is False
    started = time.monotonic()
    assert bucket.acquire(key, 1000.0, 10, timeout=2.0) is True
    assert time.monotonic() - started >= 0.15
    # keys are independent
    assert bucket.acquire(key + ":other", 1.0, 1, timeout=0) is True


def test_local_bucket__contract() -> None:
    _bucket_contract(LocalTokenBucket(), "k")


def test_null_limiter__never_blocks() -> None:
    limiter = NullLimiter()
    limiter.penalize("k", 100)
    assert all(limiter.acquire("k", 0.001, 1, timeout=0) for _ in range(100))


@pytest.mark.django_db
def test_database_bucket__contract() -> None:
    _bucket_contract(DatabaseTokenBucket(), "coupang:A1")


@pytest.mark.django_db
def test_database_bucket__state_lives_in_market_rate_bucket_table() -> None:
    from django.db import connection

    bucket = DatabaseTokenBucket()
    bucket.acquire("naver:app:list", 5.0, 4, timeout=0)
    bucket.penalize("naver:app:list", 30)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tokens, blocked_until FROM market_rate_bucket WHERE " + connection.ops.quote_name("key") + " = %s",
            ["naver:app:list"],
        )
        tokens, blocked_until = cursor.fetchone()
    assert 2.9 <= tokens <= 3.1
    assert blocked_until > time.time() + 25


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_database_bucket__threads_share_one_bucket() -> None:
    """Several workers (threads with their own connections) never exceed burst + rate × time."""
    from django.db import connections

    bucket, acquired, lock = DatabaseTokenBucket(), [], threading.Lock()
    started = time.monotonic()

    def worker() -> None:
        try:
            for _ in range(6):
                if bucket.acquire("coupang:shared", 10.0, 5, timeout=0):
                    with lock:
                        acquired.append(time.monotonic())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert 5 <= len(acquired) <= 5 + 10.0 * elapsed + 1


# --- Redis ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.skip("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(5)


def test_redis_bucket__contract(redis_url: str) -> None:
    _bucket_contract(RedisTokenBucket(redis_url), f"k{time.time_ns()}")


def test_redis_bucket__two_processes_views_share_state(redis_url: str) -> None:
    key = f"shared{time.time_ns()}"
    first, second = RedisTokenBucket(redis_url), RedisTokenBucket(redis_url)
    assert first.acquire(key, 1.0, 2, timeout=0) and second.acquire(key, 1.0, 2, timeout=0)
    assert first.acquire(key, 1.0, 2, timeout=0) is False and second.acquire(key, 1.0, 2, timeout=0) is False
    first.penalize(key, 5)
    assert second.acquire(key, 1000.0, 100, timeout=0) is False


def test_get_limiter__redis_when_configured_else_database(settings, redis_url: str) -> None:
    reset_limiter_cache()
    try:
        settings.REDIS_URL = redis_url
        assert isinstance(get_limiter(), RedisTokenBucket)
        reset_limiter_cache()
        settings.REDIS_URL = ""
        assert isinstance(get_limiter(), DatabaseTokenBucket)
    finally:
        reset_limiter_cache()


# --- clients and 429 ------------------------------------------------------------------------------


def test_read__429__backs_off_exponentially_then_succeeds(sandbox, coupang_account) -> None:
    limiter = SpyLimiter()
    client = fast(get_client(coupang_config_for(sandbox, coupang_account), limiter))
    client.rate_limit_backoff_base = 0.05
    sandbox.store.add_inquiries(COUPANG_ONLINE, 3, days_back=0.5)
    sandbox.store.set_faults(burst_429=2, scope="all")

    started = time.monotonic()
    items = list(client.list_inquiries(COUPANG_ONLINE, NOW - timedelta(days=1), NOW))

    assert len(items) == 3
    assert sandbox.store.by_status[429] == 2
    delays = [seconds for _key, seconds in limiter.penalties]
    assert len(delays) == 2 and 0.05 <= delays[0] <= 0.075 and 0.1 <= delays[1] <= 0.15  # base × 2^n, + ≤50 % jitter
    assert time.monotonic() - started >= 0.15  # the limiter really made the client wait
    assert {key for key, _ in limiter.penalties} == {"coupang:A00012345"}  # per vendor, like Coupang counts


def test_read__429_persists__gives_up_with_rate_limited(sandbox, coupang_client) -> None:
    sandbox.store.set_faults(burst_429=100, scope="all")
    with pytest.raises(MarketRateLimited):
        list(coupang_client.list_inquiries(COUPANG_ONLINE, NOW - timedelta(days=1), NOW))
    assert sandbox.store.by_status[429] == coupang_client.read_retries + 1


def test_real_backoff_base_is_at_least_one_second(coupang_client) -> None:
    assert type(coupang_client).rate_limit_backoff_base >= 1.0


def test_sandbox__coupang_over_10_rps__429(sandbox, coupang_account) -> None:
    sandbox.store.set_faults(coupang_rps=10)
    client = fast(get_client(coupang_config_for(sandbox, coupang_account), NullLimiter()))
    client.read_retries = 0
    with pytest.raises(MarketRateLimited):
        for _ in range(30):
            list(client.list_inquiries(COUPANG_ONLINE, NOW - timedelta(days=1), NOW))


def test_client_default_rate__stays_under_coupang_limit(sandbox, coupang_account) -> None:
    sandbox.store.set_faults(coupang_rps=10)
    client = get_client(coupang_config_for(sandbox, coupang_account), LocalTokenBucket())  # real pacing: 8/s, burst 10
    for _ in range(13):
        list(client.list_inquiries(COUPANG_ONLINE, NOW - timedelta(days=1), NOW))
    assert sandbox.store.by_status[429] == 0


def test_naver__adapts_to_gateway_rate_headers(sandbox, naver_account) -> None:
    limiter = SpyLimiter()
    client = get_client(naver_config_for(sandbox, naver_account), limiter)  # default 2/s, burst 4
    sandbox.store.set_faults(naver_rps=50, naver_burst=100)
    list(client.list_inquiries(NAVER_QNA, NOW - timedelta(days=1), NOW))
    list(client.list_inquiries(NAVER_QNA, NOW - timedelta(days=1), NOW))
    list_rates = [(rate, burst) for key, rate, burst in limiter.rates if key.endswith("list.NAVER_QNA")]
    assert list_rates[0] == (2.0, 4)
    assert list_rates[-1] == (45.0, 50)  # 90 % of the advertised rate, half the burst


def test_naver__remaining_zero__client_pauses(sandbox, naver_account) -> None:
    limiter = SpyLimiter()
    client = fast(get_client(naver_config_for(sandbox, naver_account), limiter))
    sandbox.store.set_faults(naver_rps=20, naver_burst=1)
    list(client.list_inquiries(NAVER_QNA, NOW - timedelta(days=1), NOW))
    assert limiter.penalties and limiter.penalties[-1][1] == pytest.approx(1 / 18)
    assert sandbox.store.by_status[429] == 0
