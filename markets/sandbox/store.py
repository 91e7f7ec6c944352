"""State of the sandbox marketplace: accounts, inquiries, orders, tokens, the answer ledger and faults.

Thread-safe (one re-entrant lock); the HTTP handlers and in-process tests share one instance.
Items are kept in each marketplace's native JSON shape; keys starting with ``_`` are sandbox-internal
(owner, intent, deleted…) and never served.

The **answer ledger** records every answer the sandbox *accepted* (applied); ``answer_requests``
counts every answer request that *arrived*, accepted or not. Together they let a test prove
at-most-once delivery from the marketplace's point of view.

The inquiry methods are in ``inquiry_store.py``, the order methods in ``order_store.py`` and the account
types in ``accounts.py``.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from markets.clients.types import ALL_KINDS
from markets.sandbox import followups
from markets.sandbox.accounts import (
    DEMO_COUPANG,
    DEMO_NAVER,
    CoupangAccount,
    NaverAccount,
    generate_naver_secret,
    is_valid_bcrypt_salt,
)
from markets.sandbox.faults import Faults
from markets.sandbox.inquiry_store import ID_BASE, InquiryStore
from markets.sandbox.order_book import OrderBook


@dataclass(frozen=True)
class AnswerRecord:
    seq: int
    kind: str
    external_id: str
    text: str
    at: str  # ISO time the sandbox applied it
    request_id: str
    account: str  # vendor_id / client_id
    overwrote: bool = False  # Naver Q&A PUT replaced an existing answer

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SandboxStore(InquiryStore):
    """All mutable sandbox state behind one lock (the inquiry methods come from ``InquiryStore``, the order
    methods from ``OrderStore`` under it)."""

    def __init__(self, *, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        # Which call-center inquiries are TRANSFERs is drawn apart, so asking for some leaves the rest of a
        # seeded data set as it was.
        self.transfer_rng = random.Random(None if seed is None else f"transfer-{seed}")
        self._hold = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self._reset_state(keep_accounts=False)

    # -- lifecycle --

    def _reset_state(self, *, keep_accounts: bool) -> None:
        if not keep_accounts:
            self.coupang_accounts: dict[str, CoupangAccount] = {}
            self.coupang_by_access_key: dict[str, CoupangAccount] = {}
            self.naver_accounts: dict[str, NaverAccount] = {}
        self.items: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in ALL_KINDS}
        self.orders = OrderBook(self.rng)
        self._next_id = dict(ID_BASE)
        self._next_sub_id = 10_000_000  # comment / answer / inquiryCommentNo ids
        self.ledger: list[AnswerRecord] = []
        self.answer_requests: Counter[str] = Counter()
        self.requests_total = 0
        self.by_route: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.request_log: deque[dict[str, Any]] = deque(maxlen=2000)
        self.token_requests = 0
        self.tokens_issued = 0
        self.naver_tokens: dict[str, tuple[str, float]] = {}  # token -> (client_id, expires_at)
        self.naver_current: dict[tuple[str, str], str] = {}  # (client_id, type) -> token
        self.buckets: dict[str, tuple[float, float]] = {}
        self.faults = Faults()
        self.follow_up = followups.FollowUpConfig()
        self.held = 0
        self._hold_generation = 0
        self._release_apply = True

    def reset(self, *, keep_accounts: bool = True) -> None:
        """Drop inquiries, orders, ledger, counters, tokens and faults (accounts stay unless told otherwise)."""
        with self.lock:
            self._release_holds(apply=False)
            self._reset_state(keep_accounts=keep_accounts)

    def shutdown(self) -> None:
        self.stopping.set()
        with self.lock:
            self._release_holds(apply=False)

    # -- accounts --

    def register_coupang_account(
        self,
        vendor_id: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        reply_by: str | list[str] | tuple[str, ...] | None = None,
    ) -> CoupangAccount:
        if isinstance(reply_by, str):
            reply_by = (reply_by,)
        account = CoupangAccount(
            vendor_id=vendor_id or f"A{self.rng.randint(10**7, 10**8 - 1):08d}",
            access_key=access_key or str(uuid.UUID(int=self.rng.getrandbits(128))),
            secret_key=secret_key or secrets.token_hex(20),
            reply_by=tuple(reply_by or ("sandbox-cs",)),
        )
        with self.lock:
            old = self.coupang_accounts.get(account.vendor_id)
            if old:
                self.coupang_by_access_key.pop(old.access_key, None)
            self.coupang_accounts[account.vendor_id] = account
            self.coupang_by_access_key[account.access_key] = account
        return account

    def register_naver_account(self, client_id: str | None = None, client_secret: str | None = None) -> NaverAccount:
        secret = client_secret or generate_naver_secret()
        if not is_valid_bcrypt_salt(secret):
            raise ValueError("client_secret must be a valid bcrypt salt, e.g. generate_naver_secret()")
        account = NaverAccount(client_id=client_id or "sbx" + secrets.token_hex(8), client_secret=secret)
        with self.lock:
            self.naver_accounts[account.client_id] = account
        return account

    def register_demo_accounts(self) -> dict[str, dict[str, Any]]:
        """Register the fixed demo accounts (``DEMO_COUPANG``/``DEMO_NAVER``) and return them."""
        coupang = self.register_coupang_account(**DEMO_COUPANG)
        naver = self.register_naver_account(**DEMO_NAVER)
        return {"coupang": coupang.to_dict(), "naver": naver.to_dict()}

    def accounts(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            return {
                "coupang": [a.to_dict() for a in self.coupang_accounts.values()],
                "naver": [a.to_dict() for a in self.naver_accounts.values()],
            }

    # -- answers and the ledger --

    def record_answer(
        self, kind: str, external_id: int | str, text: str, request_id: str, account: str, *, overwrote: bool = False
    ) -> AnswerRecord:
        with self.lock:
            record = AnswerRecord(
                seq=len(self.ledger) + 1,
                kind=kind,
                external_id=str(external_id),
                text=text,
                at=datetime.now(UTC).isoformat(),
                request_id=request_id,
                account=account,
                overwrote=overwrote,
            )
            self.ledger.append(record)
            item = self.items.get(kind, {}).get(int(external_id))
            if item is not None and not overwrote and followups.wanted(self.follow_up, item):
                # the same buyer writes again about this answer (markets.sandbox.followups)
                new_id = self._new_id(kind)
                sub_ids = (self.new_sub_id(), self.new_sub_id())
                self.items[kind][new_id] = followups.follow_up_item(
                    self.follow_up, kind, item, new_id=new_id, sub_ids=sub_ids
                )
            return record

    def answers(self, kind: str | None = None, external_id: str | int | None = None) -> list[AnswerRecord]:
        with self.lock:
            return [
                r
                for r in self.ledger
                if (kind is None or r.kind == kind) and (external_id is None or r.external_id == str(external_id))
            ]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests_total": self.requests_total,
                "answer_requests": sum(self.answer_requests.values()),
                "answer_requests_by_kind": dict(self.answer_requests),
                "answers_accepted": len(self.ledger),
                "token_requests": self.token_requests,
                "tokens_issued": self.tokens_issued,
                "held": self.held,
                "by_route": dict(self.by_route),
                "by_status": {str(k): v for k, v in self.by_status.items()},
                "inquiries": {kind: len(items) for kind, items in self.items.items()},
                "orders": self.orders.counts(),
            }

    def set_follow_ups(self, **changes: Any) -> dict[str, Any]:
        """Buyers writing again after answers (``markets.sandbox.followups``)."""
        with self.lock:
            self.follow_up.update(changes)
            return self.follow_up.to_dict()

    # -- faults --

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        with self.lock:
            self.faults.update(changes)
            if "hold_answers" in changes and not self.faults.hold_answers:
                self._release_holds(apply=True)
            return self.faults.to_dict()

    def reset_faults(self) -> dict[str, Any]:
        with self.lock:
            self.faults = Faults()
            self._release_holds(apply=True)
            return self.faults.to_dict()

    def chance(self, rate: float) -> bool:
        """True with probability ``rate`` (no draw at 0 or 1, so the seeded sequence of other faults stays)."""
        if rate >= 1.0 or rate <= 0.0:
            return rate >= 1.0
        with self.lock:
            return self.rng.random() < rate

    def take_counted(self, name: str) -> bool:
        """Consume one use of a counted fault (``-1`` = unlimited). Returns whether it applies."""
        with self.lock:
            count = getattr(self.faults, name)
            if count == 0:
                return False
            if count > 0:
                setattr(self.faults, name, count - 1)
            return True

    # -- holding answer requests (kill -9 tests) --

    def hold(self, max_seconds: float = 600.0) -> bool:
        """Block the calling handler until ``release()``; returns the release's ``apply`` flag."""
        deadline = time.monotonic() + max_seconds
        with self._hold:
            generation = self._hold_generation
            self.held += 1
            try:
                while generation == self._hold_generation and not self.stopping.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._hold.wait(min(remaining, 0.5))
                return self._release_apply and not self.stopping.is_set()
            finally:
                self.held -= 1

    def release(self, *, apply: bool = True) -> int:
        """Release every held answer request. With ``before_apply`` holds, ``apply=False`` discards them."""
        with self._hold:
            count = self.held
            self._release_holds(apply=apply)
            return count

    def _release_holds(self, *, apply: bool) -> None:
        with self._hold:
            self._release_apply = apply
            self._hold_generation += 1
            self._hold.notify_all()

    def wait_for_held(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` answer requests are being held."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.held >= count:
                    return True
            time.sleep(0.01)
        return False

    # -- rate limiting --

    def rate_limit(self, key: str, rate: float, burst: int) -> tuple[bool, float]:
        """Server-side token bucket; returns (allowed, tokens remaining)."""
        if rate <= 0:
            return True, float(burst)
        now = time.monotonic()
        with self.lock:
            tokens, updated = self.buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - updated) * rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self.buckets[key] = (tokens, now)
            return allowed, tokens

    # -- Naver tokens --

    def issue_naver_token(self, client_id: str, token_type: str) -> tuple[str, int]:
        """Naver's rule: the same token while ≥30 min remain, else a new one (the old stays valid)."""
        now = time.time()
        with self.lock:
            self.token_requests += 1
            current = self.naver_current.get((client_id, token_type))
            if current and current in self.naver_tokens:
                _client, expires_at = self.naver_tokens[current]
                if expires_at - now >= 30 * 60:
                    return current, int(expires_at - now)
            token = secrets.token_urlsafe(32)
            expires_at = now + self.faults.token_ttl
            self.naver_tokens[token] = (client_id, expires_at)
            self.naver_current[(client_id, token_type)] = token
            self.tokens_issued += 1
            return token, int(self.faults.token_ttl)

    def naver_token_owner(self, token: str) -> str | None:
        with self.lock:
            entry = self.naver_tokens.get(token)
            if entry is None or entry[1] <= time.time():
                return None
            return entry[0]

    def expire_naver_tokens(self, client_id: str | None = None) -> int:
        """Make current tokens expire now (the client then gets 401 GW.AUTHN)."""
        with self.lock:
            count = 0
            for token, (owner, _expires) in list(self.naver_tokens.items()):
                if client_id is None or owner == client_id:
                    self.naver_tokens[token] = (owner, time.time() - 1)
                    count += 1
            return count

    def age_naver_tokens(self, seconds: float, client_id: str | None = None) -> None:
        """Move token expiry ``seconds`` closer (to exercise the <30 min renewal rule)."""
        with self.lock:
            for token, (owner, expires) in list(self.naver_tokens.items()):
                if client_id is None or owner == client_id:
                    self.naver_tokens[token] = (owner, expires - seconds)

    def note_request(self, route: str, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests_total += 1
            self.by_route[route] += 1
            self.request_log.append(entry)

    def note_status(self, status: int) -> None:
        with self.lock:
            self.by_status[status] += 1
