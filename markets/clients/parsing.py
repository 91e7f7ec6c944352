"""Small helpers the market modules parse payloads with: texts, ids, times, windows, JSON, masking."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from markets.clients.types import Malformed
from partialauto.calendar import SEOUL as KST

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def short_text(value: Any, limit: int = 300) -> str:
    """A single-line, length-capped rendering of a marketplace message for logs and ``error`` fields."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = _CONTROL_CHARS.sub(" ", text).replace("\r", " ").replace("\n", " ").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ensure_aware(value: datetime, name: str = "datetime") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def kst_date(value: datetime) -> date:
    return ensure_aware(value).astimezone(KST).date()


def date_windows(start: date, end: date, max_span_days: int) -> list[tuple[date, date]]:
    """Split the inclusive date range [start, end] into windows with ``end - start <= max_span_days``."""
    if end < start:
        return []
    windows = []
    cursor = start
    while cursor <= end:
        window_end = min(end, cursor + timedelta(days=max_span_days))
        windows.append((cursor, window_end))
        cursor = window_end + timedelta(days=1)
    return windows


def datetime_windows(start: datetime, end: datetime, max_span: timedelta) -> list[tuple[datetime, datetime]]:
    """Split [start, end] into consecutive windows no longer than ``max_span`` (shared boundaries)."""
    if end < start:
        return []
    windows = []
    cursor = start
    while True:
        window_end = min(end, cursor + max_span)
        windows.append((cursor, window_end))
        if window_end >= end:
            return windows
        cursor = window_end


def parse_market_datetime(value: Any) -> datetime:
    """Parse a marketplace timestamp into an aware UTC datetime.

    Coupang sends naive ``yyyy-MM-dd HH:mm:ss`` in KST; Naver sends ISO-8601 with an offset or ``Z``.
    A value without a zone is taken as KST (both marketplaces are Korean). Raises ``ValueError``.
    """
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text or len(text) > 40:
        raise ValueError("timestamp is empty or too long")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=KST)
    return parsed.astimezone(UTC)


def as_id(value: Any) -> str:
    """Normalize a marketplace id (int64 or digit string) to ``str``; raise ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError("id must be a number, got a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) <= 30:
        return value.strip()
    raise ValueError(f"id must be an integer or a digit string, got {type(value).__name__}")


def opt_int(value: Any) -> int | None:
    """An integer from a JSON number or a digit string; anything else (bools included) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def opt_text(value: Any) -> str | None:
    """Optional display text: numbers become strings, anything structured is ignored."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return None


def req_text(value: Any, name: str) -> str:
    """Required free text (the customer's words): must be a string without NUL characters.

    NUL cannot be stored in PostgreSQL text/jsonb; refusing here gives a clear Malformed instead of a
    database error later.
    """
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{name} contains a NUL character")
    return value


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{name} must be a boolean, got {type(value).__name__}")


def mask_name(value: Any) -> str | None:
    """Mask a buyer name unless the marketplace already did (keeps only the first character)."""
    if not isinstance(value, str) or not value.strip():
        return None
    name = value.strip()
    if "*" in name:
        return name[:50]
    return name[0] + "*" * min(len(name) - 1, 10) if len(name) > 1 else "*"


def load_json(body: bytes | str) -> Any:
    """``json.loads`` accepting bytes (UTF-8, optional BOM). Raises ``ValueError`` on bad input."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8-sig")
    return json.loads(body)


class UnreadableBody(Exception):
    """A response body that is not a JSON object: ``problem`` says so in a few words, ``malformed`` is
    the body as the Malformed item to record."""

    def __init__(self, problem: str, malformed: Malformed) -> None:
        super().__init__(problem)
        self.problem, self.malformed = problem, malformed


def load_object(kind: str, body: bytes | str) -> dict[str, Any]:
    """A response body as its JSON object. Raises :class:`UnreadableBody` when it is not JSON or not an
    object (``kind``: the payload kind the Malformed item is recorded under)."""
    try:
        document = load_json(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        detail = f"response is not JSON: {short_text(exc, 120)}"
        raise UnreadableBody("response is not JSON", Malformed(kind, raw_preview(body), detail)) from None
    if not isinstance(document, dict):
        problem = "response is not a JSON object"
        raise UnreadableBody(problem, Malformed(kind, document, problem))
    return document


def raw_preview(body: bytes | str, limit: int = 20_000) -> str:
    """The raw body as text (for Malformed payloads), capped so a huge HTML error page cannot bloat storage."""
    text = bytes(body).decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body)
    return text if len(text) <= limit else text[:limit] + f"…[truncated {len(text) - limit} chars]"


def answer_problem(external_id: Any, text: Any) -> str | None:
    """Validate an answer before any network call (a bad request is a permanent failure)."""
    if not isinstance(text, str) or not text.strip():
        return "answer text is empty; not sent"
    if "\x00" in text:
        return "answer text contains a NUL character; not sent"
    if not str(external_id).strip().isdigit():
        return "external_id must be numeric; not sent"
    return None


def id_list(*values: Any) -> list[str]:
    """Marketplace ids from numbers, digit strings, lists of them or comma-separated strings; each once,
    in order; anything unreadable, empty or 0 is left out."""
    out: list[str] = []
    for value in values:
        parts = value if isinstance(value, list) else (value.split(",") if isinstance(value, str) else [value])
        for part in parts:
            if part is None or part == "" or part == 0 or part == "0":
                continue
            try:
                text = as_id(part)
            except ValueError:
                continue
            if text not in out:
                out.append(text)
    return out
