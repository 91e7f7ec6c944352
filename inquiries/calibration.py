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


def _norm(text: str) -> str:
    return " ".join((text or "").split())


def similarity(draft: str, sent: str) -> float | None:
    """How close the AI's draft was to the answer a person sent (None when there is nothing to compare)."""
    a, b = _norm(draft), _norm(sent)
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
        Inquiry.objects.filter(created_at__gte=since, draft_agreement__isnull=False).exclude(intent="")
        .values("intent").annotate(compared=Count("id"), agreed=Count("id", filter=Q(draft_agreement__gte=AGREE_AT)))
    )
    return {r["intent"]: IntentAgreement(r["intent"], r["compared"], r["agreed"]) for r in rows}
