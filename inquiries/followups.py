"""Follow-ups: a buyer writes again soon after an answer — the answer did not settle it.

**Linking** (:func:`link_new`, called by ingestion for the rows it inserted). A new inquiry is linked
to the most recent *answered* inquiry of the same account (an answer delivered for real — automatic
or a person's approved one — or an answer a person wrote on the marketplace) that

1. names the same order (Coupang ``orderIds`` / call-center ``orderId``, Naver ``orderId`` or a
   product order id), or
2. comes from the same buyer (Naver ``customerId``; see ``markets.clients.identity``),

with the new inquiry asked after the answer and within ``CS_FOLLOW_UP_WINDOW_HOURS`` (72 h) of it.
Only when the new inquiry names **neither** an order nor a buyer (Coupang product Q&A without an
order, Naver product Q&A) a third link is tried: an earlier inquiry that names neither either, about
the same product, asked a near-identical question (similarity ≥ ``PRODUCT_TEXT_SIMILARITY``) within
``CS_FOLLOW_UP_PRODUCT_WINDOW_HOURS`` (6 h) of its answer. Never across buyers: two different buyer
ids, or two different masked writer ids, are two buyers, whatever else matches.

**Classifying** (:func:`classify`), deterministic and explainable, on the normalised text:

* ``COMPLAINT`` — the buyer says the answer did not help: "답변 받았는데 그게 아니라요", "아직도
  조회가 안 되는데요", "여전히", "동문서답", "제대로 확인" … (``COMPLAINT_MARKERS``);
* ``REPEAT`` — the same question again: text similarity with the earlier question ≥
  ``REPEAT_SIMILARITY``, or the same topic (``TOPICS``: 배송, 교환·반품, 환불 …) asked again;
* ``NEW_TOPIC`` — anything else (a different question from the same buyer).

**Learning**: a complaint or a repeat after an *automatic* answer makes that answer's draft a
disagreement for calibration (``draft_agreement`` = 0), as if a person had rewritten it.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from inquiries import events
from inquiries.agent.normalize import normalize, strip_framing
from inquiries.answer_path import AnswerPath, path_of
from inquiries.calibration import similarity
from inquiries.models import FollowUp, Inquiry, InquiryEvent

LINKER = "system:follow-ups"
REPEAT_SIMILARITY = 0.6
PRODUCT_TEXT_SIMILARITY = 0.85
CANDIDATES = 50  # earlier answered inquiries looked at per new one (newest first)
POOL = 5000  # answered inquiries one linking batch reads at once (more: each new one asks on its own)
# Marketplace times have whole seconds and their own clock; our send time is taken after the call
# returns. A question this much "before" the answer's recorded time can still be its follow-up.
CLOCK_SKEW = dt.timedelta(minutes=2)

# Compact forms (letters and digits only, no spaces): what the buyer says when the answer did not help.
COMPLAINT_MARKERS: tuple[str, ...] = (
    "그게아니라",
    "그게아니고",
    "그런게아니라",
    "답변받았는데",
    "답변을받았는데",
    "답변주셨는데",
    "답변해주셨는데",
    "안내받았는데",
    "안내해주셨는데",
    "알려주셨는데",
    "말씀하신대로",
    "하라는대로",
    "아직도",
    "여전히",
    "아직안",
    "안되는데",
    "안돼요",
    "안됩니다",
    "조회가안",
    "확인이안",
    "동문서답",
    "엉뚱한",
    "질문과다른",
    "질문이랑다른",
    "질문한건",
    "물어본건",
    "다른답변",
    "같은답변",
    "똑같은답",
    "제대로",
    "틀렸",
    "틀린",
    "다시확인",
    "자동답변",
    "자동응답",
    "복붙",
    "읽어보",
    "답답",
)

# Topic words (compact forms): two questions on the same topic from the same buyer are a repeat.
TOPICS: dict[str, tuple[str, ...]] = {
    "shipping": ("배송", "택배", "송장", "운송장", "발송", "출고", "도착", "언제와", "언제오", "배달", "조회"),
    "exchange_return": ("교환", "반품", "회수"),
    "refund": ("환불", "입금", "결제취소"),
    "cancel": ("주문취소", "취소"),
    "restock": ("재입고", "입고"),
    "usage": ("사용법", "사용방법", "설정", "조립", "설치", "작동"),
    "product": ("사이즈", "치수", "색상", "재질", "소재", "용량", "호환"),
}


def window() -> dt.timedelta:
    return dt.timedelta(hours=float(settings.CS_FOLLOW_UP_WINDOW_HOURS))


def product_window() -> dt.timedelta:
    return dt.timedelta(hours=float(settings.CS_FOLLOW_UP_PRODUCT_WINDOW_HOURS))


# --- classification ----------------------------------------------------------------------------------


def _compact(text: str) -> str:
    return strip_framing(normalize(text or "").compact)


def _topics(compact: str) -> set[str]:
    return {topic for topic, words in TOPICS.items() if any(w in compact for w in words)}


@dataclass(frozen=True)
class Verdict:
    kind: str
    similarity: float
    markers: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()

    def evidence(self) -> dict:
        return {"markers": list(self.markers), "shared_topics": list(self.topics), "similarity": self.similarity}


def question_similarity(a: str, b: str) -> float:
    return similarity(_compact(a), _compact(b)) or 0.0


def classify(new_text: str, earlier_text: str) -> Verdict:
    """What a follow-up says about the earlier answer (see the module docstring)."""
    new_c, old_c = _compact(new_text), _compact(earlier_text)
    score = similarity(new_c, old_c) or 0.0
    markers = tuple(m for m in COMPLAINT_MARKERS if m in new_c)
    shared = tuple(sorted(_topics(new_c) & _topics(old_c)))
    if markers:
        return Verdict(FollowUp.Kind.COMPLAINT, score, markers, shared)
    if score >= REPEAT_SIMILARITY or shared:
        return Verdict(FollowUp.Kind.REPEAT, score, (), shared)
    return Verdict(FollowUp.Kind.NEW_TOPIC, score, (), shared)


# --- linking -----------------------------------------------------------------------------------------

# Answered for real: delivered (not a test-mode row), or answered on the marketplace by a person.
ANSWERED_Q = Q(send_status=Inquiry.SendStatus.SENT, is_test_mode=False) | Q(status=Inquiry.Status.ANSWERED_ELSEWHERE)
_FIELDS = (
    "id",
    "account_id",
    "kind",
    "created_at",
    "title",
    "content",
    "product_id",
    "product_refs",
    "order_id",
    "order_refs",
    "buyer_key",
    "writer_key",
    "status",
    "send_status",
    "sent_at",
    "intent",
    "labelled_intent",
    "draft_agreement",
)


def _orders(row: Inquiry) -> set[str]:
    refs = row.order_refs or {}
    return {v for v in [row.order_id, *(refs.get("order_ids") or []), *(refs.get("product_order_ids") or [])] if v}


def _products(row: Inquiry) -> set[str]:
    return {v for v in [row.product_id, *(row.product_refs or [])] if v}


def answered_at(row: Inquiry) -> dt.datetime:
    """When the buyer got the answer: the send time, or (answered on the marketplace, time unknown) the
    time the question was asked."""
    return row.sent_at if row.send_status == Inquiry.SendStatus.SENT and row.sent_at else row.created_at


def follow_up_path(status: str) -> str:
    """``AUTO`` for an automatic answer, ``HUMAN`` for a person's, here or on the marketplace."""
    return FollowUp.Path.AUTO if path_of(status) == AnswerPath.AUTO else FollowUp.Path.HUMAN


