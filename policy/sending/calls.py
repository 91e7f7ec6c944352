"""Step 3, the marketplace call, and the threads a group of calls runs on."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from inquiries.models import Inquiry
from policy.sending.common import log


@dataclass(frozen=True)
class _CallResult:
    outcome: str
    http_status: int | None
    error: str
    retry_after: float | None
    remote_ref: str


def _call(client_factory, inquiry: Inquiry, text: str) -> _CallResult:
    """Step 3, the marketplace call. Never raises: an unexpected error is an unknown outcome."""
    from markets.clients.types import SendOutcome
    from markets.connect import cached_client_for

    try:
        client = (client_factory or cached_client_for)(inquiry.account)
        result = client.post_answer(inquiry.kind, inquiry.external_id, text, inquiry.reply_context or {})
        return _CallResult(
            result.outcome, result.http_status, result.error or "", result.retry_after, result.remote_ref or ""
        )
    except Exception as exc:  # a bug or an unexpected library error: we cannot know what was sent
        log.exception("Inquiry %s: unexpected error during the marketplace call", inquiry.pk)
        return _CallResult(SendOutcome.UNKNOWN, None, f"{type(exc).__name__}: {exc}", None, "")


_pool = None


_pool_key: tuple | None = None


_pool_lock = threading.Lock()


def _executor(width: int) -> ThreadPoolExecutor:
    """The process's call threads (made again after a fork: threads do not survive one)."""
    global _pool, _pool_key
    key = (os.getpid(), width)
    with _pool_lock:
        if _pool is None or _pool_key != key:
            if _pool is not None and _pool_key[0] == key[0]:
                _pool.shutdown(wait=False)  # the width changed: the old threads end once idle
            _pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="send-call")
            _pool_key = key
        return _pool


def close_call_threads() -> None:
    """Stop the call threads, each closing the database connections it opened (the database rate
    limiter's). For an orderly shutdown, and for tests that drop their database afterwards."""
    global _pool, _pool_key
    with _pool_lock:
        pool, (pid, width) = _pool, (_pool_key or (0, 0))
        _pool = _pool_key = None
    if pool is None or pid != os.getpid():
        return  # a pool inherited through a fork has no threads in this process
    from django.db import connections

    gate = threading.Barrier(width)

    def close_mine() -> None:
        connections.close_all()
        gate.wait(timeout=10)  # every thread takes exactly one of these

    for future in [pool.submit(close_mine) for _ in range(width)]:
        future.exception(timeout=30)
    pool.shutdown(wait=True)


def _call_in_thread(client_factory, inquiry: Inquiry, text: str) -> _CallResult:
    from django.db import connections

    try:
        return _call(client_factory, inquiry, text)
    finally:
        # The database rate limiter (no Redis) queries on this thread's own connection: keep it healthy.
        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()
