"""Naver Commerce API authentication: the bcrypt ``client_secret_sign`` and the per-account token cache.

Tokens are cached per account (in Django's cache when it is shared between processes, else per
process) and renewed by ``NaverClient`` when fewer than 30 minutes remain.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import bcrypt

logger = logging.getLogger("partialauto.markets")


def naver_client_secret_sign(client_id: str, client_secret: str, timestamp_ms: int | str) -> str:
    """``base64(bcrypt.hashpw(f"{client_id}_{timestamp_ms}", salt=client_secret))`` (standard alphabet).

    bcrypt output only contains ``[./0-9A-Za-z$]``, so the standard and URL-safe alphabets give the
    same text for it in practice; the sandbox accepts both.
    """
    password = f"{client_id}_{timestamp_ms}".encode()
    try:
        hashed = bcrypt.hashpw(password, client_secret.encode("utf-8"))
    except ValueError:
        # bcrypt's message would not reveal the salt, but keep ours explicit and value-free.
        raise ValueError("client_secret is not a valid bcrypt salt") from None
    return base64.b64encode(hashed).decode("ascii")


# --- token cache -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedToken:
    token: str
    expires_at: float  # unix seconds
    refresh_after: float  # unix seconds; ask for a new token from then on


class TokenCache(Protocol):
    def get(self, key: str) -> CachedToken | None: ...

    def set(self, key: str, value: CachedToken) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryTokenCache:
    """Per-process cache (the default without a shared Django cache)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, CachedToken] = {}

    def get(self, key: str) -> CachedToken | None:
        with self._lock:
            return self._data.get(key)

    def set(self, key: str, value: CachedToken) -> None:
        with self._lock:
            self._data[key] = value

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class DjangoTokenCache:
    """Token cache in Django's cache (shared by processes when it is Redis/Memcached/database)."""

    prefix = "partialauto:naver-token:"

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias

    def _cache(self) -> Any:
        from django.core.cache import caches

        return caches[self.alias]

    def get(self, key: str) -> CachedToken | None:
        value = self._cache().get(self.prefix + key)
        if isinstance(value, (list, tuple)) and len(value) == 3:
            return CachedToken(str(value[0]), float(value[1]), float(value[2]))
        return None

    def set(self, key: str, value: CachedToken) -> None:
        ttl = max(1, int(value.expires_at - time.time()))
        self._cache().set(self.prefix + key, (value.token, value.expires_at, value.refresh_after), ttl)

    def delete(self, key: str) -> None:
        self._cache().delete(self.prefix + key)


_MEMORY_TOKENS = MemoryTokenCache()
_PROCESS_LOCAL_BACKENDS = ("locmem", "dummy")


def default_token_cache() -> TokenCache:
    """Django's default cache when it is shared between processes, else the per-process cache."""
    try:
        from django.conf import settings

        if settings.configured:
            backend = str(settings.CACHES.get("default", {}).get("BACKEND", "")).lower()
            if backend and not any(name in backend for name in _PROCESS_LOCAL_BACKENDS):
                return DjangoTokenCache()
    except Exception:
        logger.warning("Django cache unavailable for Naver tokens; using the per-process cache")
    return _MEMORY_TOKENS


def clear_token_cache() -> None:
    """Forget the per-process Naver tokens (tests)."""
    _MEMORY_TOKENS.clear()


_token_locks_guard = threading.Lock()
_token_locks: dict[str, threading.Lock] = {}


def token_lock(key: str) -> threading.Lock:
    with _token_locks_guard:
        return _token_locks.setdefault(key, threading.Lock())
