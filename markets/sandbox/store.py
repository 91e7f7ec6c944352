"""State of the sandbox marketplace: accounts, inquiries, orders, tokens, the answer ledger and faults.

Thread-safe (one re-entrant lock); the HTTP handlers and in-process tests share one instance.
Items are kept in each marketplace's native JSON shape; keys starting with ``_`` are sandbox-internal
(owner, intent, deleted…) and never served.

The **answer ledger** records every answer the sandbox *accepted* (applied); ``answer_requests``
counts every answer request that *arrived*, accepted or not. Together they let a test prove
at-most-once delivery from the marketplace's point of view.
"""

from __future__ import annotations

import copy
import random
import secrets
import string
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt

from markets.clients.types import (
    ALL_KINDS,
    COUPANG_CALLCENTER,
    COUPANG_ONLINE,
    KST,
    MARKET_COUPANG,
    MARKET_SMARTSTORE,
    NAVER_INQUIRY,
    NAVER_QNA,
)
from markets.sandbox import followups, generator
from markets.sandbox.faults import Faults
from markets.sandbox.order_store import OrderStore
from markets.sandbox.orders import OrderBook

COUPANG_KINDS = (COUPANG_ONLINE, COUPANG_CALLCENTER)
NAVER_KINDS = (NAVER_QNA, NAVER_INQUIRY)

_ID_FIELD = {
    COUPANG_ONLINE: "inquiryId",
    COUPANG_CALLCENTER: "inquiryId",
    NAVER_QNA: "questionId",
    NAVER_INQUIRY: "inquiryNo",
}
# Distinct id ranges per kind make an answer posted to the wrong resource fail loudly.
_ID_BASE = {
    COUPANG_ONLINE: 100_000,
    COUPANG_CALLCENTER: 1_015_000_000,
    NAVER_QNA: 500_000_000,
    NAVER_INQUIRY: 700_000_000,
}

# Fixed, clearly fake demo credentials so the demo and docs can refer to them. Sandbox only.
DEMO_COUPANG = {
    "vendor_id": "A00000001",
    "access_key": "sandbox-coupang-access-key-0001",
    "secret_key": "sandbox0coupang0secret0key0000000000001",
    "reply_by": "sandbox-cs",
}
DEMO_NAVER = {"client_id": "sandbox-naver-client-0001", "client_secret": "$2b$04$SandboxDemoSecretKey0u"}

# Of the unanswered call-center inquiries `market_sandbox --seed-inquiries` generates, the share that are
# TRANSFERs (finished by Coupang's call centre; the seller only confirms them).
SEED_TRANSFER_SHARE = 0.1

BCRYPT_ALPHABET = "./" + string.ascii_uppercase + string.ascii_lowercase + string.digits


def generate_naver_secret(rounds: int = 4) -> str:
    """A random valid Naver-style client secret (a bcrypt salt such as ``$2b$04$`` + 22 chars)."""
    return bcrypt.gensalt(rounds=rounds).decode("ascii")


def is_valid_bcrypt_salt(value: str) -> bool:
    try:
        bcrypt.hashpw(b"probe", value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return len(value) == 29


@dataclass(frozen=True)
class CoupangAccount:
    vendor_id: str
    access_key: str
    secret_key: str
    reply_by: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "market": MARKET_COUPANG,
            "vendor_id": self.vendor_id,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "reply_by": self.reply_by[0],
            "reply_by_all": list(self.reply_by),
        }


@dataclass(frozen=True)
class NaverAccount:
    client_id: str
    client_secret: str

    def to_dict(self) -> dict[str, Any]:
        return {"market": MARKET_SMARTSTORE, "client_id": self.client_id, "client_secret": self.client_secret}


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


