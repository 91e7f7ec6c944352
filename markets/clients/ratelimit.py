"""Token-bucket rate limiting shared by every worker process.

The marketplaces count calls per vendor (Coupang: 10 calls/s per vendorId, then 429 and possibly a
long block) or per application and API (Naver). Workers run in several processes, so the bucket must
live outside process memory: in Redis when ``settings.REDIS_URL`` is set, otherwise in the database
table ``market_rate_bucket`` (model ``markets.models.RateBucket``).

Interface (duck-typed, see ``Limiter``):

* ``acquire(key, rate, burst, timeout) -> bool`` — take one token, waiting up to ``timeout`` seconds.
* ``penalize(key, seconds)`` — after a 429: nobody gets a token for ``key`` for ``seconds``.

The sleeping happens in the caller's process, never inside a lock or a database transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

logger = logging.getLogger("partialauto.markets")

# Defaults (market-apis.md §1.9, §2.8). Coupang allows 10 calls/s per vendor; stay under it.
COUPANG_RATE = 8.0
COUPANG_BURST = 10
# Naver publishes no fixed number; start conservatively and adapt to GNCP-GW-RateLimit-* headers.
NAVER_DEFAULT_RATE = 2.0
NAVER_DEFAULT_BURST = 4

# A waiter never sleeps longer than this in one go, so a penalty lifted early (or a refill by a
# changed rate) is noticed quickly.
_MAX_SLEEP_SLICE = 1.0


class Limiter(Protocol):
    def acquire(self, key: str, rate: float, burst: int, timeout: float) -> bool: ...

    def penalize(self, key: str, seconds: float) -> None: ...


def _refill(tokens: float, updated_at: float, now: float, rate: float, burst: int) -> float:
    elapsed = max(0.0, now - updated_at)  # a clock that went backwards must not drain the bucket
    return min(float(burst), tokens + elapsed * rate)


def _take(tokens: float, now: float, blocked_until: float, rate: float) -> tuple[bool, float, float]:
    """Decide on a refilled bucket: (acquired, new_tokens, seconds_to_wait)."""
    if blocked_until > now:
        return False, tokens, blocked_until - now
    if tokens >= 1.0:
        return True, tokens - 1.0, 0.0
    return False, tokens, (1.0 - tokens) / rate


class _WaitingLimiter:
    """Shared acquire loop: ask the backend, sleep what it says, give up at the deadline."""

    def _try_acquire(self, key: str, rate: float, burst: int) -> float:  # pragma: no cover - abstract
        """Return 0.0 when a token was taken, else the seconds to wait before asking again."""
        raise NotImplementedError

    def acquire(self, key: str, rate: float, burst: int, timeout: float) -> bool:
        if rate <= 0:
            raise ValueError("rate must be positive")
        burst = max(1, int(burst))
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            wait = self._try_acquire(key, rate, burst)
            if wait <= 0:
                return True
            remaining = deadline - time.monotonic()
            if wait > remaining:
                # The wait is a lower bound (other processes take tokens too): it cannot succeed in time.
                return False
            time.sleep(min(wait, _MAX_SLEEP_SLICE))


class NullLimiter:
    """No limiting at all (sandbox demos, one-off scripts). ``penalize`` is ignored."""

    def acquire(self, key: str, rate: float, burst: int, timeout: float) -> bool:
        return True

    def penalize(self, key: str, seconds: float) -> None:
        return None


class LocalTokenBucket(_WaitingLimiter):
    """In-process token bucket. NOT shared between processes: for tests and single-process tools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float, float]] = {}  # key -> tokens, updated_at, blocked_until

    def _try_acquire(self, key: str, rate: float, burst: int) -> float:
        now = time.monotonic()
        with self._lock:
            tokens, updated_at, blocked_until = self._state.get(key, (float(burst), now, 0.0))
            tokens = _refill(tokens, updated_at, now, rate, burst)
            ok, tokens, wait = _take(tokens, now, blocked_until, rate)
            self._state[key] = (tokens, now, blocked_until)
            return 0.0 if ok else wait

    def penalize(self, key: str, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, updated_at, blocked_until = self._state.get(key, (0.0, now, 0.0))
            self._state[key] = (tokens, updated_at, max(blocked_until, now + max(0.0, seconds)))


# Redis: one Lua script per operation so the read-modify-write is atomic. Time comes from the Redis
# server (TIME), so every process agrees on the clock. Numbers are returned as strings because Redis
# truncates Lua numbers to integers.
_REDIS_ACQUIRE = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', key, 'tokens', 'ts', 'blocked')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
local blocked = tonumber(data[3]) or 0
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local wait = 0
if blocked > now then
  wait = blocked - now
elseif tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now), 'blocked', tostring(blocked))
local ttl = math.ceil(burst / rate + math.max(0, blocked - now) + 60)
redis.call('EXPIRE', key, ttl)
return tostring(wait)
"""

_REDIS_PENALIZE = """
local key = KEYS[1]
local seconds = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local blocked = tonumber(redis.call('HGET', key, 'blocked')) or 0
local until_ts = now + seconds
if until_ts > blocked then
  redis.call('HSET', key, 'blocked', tostring(until_ts))
  if redis.call('HEXISTS', key, 'tokens') == 0 then
    redis.call('HSET', key, 'tokens', '0', 'ts', tostring(now))
  end
  redis.call('EXPIRE', key, math.ceil(seconds + 120))