def _question(row: Inquiry) -> str:
    return f"{row.title}\n{row.content}" if (row.title or "").strip() else row.content


def _same_buyer_possible(new: Inquiry, old: Inquiry) -> bool:
    """False when the payloads say these are two different buyers."""
    if new.buyer_key and old.buyer_key and new.buyer_key != old.buyer_key:
        return False
    if new.writer_key and old.writer_key and new.writer_key != old.writer_key:
        return False
    return True


@dataclass
class LinkReport:
    linked: list[FollowUp] = field(default_factory=list)


def _reach(by_keys: bool) -> dt.timedelta:
    """How far back an answered inquiry can be asked and still be followed up on (its answer may come
    later than the question; the window runs from the answer)."""
    keyed = window() + dt.timedelta(days=30)
    return keyed if by_keys else min(keyed, product_window() + dt.timedelta(days=2))


class Pool:
    """Answered inquiries read once for a batch (newest first), by the keys a new one is linked on: an
    order id, a buyer key, or (rows with neither) a product id."""

    def __init__(self, rows: list[Inquiry]) -> None:
        self.by_order: dict[str, list[Inquiry]] = defaultdict(list)
        self.by_buyer: dict[str, list[Inquiry]] = defaultdict(list)
        self.by_product: dict[str, list[Inquiry]] = defaultdict(list)
        for old in rows:
            if old.order_id:
                self.by_order[old.order_id].append(old)
            if old.buyer_key:
                self.by_buyer[old.buyer_key].append(old)
            if not old.order_id and not old.buyer_key and old.product_id:
                self.by_product[old.product_id].append(old)

    def candidates(self, new: Inquiry, orders: set[str], products: set[str], reach: dt.timedelta) -> list[Inquiry]:
        """What :func:`find_earlier`'s query returns for ``new``, in the same order."""
        if orders or new.buyer_key:
            lists = [self.by_order.get(o, []) for o in orders]
            lists.append(self.by_buyer.get(new.buyer_key, []) if new.buyer_key else [])
        else:
            lists = [self.by_product.get(p, []) for p in products]
        earliest = new.created_at - reach
        found: list[Inquiry] = []
        seen: set[int] = set()
        for old in heapq.merge(*lists, key=lambda r: (r.created_at, r.pk), reverse=True):
            if old.pk in seen or old.account_id != new.account_id or old.pk == new.pk:
                continue
            if old.created_at >= new.created_at:
                continue
            if old.created_at < earliest or len(found) == CANDIDATES:
                break
            seen.add(old.pk)
            found.append(old)
        return found