class SandboxStore(OrderStore):
    """All mutable sandbox state behind one lock (the order methods come from ``OrderStore``)."""

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
        self._next_id = dict(_ID_BASE)
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

    def _default_owner(self, kind: str) -> str:
        with self.lock:
            pool = self.coupang_accounts if kind in COUPANG_KINDS else self.naver_accounts
            if not pool:
                raise ValueError(
                    f"register a {'Coupang' if kind in COUPANG_KINDS else 'Naver'} "
                    f"account before adding {kind} inquiries"
                )
            return next(iter(pool))

    # -- inquiries --

    def new_sub_id(self) -> int:
        with self.lock:
            self._next_sub_id += 1
            return self._next_sub_id

    def _new_id(self, kind: str) -> int:
        with self.lock:
            self._next_id[kind] += 1
            return self._next_id[kind]

    def add_inquiry(
        self,
        kind: str,
        *,
        owner: str | None = None,
        created_at: datetime | str | None = None,
        answered: bool = False,
        content: str | None = None,
        title: str | None = None,
        answer: str | None = None,
        risk_ratio: float = 0.0,
        days_back: float = 3.0,
        intent: str | None = None,
        scenario: str | None = None,
        order: str | int | None = None,
        transfer: bool = False,
        **native: Any,
    ) -> str:
        """Add one inquiry; returns its external id (str).

        Convenience arguments are mapped to the native fields; anything else in ``native`` overrides
        native fields verbatim (e.g. ``inquiryStatus="complete"``), including the id field. ``transfer``
        makes an unanswered call-center inquiry a TRANSFER: finished by Coupang's call centre, the seller
        only confirms it.

        Orders: a generated question that names an order (``_scenario`` set) gets that order created
        first, its last event shortly before the inquiry. ``scenario`` asks a shipping question about a
        new order in that state (or ``"policy"``: no order); ``intent`` forces the intent; ``order``
        names an existing order or line id instead (the question then fits that line's state).
        """
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        with self.lock:
            rng = self.rng
            if isinstance(created_at, str):
                parsed = datetime.fromisoformat(created_at)
                created_at = parsed if parsed.tzinfo else parsed.replace(tzinfo=KST)
            link = None
            if order is not None:
                link, product, line_scenario, last = self._existing_order(kind, owner, str(order))
                owner = owner or self.orders.orders[link.order_id].owner
                shipping = intent in (None, "배송문의")
                question = generator.make_question(
                    rng,
                    kind=kind,
                    intent=None if shipping else intent,
                    product=product,
                    scenario=line_scenario if shipping else None,
                    risk_ratio=0.0,
                )
                question.scenario = line_scenario
                now = datetime.now(UTC)
                when = created_at or max(last + timedelta(seconds=1), now - timedelta(minutes=rng.uniform(1, 20)))
            else:
                owner = owner or self._default_owner(kind)
                when = created_at or generator.random_created_at(rng, days_back=days_back)
                question = generator.make_question(
                    rng, kind=kind, risk_ratio=risk_ratio, intent=intent, scenario=scenario
                )
                if generator.needs_order(question):
                    link = self._order_for_question(kind, owner, question, when)
            id_field = _ID_FIELD[kind]
            inquiry_id = int(native[id_field]) if id_field in native else self._new_id(kind)
            if kind == COUPANG_ONLINE:
                item = generator.coupang_online_item(
                    rng,
                    inquiry_id=inquiry_id,
                    created_at=when,
                    answered=answered,
                    comment_id=self.new_sub_id(),
                    question=question,
                    order=link,
                )
                if content is not None:
                    item["content"] = content
                if answer is not None and item["commentDtoList"]:
                    item["commentDtoList"][0]["content"] = answer
            elif kind == COUPANG_CALLCENTER:
                item = generator.coupang_callcenter_item(
                    rng,
                    inquiry_id=inquiry_id,
                    created_at=when,
                    answered=answered,
                    answer_ids=(self.new_sub_id(), self.new_sub_id()),
                    question=question,
                    order=link,
                    transfer=transfer,
                )
                if content is not None:
                    label = "상담완료 이관" if item["csPartnerCounselingStatus"] == "transfer" else "판매자이관"
                    item["replies"][0]["content"] = f"[{label}]\n◼주문번호: {item['orderId']}\n◼고객문의: {content}"
                if title is not None:
                    item["content"] = title
                if answer is not None and len(item["replies"]) > 1:
                    item["replies"][1]["content"] = answer
            elif kind == NAVER_QNA:
                item = generator.naver_qna_item(
                    rng, question_id=inquiry_id, created_at=when, answered=answered, question=question
                )
                if content is not None:
                    item["question"] = content
                if answer is not None and answered:
                    item["answer"] = answer
            else:
                item = generator.naver_inquiry_item(
                    rng,
                    inquiry_no=inquiry_id,
                    created_at=when,
                    answered=answered,
                    comment_no=self.new_sub_id(),
                    question=question,
                    order=link,
                )
                if content is not None:
                    item["inquiryContent"] = content
                if title is not None:
                    item["title"] = title
                if answer is not None and answered:
                    item["answerContent"] = answer
            item.update(native)
            item["_owner"] = owner
            item["_deleted"] = False
            self.items[kind][inquiry_id] = item
            return str(inquiry_id)

    def add_inquiries(
        self,
        kind: str,
        count: int = 1,
        *,
        owner: str | None = None,
        answered_ratio: float = 0.2,
        risk_ratio: float = 0.1,
        days_back: float = 3.0,
        start: datetime | None = None,
        end: datetime | None = None,
        transfer_ratio: float = 0.0,
    ) -> list[str]:
        """Add ``count`` generated inquiries (about ``answered_ratio`` already answered; of the unanswered
        call-center ones, about ``transfer_ratio`` TRANSFERs that only need a confirmation).

        Creation times are random within the last ``days_back`` days, or evenly spread over
        [start, end] when both are given.
        """
        if count < 0 or count > 100_000:
            raise ValueError("count must be between 0 and 100000")
        ids = []
        with self.lock:
            for index in range(count):
                created_at = None
                if start is not None and end is not None:
                    step = (end - start) / max(1, count - 1) if count > 1 else timedelta(0)
                    created_at = start + step * index
                answered = self.rng.random() < answered_ratio
                transfer = kind == COUPANG_CALLCENTER and not answered and self.transfer_rng.random() < transfer_ratio
                ids.append(
                    self.add_inquiry(
                        kind,
                        owner=owner,
                        created_at=created_at,
                        answered=answered,
                        risk_ratio=risk_ratio,
                        days_back=days_back,
                        transfer=transfer,
                    )
                )
        return ids

    def get_inquiry(self, kind: str, external_id: str | int) -> dict[str, Any] | None:
        """A copy of one stored item (native shape, internal ``_`` keys included)."""
        with self.lock:
            item = self.items.get(kind, {}).get(int(external_id))
            return copy.deepcopy(item) if item is not None else None

    def list_items(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(item) for item in self.items[kind].values()]

    def delete_inquiry(self, kind: str, external_id: str | int) -> bool:
        with self.lock:
            item = self.items.get(kind, {}).get(int(external_id))
            if item is None:
                return False
            item["_deleted"] = True
            return True

    def mark_answered_elsewhere(
        self, kind: str, external_id: str | int, text: str = "판매자센터에서 직접 답변했습니다."
    ) -> None:
        """Simulate a person answering in the seller centre (no ledger entry: not via the API)."""
        with self.lock:
            item = self.items[kind][int(external_id)]
            now = datetime.now(UTC)
            if kind == COUPANG_ONLINE:
                item["commentDtoList"].append(
                    {
                        "inquiryCommentId": self.new_sub_id(),
                        "inquiryId": item["inquiryId"],
                        "content": text,
                        "inquiryCommentAt": generator.coupang_time(now),
                    }
                )
            elif kind == COUPANG_CALLCENTER:
                _apply_callcenter_answer(self, item, text, "wing-user", None)
            elif kind == NAVER_QNA:
                item.update(answer=text, answered=True)
            else:
                _apply_inquiry_answer(self, item, text)

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


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    """The item as the marketplace would serve it (internal keys removed)."""
    return {key: copy.deepcopy(value) for key, value in item.items() if not key.startswith("_")}


