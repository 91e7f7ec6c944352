"""Answers the seller already wrote: a question asked again gets the answer a person sent last time.

The index holds past questions with the answer a person approved in the review queue or wrote on the
marketplace (seen while polling in shadow mode). A new question that is a near-duplicate of one of them
(cosine similarity of their :func:`~inquiries.agent.textmodel.features` at least :data:`NEAR_DUPLICATE`)
is drafted from that answer: the same account first, the same product before another product.

Only answers that say nothing about one buyer's order are kept: a past answer with a long number in it
(an order, a tracking number, a phone number) or to a question that named an order is never reused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

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
        return FactRef(
            SOURCE_PAST_ANSWER,
            self.entry.id,
            self.entry.answered_at,
            f"{self.entry.intent}: {self.entry.question[:50]} (similarity {self.similarity:.2f})",
        )


def reusable(answer: str, *, names_order: bool) -> bool:
    return bool(answer.strip()) and not names_order and not _SPECIFIC.search(answer)


def _vector(text: NormalizedText | str, counts: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(hashed feature ids, sorted; weights) of a text, L2-normalized, sublinear counts. ``counts``: the
    text's features when the caller has them already."""
    counts = features(text) if counts is None else counts
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.fromiter(map(hash, counts), dtype=np.int64, count=len(counts))
    weights = np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts))) + np.float32(1.0)
    weights /= np.float32(np.sqrt(np.dot(weights, weights)))
    order = np.argsort(ids)
    return ids[order], weights[order]


class PastAnswerIndex:
    """Past questions as an inverted index over hashed features (feature → the entries that have it, with
    their weights, in flat numpy arrays): a query's cosine similarity to every entry is one gather and one
    ``bincount`` over the entries sharing a feature with it. A few megabytes for :data:`MAX_ENTRIES`.
    (Feature names are hashed with Python's ``hash``: the index is built and searched in one process.)"""

    def __init__(self, entries: Iterable[PastAnswer]) -> None:
        self.entries: list[PastAnswer] = [
            e for e in list(entries)[-MAX_ENTRIES:] if e.intent not in ORDER_BOUND_INTENTS
        ]
        vectors = [_vector(e.question) for e in self.entries]
        ids = np.concatenate([v[0] for v in vectors]) if vectors else np.zeros(0, dtype=np.int64)
        weights = np.concatenate([v[1] for v in vectors]) if vectors else np.zeros(0, dtype=np.float32)
        owner = np.repeat(np.arange(len(vectors), dtype=np.int32), [len(v[0]) for v in vectors])
        order = np.argsort(ids, kind="stable")
        ids, self._owner, self._weights = ids[order], owner[order], weights[order]
        # one row per distinct feature: its id and where its postings start in _owner/_weights
        self._keys, self._starts = np.unique(ids, return_index=True)
        self._ends = np.append(self._starts[1:], len(ids))

    def __len__(self) -> int:
        return len(self.entries)

    def similarities(self, text: NormalizedText | str, counts: dict[str, int] | None = None) -> np.ndarray:
        """Cosine similarity of ``text`` to every entry."""
        scores = np.zeros(len(self.entries), dtype=np.float32)
        ids, weights = _vector(text, counts)
        if not len(ids) or not len(self._keys):
            return scores
        at = np.searchsorted(self._keys, ids)
        found = (at < len(self._keys)) & (self._keys[np.minimum(at, len(self._keys) - 1)] == ids)
        at, weights = at[found], weights[found]
        if not len(at):
            return scores
        starts, ends = self._starts[at], self._ends[at]
        lengths = ends - starts
        postings = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) + np.arange(
            lengths.sum()
        )
        contribution = self._weights[postings] * np.repeat(weights, lengths)
        return np.bincount(self._owner[postings], weights=contribution, minlength=len(self.entries)).astype(np.float32)

    def best(
        self,
        text: NormalizedText,
        *,
        account_id: str | None,
        product_refs: Sequence[str] = (),
        intent: str | None = None,
        counts: dict[str, int] | None = None,
    ) -> PastMatch | None:
        """The closest past question at or above :data:`NEAR_DUPLICATE`, preferring the same account
        and the same product; None when there is none."""
        if not self.entries:
            return None
        scores = self.similarities(text, counts)
        refs = set(product_refs)
        best: tuple[tuple, PastMatch] | None = None
        for i in np.flatnonzero(scores >= NEAR_DUPLICATE - 1e-6):
            entry, similarity = self.entries[i], float(scores[i])
            if entry.account_id and account_id and entry.account_id != account_id:
                continue  # another account's answer: another shop, other facts
            if intent and entry.intent and entry.intent != intent:
                continue
            if entry.product_refs and refs and not (refs & set(entry.product_refs)):
                continue  # about another product
            key = (
                entry.account_id == account_id,
                bool(refs & set(entry.product_refs)),
                round(similarity, 4),
                entry.answered_at or "",
            )
            if best is None or key > best[0]:
                best = (key, PastMatch(entry, round(min(similarity, 1.0), 4)))
        return best[1] if best else None


def past_answer_index(entries: Iterable[PastAnswer]) -> PastAnswerIndex:
    return PastAnswerIndex(entries)
