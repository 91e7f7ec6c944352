"""HTTP client for the sandbox's ``/_sandbox/`` control API (for other processes: tests, demo, workers)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import requests


class SandboxControlError(RuntimeError):
    pass


class SandboxControl:
    """Drive a running sandbox from another process.

    ``SandboxControl("http://127.0.0.1:8765").set_faults(lost_response="drop")``
    """

    def __init__(self, url: str, *, timeout: float = 10.0):
        self.base = url.rstrip("/") + "/_sandbox"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # loopback: never through a proxy

    def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self.session.request(method, self.base + path, json=json, params=params, timeout=self.timeout)
        if response.status_code >= 400:
            raise SandboxControlError(f"sandbox {method} {path} -> HTTP {response.status_code}: {response.text[:300]}")
        return response.json()

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "/health").get("ok"))
        except (requests.RequestException, SandboxControlError, ValueError):
            return False

    def accounts(self) -> dict[str, list[dict[str, Any]]]:
        return self._call("GET", "/accounts")

    def add_coupang_account(self, **fields: Any) -> dict[str, Any]:
        return self._call("POST", "/accounts", json={"market": "COUPANG", **fields})

    def add_naver_account(self, **fields: Any) -> dict[str, Any]:
        return self._call("POST", "/accounts", json={"market": "SMARTSTORE", **fields})

    def add_inquiries(
        self, kind: str, count: int | None = None, *, items: list[dict[str, Any]] | None = None, **options: Any
    ) -> list[str]:
        payload: dict[str, Any] = {"kind": kind, **options}
        if count is not None:
            payload["count"] = count
        if items is not None:
            payload["items"] = items
        return self._call("POST", "/inquiries", json=payload)["ids"]

    def add_backdated_inquiries(
        self,
        kind: str,
        count: int,
        *,
        oldest: timedelta,
        newest: timedelta,
        answered_ratio: float = 0.0,
        owner: str | None = None,
    ) -> list[str]:
        """``count`` inquiries that appear now but were asked between ``oldest`` and ``newest`` ago (evenly
        spread): what a marketplace shows late, e.g. a call-center inquiry transferred a day later."""
        payload = {
            "kind": kind,
            "count": count,
            "oldest_hours": oldest / timedelta(hours=1),
            "newest_hours": newest / timedelta(hours=1),
            "answered_ratio": answered_ratio,
            "owner": owner,
        }
        return self._call("POST", "/inquiries/backdated", json=payload)["ids"]

    def inquiry(self, kind: str, external_id: str) -> dict[str, Any]:
        return self._call("GET", "/inquiries", params={"kind": kind, "external_id": external_id})["item"]

    def inquiries(self, kind: str) -> list[dict[str, Any]]:
        return self._call("GET", "/inquiries", params={"kind": kind})["items"]

    def answer_elsewhere(self, kind: str, external_id: str, text: str | None = None) -> None:
        self._call("POST", "/inquiries/answer-elsewhere", json={"kind": kind, "external_id": external_id, "text": text})

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", json=changes)

    def set_follow_ups(self, **changes: Any) -> dict[str, Any]:
        """``share`` of accepted answers (0–1) the same buyer writes again about, ``intents`` to limit it
        to, ``complaint_share`` of those follow-ups that complain (the rest repeat the question)."""
        return self._call("POST", "/follow-ups", json=changes)

    def follow_ups(self) -> dict[str, Any]:
        return self._call("GET", "/follow-ups")

    def reset_faults(self) -> dict[str, Any]:
        return self._call("POST", "/faults/reset", json={})

    def release(self, *, apply: bool = True) -> int:
        return int(self._call("POST", "/release", json={"apply": apply})["released"])

    def answers(self, kind: str | None = None, external_id: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("kind", kind), ("external_id", external_id)) if v is not None}
        return self._call("GET", "/answers", params=params)["answers"]

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def reset(self, *, keep_accounts: bool = True) -> None:
        self._call("POST", "/reset", json={"keep_accounts": keep_accounts})

    def expire_naver_tokens(self, client_id: str | None = None) -> int:
        return int(self._call("POST", "/naver/expire-tokens", json={"client_id": client_id})["expired"])

    # -- orders (``SandboxStore.add_order`` & co. over HTTP) --

    def orders(self, market: str | None = None, owner: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("market", market), ("owner", owner)) if v is not None}
        return self._call("GET", "/orders", params=params)["orders"]

    def order(self, ref: str) -> dict[str, Any]:
        """The internal view of the order owning an order or line id (``_scenario`` labels included)."""
        return self._call("GET", "/orders", params={"id": ref})["order"]

    def add_order(
        self,
        market: str | None = None,
        *,
        scenario: str = "delivered",
        owner: str | None = None,
        before: datetime | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """One order in ``scenario``; ``options``: product, quantity, carrier, decided (see the store)."""
        payload: dict[str, Any] = {"market": market, "owner": owner, "scenario": scenario, **options}
        if before is not None:
            payload["before"] = before.isoformat()
        return self._call("POST", "/orders", json=payload)["orders"][0]

    def add_orders(
        self, count: int, *, market: str | None = None, owner: str | None = None, mix: dict[str, int] | None = None
    ) -> list[dict[str, Any]]:
        """``count`` orders in a realistic scenario mix (or ``mix``: scenario → weight)."""
        return self._call("POST", "/orders", json={"count": count, "market": market, "owner": owner, "mix": mix})[
            "orders"
        ]

    def advance_order(self, ref: str, to: str, *, wrong_invoice: bool = False) -> dict[str, Any]:
        """Move an order (or one line) along: place, ship, transit, deliver, decide, misdeliver, request_cancel, cancel,
        return, collect, return_done, exchange, stall."""
        return self._call("POST", "/orders/advance", json={"id": ref, "to": to, "wrong_invoice": wrong_invoice})[
            "order"
        ]