def _apply_callcenter_answer(
    store: SandboxStore, item: dict[str, Any], text: str, reply_by: str, parent_answer_id: int | None
) -> None:
    now = datetime.now(UTC)
    for reply in item["replies"]:
        if reply.get("partnerTransferStatus") == "requestAnswer" and (
            parent_answer_id is None or reply.get("answerId") == parent_answer_id
        ):
            reply["partnerTransferStatus"] = "answered"
            reply["needAnswer"] = False
            parent_answer_id = reply.get("answerId")
    item["replies"].append(
        {
            "receptionistName": "샌드박스몰",
            "receptionist": reply_by,
            "replyAt": generator.coupang_time(now),
            "content": text,
            "answerId": store.new_sub_id(),
            "parentAnswerId": parent_answer_id or 0,
            "partnerTransferStatus": None,
            "partnerTransferCompleteReason": "NONE",
            "answerType": "vendor",
            "needAnswer": False,
        }
    )
    item["csPartnerCounselingStatus"] = "answered"
    item["answeredAt"] = generator.coupang_time(now)


def awaiting_confirm(item: dict[str, Any]) -> dict[str, Any] | None:
    """The call-centre row of a TRANSFER that still waits for the seller's confirmation, if any."""
    return next(
        (
            r
            for r in item["replies"]
            if r.get("answerType") == "csAgent" and r.get("partnerTransferStatus") == "transfer"
        ),
        None,
    )


def _apply_callcenter_confirm(item: dict[str, Any]) -> None:
    """The seller confirmed a TRANSFER: the consultation is over."""
    transfer = awaiting_confirm(item)
    if transfer is not None:
        transfer["partnerTransferStatus"] = "answered"
    item["csPartnerCounselingStatus"] = "answered"
    item["inquiryStatus"] = "complete"
    item["answeredAt"] = generator.coupang_time(datetime.now(UTC))


def _apply_inquiry_answer(store: SandboxStore, item: dict[str, Any], text: str) -> int:
    comment_no = store.new_sub_id()
    item.update(
        answered=True,
        answerContent=text,
        answerContentId=comment_no,
        answerRegistrationDateTime=generator.naver_time(datetime.now(UTC)),
    )
    return comment_no
