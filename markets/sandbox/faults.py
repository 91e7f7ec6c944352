"""Runtime fault switches of the sandbox marketplace (set through the store or ``/_sandbox/faults``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# Switches that are fractions of calls or items, so must stay within [0, 1].
_FRACTIONS = ("fault_rate", "malformed_orders", "lost_response_rate")


@dataclass
class Faults:
    """Runtime fault switches. ``scope``: "all" calls or only "answers" (answer writes).

    Counters (``burst_429``, ``*_count``, ``malformed_order_pages``) count down per affected call;
    ``-1`` means "every call" for the ``*_count`` ones.
    """

    scope: str = "all"
    fault_rate: float = 0.0  # probability of a random 500 (before anything is applied)
    latency_ms: int = 0  # added to every affected call
    burst_429: int = 0  # the next N affected calls get 429
    read_timeout: float = 0.0  # hold the response this long, then 504; NOT applied
    read_timeout_count: int = -1
    lost_response: str = ""  # "" | "drop" (close without response) | "504"; the answer IS applied
    lost_response_count: int = -1
    lost_response_rate: float = 1.0  # the share of affected answers whose response is lost (drawn per answer)
    hold_answers: str = ""  # "" | "before_apply" | "after_apply": block answers until release()
    down: bool = False  # every affected call gets 503
    coupang_rps: float = 10.0  # per-vendor limit → 429 (0 = off)
    naver_rps: float = 10.0  # per-application, per-API limit → 429 (0 = off)
    naver_burst: int = 20
    token_ttl: int = 10_800  # Naver token lifetime in seconds
    # Order reads: the fraction of served order objects (list items, single objects, ids) replaced by
    # broken ones (wrong types, missing ids, not an object), so clients prove they record and skip them.
    malformed_orders: float = 0.0
    malformed_order_pages: int = 0  # the next N order reads answer 200 with a body that is not JSON
    # Unknown order ids: Coupang's answer is undocumented. Off: 400 "주문 정보를 찾을 수 없습니다.";
    # on: 200 with ``data`` [] / null, the other shape a client must read as "not found".
    order_not_found_empty_200: bool = False

    _CHOICES = {
        "scope": ("all", "answers"),
        "lost_response": ("", "drop", "504"),
        "hold_answers": ("", "before_apply", "after_apply"),
    }

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, validating names and types (raises ``ValueError``)."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, name)
            try:
                if isinstance(current, bool):
                    if not isinstance(value, bool):
                        raise TypeError
                    converted: Any = value
                elif isinstance(current, int):
                    converted = int(value)
                    if isinstance(value, bool) or converted != value:
                        raise TypeError
                elif isinstance(current, float):
                    if isinstance(value, bool):
                        raise TypeError
                    converted = float(value)
                else:
                    converted = "" if value is None else str(value)
            except (TypeError, ValueError):
                raise ValueError(f"fault {name!r} has the wrong type ({type(value).__name__})") from None
            if name in self._CHOICES and converted not in self._CHOICES[name]:
                raise ValueError(f"fault {name!r} must be one of {self._CHOICES[name]}")
            if name in _FRACTIONS and not 0.0 <= converted <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            if (
                isinstance(converted, (int, float))
                and not isinstance(converted, bool)
                and converted < 0
                and not name.endswith("_count")
            ):
                raise ValueError(f"fault {name!r} must not be negative")
            setattr(self, name, converted)
