"""Calibration: how often the AI's draft matches what people actually sent, per intent.

Two sources of "what people sent": the human review queue (the approved text) and, in shadow mode,
answers written on the marketplace itself (seen by polling). Each comparison is stored on the inquiry
as ``draft_agreement`` (a similarity in [0, 1]); an intent's agreement rate is the share of its
comparisons at or above ``AGREE_AT``. The admin shows it per intent and readiness uses it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from difflib import SequenceMatcher

from django.db.models import Count, Q
from django.utils import timezone

from inquiries.models import Inquiry

AGREE_AT = 0.8  # similar enough that the person did not really change the answer
MIN_SAMPLE = 20


def squash_spaces(text: str | None) -> str:
    """A text with every run of whitespace as one space: how answers are compared (one definition)."""
    return " ".join((text or "").split())


def same_text(a: str | None, b: str | None) -> bool:
    """Whether two answers say the same once whitespace is ignored (an empty one never does)."""
    return bool(a) and squash_spaces(a) == squash_spaces(b)


def similarity(draft: str, sent: str) -> float | None:
    """How close the AI's draft was to the answer a person sent (None when there is nothing to compare)."""
    a, b = squash_spaces(draft), squash_spaces(sent)
    if not a or not b:
        return None
    if a == b:
        return 1.0
    return round(SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


@dataclass(frozen=True)
class IntentAgreement:
    intent: str
    compared: int
    agreed: int

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None

    @property
    def enough_data(self) -> bool:
        return self.compared >= MIN_SAMPLE


def agreement_by_intent(*, days: int = 90, now: dt.datetime | None = None) -> dict[str, IntentAgreement]:
    since = (now or timezone.now()) - dt.timedelta(days=days)
    rows = (
        Inquiry.objects.filter(created_at__gte=since, draft_agreement__isnull=False)
        .exclude(intent="")
        .values("intent")
        .annotate(compared=Count("id"), agreed=Count("id", filter=Q(draft_agreement__gte=AGREE_AT)))
    )
    return {r["intent"]: IntentAgreement(r["intent"], r["compared"], r["agreed"]) for r in rows}


def answer_calibration(*, days: int = 90, now: dt.datetime | None = None):
    """Observed draft agreement per (account, intent, answer kind) and over every account: what
    :class:`~inquiries.agent.confidence.AnswerCalibration` blends with its priors."""
    from inquiries.agent.confidence import AnswerCalibration, AnswerStats

    since = (now or timezone.now()) - dt.timedelta(days=days)
    rows = (
        Inquiry.objects.filter(decided_at__gte=since, draft_agreement__isnull=False)
        .exclude(answer_kind="")
        .values("account_id", "intent", "answer_kind")
        .annotate(compared=Count("id"), agreed=Count("id", filter=Q(draft_agreement__gte=AGREE_AT)))
    )
    stats: dict = {}
    totals: dict = {}
    for r in rows:
        stats[(str(r["account_id"]), r["intent"], r["answer_kind"])] = AnswerStats(r["compared"], r["agreed"])
        key = (None, r["intent"], r["answer_kind"])
        compared, agreed = totals.get(key, (0, 0))
        totals[key] = (compared + r["compared"], agreed + r["agreed"])
    stats.update({k: AnswerStats(c, a) for k, (c, a) in totals.items()})
    return AnswerCalibration(stats)


def past_answers(*, limit: int | None = None):
    """Questions a person answered — approved in the review queue and sent, or answered on the
    marketplace — with that answer, newest last; only answers that may be reused for someone else."""
    from inquiries.agent.past_answers import MAX_ENTRIES, PastAnswer, reusable

    limit = limit or MAX_ENTRIES
    rows = (
        Inquiry.objects.filter(
            Q(status=Inquiry.Status.APPROVED, send_status=Inquiry.SendStatus.SENT)
            | Q(status=Inquiry.Status.ANSWERED_ELSEWHERE, external_answer__gt="")
        )
        .order_by("-updated_at", "-id")
        .values(
            "id",
            "account_id",
            "title",
            "content",
            "product_id",
            "product_refs",
            "order_id",
            "order_refs",
            "intent",
            "labelled_intent",
            "final_answer",
            "external_answer",
            "status",
            "reviewed_at",
            "updated_at",
        )[:limit]
    )
    entries = []
    for r in rows:
        answer = r["final_answer"] if r["status"] == Inquiry.Status.APPROVED else r["external_answer"]
        names_order = bool(
            r["order_id"]
            or (r["order_refs"] or {}).get("order_ids")
            or (r["order_refs"] or {}).get("product_order_ids")
        )
        if not reusable(answer or "", names_order=names_order):
            continue
        question = f"{r['title']}\n{r['content']}" if (r["title"] or "").strip() else r["content"]
        refs = tuple(dict.fromkeys([*(r["product_refs"] or []), *([r["product_id"]] if r["product_id"] else [])]))
        when = r["reviewed_at"] or r["updated_at"]
        entries.append(
            PastAnswer(
                str(r["id"]),
                str(r["account_id"]),
                refs,
                r["labelled_intent"] or r["intent"],
                question,
                answer.strip(),
                when.isoformat() if when else None,
            )
        )
    entries.reverse()
    return entries
