"""The ``/_sandbox/...`` control API handlers (JSON, no authentication: bind the sandbox to loopback).

A mixin of the sandbox request handler, used by tests, the demo and worker processes through
``SandboxControl`` to seed accounts, inquiries and orders, move orders along, set faults and read
the answer ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from markets.clients.types import ALL_KINDS
from markets.sandbox.protocol import Reply
from markets.sandbox.store import SandboxStore

# Backdated inquiries: at most this far back (a little over a year, the longest lookback any list allows).
MAX_BACKDATE_HOURS = 400 * 24


class ControlRoutes:
    """Control handlers; mixed into ``SandboxRequestHandler`` (which provides the attributes below)."""

    if TYPE_CHECKING:

        @property
        def store(self) -> SandboxStore: ...

    _send_json: Callable[[int, Any], None]

    @staticmethod
    def _json_body(body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Reply(400, {"error": "body must be JSON"}) from None
        if not isinstance(payload, dict):
            raise Reply(400, {"error": "body must be a JSON object"})
        return payload

    def control_health(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        self._send_json(200, {"ok": True})

    def control_accounts(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        self._send_json(200, self.store.accounts())

    def control_accounts_add(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        payload = self._json_body(body)
        market = str(payload.pop("market", "")).upper()
        try:
            if market == "COUPANG":
                account: Any = self.store.register_coupang_account(
                    vendor_id=payload.get("vendor_id"),
                    access_key=payload.get("access_key"),
                    secret_key=payload.get("secret_key"),
                    reply_by=payload.get("reply_by"),
                )
            elif market in ("SMARTSTORE", "NAVER"):
                account = self.store.register_naver_account(
                    client_id=payload.get("client_id"), client_secret=payload.get("client_secret")
                )
            else:
                raise Reply(400, {"error": "market must be COUPANG or SMARTSTORE"})
        except ValueError as exc:
            raise Reply(400, {"error": str(exc)}) from None
        self._send_json(201, account.to_dict())

    def control_inquiries(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        query = dict(parse_qsl(raw_query))
        kind = query.get("kind", "")
        if kind not in ALL_KINDS:
            raise Reply(400, {"error": f"kind must be one of {list(ALL_KINDS)}"})
        if "external_id" in query:
            item = self.store.get_inquiry(kind, query["external_id"]) if query["external_id"].isdigit() else None
            if item is None:
                raise Reply(404, {"error": "not found"})
            self._send_json(200, {"item": item})
            return
        self._send_json(200, {"items": self.store.list_items(kind)})

    def control_inquiries_add(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        payload = self._json_body(body)
        kind = payload.get("kind")
        if kind not in ALL_KINDS:
            raise Reply(400, {"error": f"kind must be one of {list(ALL_KINDS)}"})
        try:
            ids: list[str] = []
            items = payload.get("items")
            if items is not None:
                if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                    raise ValueError("items must be a list of objects")
                for spec in items:
                    ids.append(self.store.add_inquiry(kind, owner=payload.get("owner"), **spec))
            count = payload.get("count", 0 if items is not None else 1)
            if not isinstance(count, int) or isinstance(count, bool):
                raise ValueError("count must be an integer")
            ids += self.store.add_inquiries(
                kind,
                count,
                owner=payload.get("owner"),
                answered_ratio=float(payload.get("answered_ratio", 0.2)),
                risk_ratio=float(payload.get("risk_ratio", 0.1)),
                days_back=float(payload.get("days_back", 3.0)),
            )
        except (ValueError, TypeError) as exc:
            raise Reply(400, {"error": str(exc)[:300]}) from None
        self._send_json(201, {"ids": ids})

    def control_inquiries_backdated(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        """``count`` inquiries that become visible now although they were asked earlier: creation times
        spread evenly from ``oldest_hours`` to ``newest_hours`` ago (a call-center inquiry transferred to
        the seller a day after the buyer called, an item the marketplace indexed late). Unanswered unless
        ``answered_ratio`` says otherwise."""
        payload = self._json_body(body)
        kind = payload.get("kind")
        if kind not in ALL_KINDS:
            raise Reply(400, {"error": f"kind must be one of {list(ALL_KINDS)}"})
        try:
            count = payload.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool):
                raise ValueError("count must be an integer")
            oldest, newest = float(payload.get("oldest_hours", 48)), float(payload.get("newest_hours", 2))
            if not 0 <= newest <= oldest <= MAX_BACKDATE_HOURS:
                raise ValueError(f"need 0 <= newest_hours <= oldest_hours <= {MAX_BACKDATE_HOURS}")
            now = datetime.now(UTC)
            ids = self.store.add_inquiries(
                kind,
                count,
                owner=payload.get("owner"),
                answered_ratio=float(payload.get("answered_ratio", 0.0)),
                risk_ratio=float(payload.get("risk_ratio", 0.1)),
                start=now - timedelta(hours=oldest),
                end=now - timedelta(hours=newest),
            )
        except (ValueError, TypeError) as exc:
            raise Reply(400, {"error": str(exc)[:300]}) from None
        self._send_json(201, {"ids": ids})

    def control_inquiries_delete(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        payload = self._json_body(body)
        if payload.get("kind") not in ALL_KINDS or not str(payload.get("external_id", "")).isdigit():
            raise Reply(400, {"error": "kind and numeric external_id are required"})
        self._send_json(200, {"deleted": self.store.delete_inquiry(payload["kind"], payload["external_id"])})

    def control_inquiries_elsewhere(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        payload = self._json_body(body)
        if payload.get("kind") not in ALL_KINDS or not str(payload.get("external_id", "")).isdigit():
            raise Reply(400, {"error": "kind and numeric external_id are required"})
        try:
            self.store.mark_answered_elsewhere(
                payload["kind"], payload["external_id"], payload.get("text") or "판매자센터에서 직접 답변했습니다."
            )
        except KeyError:
            raise Reply(404, {"error": "not found"}) from None
        self._send_json(200, {"ok": True})

    def control_faults(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        self._send_json(200, self.store.faults.to_dict())

    def control_faults_set(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        try:
            self._send_json(200, self.store.set_faults(**self._json_body(body)))
        except ValueError as exc:
            raise Reply(400, {"error": str(exc)}) from None

    def control_follow_ups(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        self._send_json(200, self.store.follow_up.to_dict())

    def control_follow_ups_set(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        try:
            self._send_json(200, self.store.set_follow_ups(**self._json_body(body)))
        except (TypeError, ValueError) as exc:
            raise Reply(400, {"error": str(exc)}) from None

    def control_faults_reset(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        self._send_json(200, self.store.reset_faults())

    def control_release(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        payload = self._json_body(body)
        self._send_json(200, {"released": self.store.release(apply=bool(payload.get("apply", True)))})

    def control_answers(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        query = dict(parse_qsl(raw_query))
        records = self.store.answers(query.get("kind"), query.get("external_id"))
        self._send_json(200, {"count": len(records), "answers": [r.to_dict() for r in records]})

    def control_stats(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        self._send_json(200, self.store.stats())

    def control_reset(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        payload = self._json_body(body)
        self.store.reset(keep_accounts=bool(payload.get("keep_accounts", True)))
        self._send_json(200, {"ok": True})

    def control_naver_expire(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        payload = self._json_body(body)
        self._send_json(200, {"expired": self.store.expire_naver_tokens(payload.get("client_id"))})

    def control_orders(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        query = dict(parse_qsl(raw_query))
        if "id" in query:
            order = self.store.get_order(query["id"])
            if order is None:
                raise Reply(404, {"error": "not found"})
            self._send_json(200, {"order": order})
            return
        try:
            orders = self.store.list_orders(query.get("market"), query.get("owner"))
        except ValueError as exc:
            raise Reply(400, {"error": str(exc)}) from None
        self._send_json(200, {"orders": orders})

    def control_orders_add(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        """``count`` orders of ``scenario``, or of the realistic mix (``mix``) when no scenario is given."""
        payload = self._json_body(body)
        count = payload.pop("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100_000:
            raise Reply(400, {"error": "count must be an integer between 0 and 100000"})
        market, owner, mix = payload.pop("market", None), payload.pop("owner", None), payload.pop("mix", None)
        known = {"scenario", "product", "quantity", "before", "carrier", "decided"}
        if set(payload) - known:
            raise Reply(400, {"error": f"unknown fields {sorted(set(payload) - known)}; known: {sorted(known)}"})
        try:
            if "scenario" in payload:
                orders = [self.store.add_order(market, owner=owner, **payload) for _ in range(count)]
            else:
                if payload:
                    raise ValueError("product/quantity/before/carrier/decided need a scenario")
                orders = self.store.add_orders(count, market=market, owner=owner, mix=mix)
        except (ValueError, TypeError) as exc:
            raise Reply(400, {"error": str(exc)[:300]}) from None
        self._send_json(201, {"orders": orders})

    def control_orders_advance(self, params: dict[str, str], raw_query: str, body: bytes) -> None:
        payload = self._json_body(body)
        ref, to = str(payload.get("id", "")), payload.get("to")
        if not ref.isdigit() or not isinstance(to, str):
            raise Reply(400, {"error": "numeric id (order or line) and to are required"})
        try:
            order = self.store.advance_order(ref, to, wrong_invoice=bool(payload.get("wrong_invoice", False)))
        except KeyError:
            raise Reply(404, {"error": f"no order or line {ref}"}) from None
        except ValueError as exc:
            raise Reply(400, {"error": str(exc)[:300]}) from None
        self._send_json(200, {"order": order})
