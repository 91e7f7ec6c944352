"""Pieces every sandbox route module shares: the early-reply exception and parameter helpers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markets.clients.types import KST


class Reply(Exception):
    """Raised inside a handler to send an error response and stop."""

    def __init__(self, status: int, payload: Any):
        super().__init__(status)
        self.status = status
        self.payload = payload


def now_kst_iso() -> str:
    """Naver's response ``timestamp`` format (``2025-09-03T18:00:00.120+09:00``)."""
    return datetime.now(KST).isoformat(timespec="milliseconds")


def int_param(value: str | None, default: int) -> int | None:
    """An integer query parameter: ``default`` when absent or empty, ``None`` when not an integer."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        return None