end
return tostring(until_ts)
"""


class RedisTokenBucket(_WaitingLimiter):
    """Token bucket in Redis, shared by all processes and hosts using the same Redis."""

    prefix = "partialauto:ratelimit:"

    def __init__(self, redis_url: str, *, client: Any | None = None):
        import redis

        self._redis = client or redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=3)
        self._acquire_script = self._redis.register_script(_REDIS_ACQUIRE)
        self._penalize_script = self._redis.register_script(_REDIS_PENALIZE)

    def _try_acquire(self, key: str, rate: float, burst: int) -> float:
        raw = self._acquire_script(keys=[self.prefix + key], args=[repr(float(rate)), str(int(burst))])
        return float(raw.decode() if isinstance(raw, bytes) else raw)

    def penalize(self, key: str, seconds: float) -> None:
        self._penalize_script(keys=[self.prefix + key], args=[repr(float(max(0.0, seconds)))])


class DatabaseTokenBucket(_WaitingLimiter):
    """Token bucket rows in ``market_rate_bucket``, locked with ``SELECT … FOR UPDATE``.

    Each decision is one short transaction (insert-if-missing, lock, update); the waiting happens
    after it commits. On PostgreSQL the clock is the database's (``clock_timestamp()``) so hosts with
    skewed clocks still share one bucket; on SQLite (single host by nature) it is ``time.time()``.

    Do not call it inside a long-running outer ``atomic()``: the row lock would be held until that
    transaction ends (the send path never holds a transaction across HTTP calls anyway).
    """

    table = "market_rate_bucket"

    def __init__(self, using: str = "default"):
        self.using = using

    def _connection(self) -> Any:
        from django.db import connections

        return connections[self.using]

    def _now(self, cursor: Any, vendor: str) -> float:
        if vendor == "postgresql":
            cursor.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
            return float(cursor.fetchone()[0])
        return time.time()

    def _lock_row(
        self, cursor: Any, conn: Any, key: str, initial_tokens: float, now: float
    ) -> tuple[float, float, float]:
        qn = conn.ops.quote_name
        table, kcol = qn(self.table), qn("key")
        cursor.execute(
            f"INSERT INTO {table} ({kcol}, tokens, updated_at, blocked_until) VALUES (%s, %s, %s, 0) "
            f"ON CONFLICT ({kcol}) DO NOTHING",
            [key, initial_tokens, now],
        )
        lock = " FOR UPDATE" if conn.features.has_select_for_update else ""
        cursor.execute(f"SELECT tokens, updated_at, blocked_until FROM {table} WHERE {kcol} = %s{lock}", [key])
        tokens, updated_at, blocked_until = cursor.fetchone()
        return float(tokens), float(updated_at), float(blocked_until or 0.0)

    def _try_acquire(self, key: str, rate: float, burst: int) -> float:
        from django.db import transaction

        conn = self._connection()
        with transaction.atomic(using=self.using), conn.cursor() as cursor:
            now = self._now(cursor, conn.vendor)
            tokens, updated_at, blocked_until = self._lock_row(cursor, conn, key, float(burst), now)
            if conn.vendor == "postgresql":
                # clock_timestamp() after the row lock: the wait for the lock must not count as refill time.
                now = self._now(cursor, conn.vendor)
            tokens = _refill(tokens, updated_at, now, rate, burst)
            ok, tokens, wait = _take(tokens, now, blocked_until, rate)
            qn = conn.ops.quote_name
            cursor.execute(
                f"UPDATE {qn(self.table)} SET tokens = %s, updated_at = %s WHERE {qn('key')} = %s",
                [tokens, max(now, updated_at), key],
            )
        return 0.0 if ok else wait

    def penalize(self, key: str, seconds: float) -> None:
        from django.db import transaction

        conn = self._connection()
        with transaction.atomic(using=self.using), conn.cursor() as cursor:
            now = self._now(cursor, conn.vendor)
            _tokens, _updated, blocked_until = self._lock_row(cursor, conn, key, 0.0, now)
            until = now + max(0.0, seconds)
            if until > blocked_until:
                qn = conn.ops.quote_name
                cursor.execute(f"UPDATE {qn(self.table)} SET blocked_until = %s WHERE {qn('key')} = %s", [until, key])


_limiter_lock = threading.Lock()
_limiter: Limiter | None = None


def get_limiter() -> Limiter:
    """The process-wide shared limiter: Redis when ``settings.REDIS_URL`` is set, else the database.

    Outside a configured Django project (plain scripts) it falls back to an in-process bucket and
    says so, because nothing shared is available.
    """
    global _limiter
    with _limiter_lock:
        if _limiter is not None:
            return _limiter
        try:
            from django.conf import settings

            configured = settings.configured
        except ImportError:  # pragma: no cover - Django is a hard dependency of the project
            configured = False
        if not configured:
            logger.warning("Django settings not configured: using a per-process rate limiter")
            _limiter = LocalTokenBucket()
        elif getattr(settings, "REDIS_URL", ""):
            _limiter = RedisTokenBucket(settings.REDIS_URL)
        else:
            _limiter = DatabaseTokenBucket()
        return _limiter


def reset_limiter_cache() -> None:
    """Forget the cached limiter (tests that change ``REDIS_URL``)."""
    global _limiter
    with _limiter_lock:
        _limiter = None
