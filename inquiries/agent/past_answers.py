"""Answers the seller already wrote: a question asked again gets the answer a person sent last time.

The index holds past questions with the answer a person approved in the review queue or wrote on the
marketplace (seen while polling in shadow mode). A new question that is a near-duplicate of one of them
(cosine similarity of their :func:`~inquiries.agent.textmodel.features` at least :data:`NEAR_DUPLICATE`)
is drafted from that answer: the same account first, the same product before another product.

Only answers that say nothing about one buyer's order are kept: a past answer with a long number in it
(an order, a tracking number, a phone number) or to a question that named an order is never reused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inquiries.agent.facts import FactRef
from inquiries.agent.normalize import NormalizedText
from inquiries.agent.textmodel import features

SOURCE_PAST_ANSWER = "past_answer"
NEAR_DUPLICATE = 0.86
MAX_ENTRIES = 5000  # per process; the newest ones win
_SPECIFIC = re.compile(r"\d{6,}|\d{2,4}-\d{3,4}-\d{4}")
# Intents whose answers depend on the buyer's own order: never reused for someone else.
ORDER_BOUND_INTENTS = frozenset({"교환반품", "환불", "주문취소"})


@dataclass(frozen=True)
class PastAnswer:
    id: str  # the inquiry's id
    account_id: str | None
    product_refs: tuple[str, ...]
    intent: str
    question: str
    answer: str
    answered_at: str | None  # ISO time


@dataclass(frozen=True)
class PastMatch:
    entry: PastAnswer
    similarity: float

    def ref(self) -> FactRef:
        return FactRef(SOURCE_PAST_ANSWER, self.entry.id, self.entry.answered_at,
                       f"{self.entry.intent}: {self.entry.question[:50]} (similarity {self.similarity:.2f})")


def reusable(answer: str, *, names_order: bool) -> bool:
    return bool(answer.strip()) and not names_order and not _SPECIFIC.search(answer)


def _vector(text: NormalizedText | str) -> dict[str, float]:
    counts = features(text)
    weights = {k: 1.0 + math.log(v) for k, v in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {k: w / norm for k, w in weights.items()}


class PastAnswerIndex:
    """An inverted index over past questions (feature → entries), searched by cosine similarity."""

    def __init__(self, entries: Iterable[PastAnswer]) -> None:
        self.entries: list[PastAnswer] = []
        self._vectors: list[dict[str, float]] = []
        self._postings: dict[str, list[int]] = {}
        for entry in list(entries)[-MAX_ENTRIES:]:
            if entry.intent in ORDER_BOUND_INTENTS:
                continue
            vector = _vector(entry.question)
            i = len(self.entries)
            self.entries.append(entry)
            self._vectors.append(vector)
            for key in vector:
                if key.startswith(("c3:", "w:")):  # enough to find candidates; scored on everything
                    self._postings.setdefault(key, []).append(i)

    def __len__(self) -> int:
        return len(self.entries)

    def best(self, text: NormalizedText, *, account_id: str | None, product_refs: Sequence[str] = (),
             intent: str | None = None) -> PastMatch | None:
        """The closest past question at or above :data:`NEAR_DUPLICATE`, preferring the same account
        and the same product; None when there is none."""
        if not self.entries:
            return None
        query = _vector(text)
        candidates: set[int] = set()
        for key in query:
            candidates.update(self._postings.get(key, ()))
        refs = set(product_refs)
        best: tuple[tuple, PastMatch] | None = None
        for i in candidates:
            vector = self._vectors[i]
            similarity = sum(w * vector.get(k, 0.0) for k, w in query.items())
            if similarity < NEAR_DUPLICATE:
                continue
            entry = self.entries[i]
            if entry.account_id and account_id and entry.account_id != account_id:
                continue  # another account's answer: another shop, other facts
            if intent and entry.intent and entry.intent != intent:
                continue
            if entry.product_refs and refs and not (refs & set(entry.product_refs)):
                continue  # about another product
            key = (entry.account_id == account_id, bool(refs & set(entry.product_refs)), round(similarity, 4),
                   entry.answered_at or "")
            if best is None or key > best[0]:
                best = (key, PastMatch(entry, round(similarity, 4)))
        return best[1] if best else None


def past_answer_index(entries: Iterable[PastAnswer]) -> PastAnswerIndex:
    return PastAnswerIndex(entries)