def find_earlier(new: Inquiry, pool: Pool | None = None) -> tuple[Inquiry, str] | None:
    """The answered inquiry ``new`` follows up on, with how they were linked; None if there is none.

    ``pool``: the answered inquiries of a batch, holding every one this query would find (read once by
    :func:`link_new`); without it the database is asked."""
    orders, buyer, products = _orders(new), new.buyer_key, _products(new)
    by_keys = bool(orders or buyer)
    if not by_keys and not products:
        return None
    if pool is not None:
        candidates = pool.candidates(new, orders, products, _reach(by_keys))
    else:
        base = Inquiry.objects.filter(
            ANSWERED_Q,
            account_id=new.account_id,
            created_at__lt=new.created_at,
            created_at__gte=new.created_at - _reach(by_keys),
        ).exclude(pk=new.pk)
        if by_keys:
            keys = Q(order_id__in=orders) if orders else Q()
            if buyer:
                keys |= Q(buyer_key=buyer)
            base = base.filter(keys)
        else:
            base = base.filter(order_id="", buyer_key="", product_id__in=products)
        candidates = list(base.only(*_FIELDS).order_by("-created_at", "-id")[:CANDIDATES])
    if by_keys:
        for old in candidates:
            when = answered_at(old)
            if not (when - CLOCK_SKEW <= new.created_at <= when + window()) or not _same_buyer_possible(new, old):
                continue
            if orders & _orders(old):
                return old, FollowUp.LinkedBy.ORDER
            if buyer and old.buyer_key == buyer:
                return old, FollowUp.LinkedBy.BUYER
        return None
    text = _question(new)
    for old in candidates:
        when = answered_at(old)
        if not (when - CLOCK_SKEW <= new.created_at <= when + product_window()) or not _same_buyer_possible(new, old):
            continue
        if _orders(old):
            continue
        if question_similarity(text, _question(old)) >= PRODUCT_TEXT_SIMILARITY:
            return old, FollowUp.LinkedBy.PRODUCT_TEXT
    return None


def link_one(new: Inquiry, pool: Pool | None = None) -> FollowUp | None:
    found = find_earlier(new, pool)
    if found is None:
        return None
    old, linked_by = found
    verdict = classify(new.content, old.content)  # the buyer's own words (titles are often a category)
    path = follow_up_path(old.status)
    try:
        with transaction.atomic():
            follow_up = FollowUp.objects.create(
                inquiry_id=new.pk,
                earlier_id=old.pk,
                account_id=new.account_id,
                kind=verdict.kind,
                linked_by=linked_by,
                path=path,
                intent=old.intent,
                answered_at=answered_at(old),
                asked_at=new.created_at,
                similarity=verdict.similarity,
                evidence=verdict.evidence(),
            )
    except IntegrityError:
        return None  # linked already (a concurrent poll of the same rows)
    events.record(
        new.pk,
        InquiryEvent.Type.FOLLOW_UP,
        actor_label=LINKER,
        message=f"follow-up of #{old.pk} ({verdict.kind}, {linked_by})",
        data={"earlier": old.pk, "kind": verdict.kind, "linked_by": linked_by, **verdict.evidence()},
    )
    if path == FollowUp.Path.AUTO and verdict.kind in (FollowUp.Kind.COMPLAINT, FollowUp.Kind.REPEAT):
        # The automatic draft did not settle it: for calibration it is a draft a person would have changed.
        Inquiry.objects.filter(pk=old.pk).update(draft_agreement=0.0, updated_at=timezone.now())
    return follow_up


def link_new(inquiry_ids: Iterable[int]) -> LinkReport:
    """Link the given (newly ingested) inquiries to the answered ones they follow up on."""
    report = LinkReport()
    ids = list(inquiry_ids)
    if not ids:
        return report
    rows = list(Inquiry.objects.filter(pk__in=ids, follow_up_of__isnull=True).only(*_FIELDS).order_by("created_at"))
    if not rows:
        return report
    # One query for the whole batch: every answered inquiry of these accounts that carries one of their
    # order, buyer or product keys, newest first. Each row then picks from it what its own query would
    # have found (a batch with more than POOL rows asks row by row instead).
    orders = set().union(*(_orders(r) for r in rows))
    buyers = {r.buyer_key for r in rows if r.buyer_key}
    products = set().union(*(_products(r) for r in rows if not _orders(r) and not r.buyer_key))
    if not (orders or buyers or products):
        return report
    keys = Q(order_id__in=orders) | Q(buyer_key__in=buyers) | Q(product_id__in=products, order_id="", buyer_key="")
    oldest = min(r.created_at for r in rows) - max(_reach(True), _reach(False))
    answered = list(
        Inquiry.objects.filter(
            ANSWERED_Q,
            keys,
            account_id__in={r.account_id for r in rows},
            created_at__gte=oldest,
            created_at__lt=max(r.created_at for r in rows),
        )
        .only(*_FIELDS)
        .order_by("-created_at", "-id")[: POOL + 1]
    )
    if not answered:
        return report
    pool = Pool(answered) if len(answered) <= POOL else None
    for new in rows:
        follow_up = link_one(new, pool)
        if follow_up is not None:
            report.linked.append(follow_up)
    return report
