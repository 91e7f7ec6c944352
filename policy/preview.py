"""What a proposed unlock or phase change would have done: the account's last days replayed through the
proposed settings with the simulator (``policy.simulate``), summarised for the rollout board.

Nothing here writes. The counts are the simulator's (``simulate_policy --since 7d --account N --phase P``);
the page adds per-intent examples, the daily quota applied day by day, and every answer that would
have gone although the inquiry had a risk keyword or a person handled it differently (closed it without
an answer, rewrote the draft, or corrected the intent).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inquiries.models import Inquiry
from markets.models import MarketAccount
from policy.engine import reason_label
from policy.hours import SEOUL
from policy.models import RolloutPhase
from policy.simulate import replay_stored, summarize

PREVIEW_DAYS = 7
EXAMPLES_PER_INTENT = 3
AUTO_SEND = Inquiry.Status.AUTO_SEND


@dataclass
class IntentLine:
    intent: str
    total: int = 0
    auto_send: int = 0
    examples: list[dict] = field(default_factory=list)

    @property
    def to_person(self) -> int:
        return self.total - self.auto_send


@dataclass
class Preview:
    account: MarketAccount
    phase: RolloutPhase | None
    days: int
    total: int
    would_auto_send: int
    sent_within_quota: int  # AUTO_SEND decisions that the daily quota would have let through, day by day
    daily_quota: int | None
    by_intent: list[IntentLine]
    by_reason: list[tuple[str, int]]
    flagged: list[dict]  # answers that would have gone although the inquiry was risky or a person's

    @property
    def to_person(self) -> int:
        return self.total - self.would_auto_send


def preview_change(
    *, account: MarketAccount, phase: RolloutPhase | None, days: int = PREVIEW_DAYS, at: dt.datetime | None = None
) -> Preview:
    at = at or timezone.now()
    rows = replay_stored(account=account, since=dt.timedelta(days=days), phase=phase, at=at)
    stored = {i.pk: i for i in Inquiry.objects.filter(pk__in=[r["id"] for r in rows]).defer("raw_payload")}
    summary = summarize(rows)
    quota = _quota(account, phase)
    return Preview(
        account=account,
        phase=phase,
        days=days,
        total=summary["total"],
        would_auto_send=summary["would_auto_send"],
        sent_within_quota=_within_quota(rows, stored, quota),
        daily_quota=quota,
        by_intent=_by_intent(rows, stored),
        by_reason=[(reason_label(code), n) for code, n in summary["by_reason"].items()],
        flagged=[f for r in rows if r["decision"] == AUTO_SEND and (f := _flag(r, stored.get(r["id"])))],
    )


def _quota(account: MarketAccount, phase: RolloutPhase | None) -> int | None:
    rollout = getattr(account, "rollout", None)
    if rollout is not None and rollout.quota_override is not None:
        return rollout.quota_override
    phase = phase or (rollout.phase if rollout is not None else None)
    return phase.daily_quota if phase is not None else None


def _within_quota(rows: list[dict], stored: dict, quota: int | None) -> int:
    per_day: Counter = Counter()
    for r in rows:
        if r["decision"] == AUTO_SEND and (inquiry := stored.get(r["id"])) is not None:
            per_day[inquiry.created_at.astimezone(SEOUL).date()] += 1
    return sum(per_day.values()) if quota is None else sum(min(n, quota) for n in per_day.values())


def _by_intent(rows: list[dict], stored: dict) -> list[IntentLine]:
    lines: dict[str, IntentLine] = defaultdict(lambda: IntentLine(""))
    for r in rows:
        intent = r["intent"] or "-"
        line = lines[intent]
        line.intent = intent
        line.total += 1
        if r["decision"] != AUTO_SEND:
            continue
        line.auto_send += 1
        if len(line.examples) < EXAMPLES_PER_INTENT and (inquiry := stored.get(r["id"])) is not None:
            line.examples.append(
                {
                    "id": inquiry.pk,
                    "content": inquiry.content[:120],
                    "draft": r["draft"][:200],
                    "confidence": r["confidence"],
                }
            )
    return sorted(lines.values(), key=lambda line: (-line.auto_send, line.intent))


def _flag(row: dict, inquiry: Inquiry | None) -> dict | None:
    """Why this answer should not have gone, judged by what is known about the inquiry now."""
    if inquiry is None:
        return None
    why = []
    terms = sorted({h.get("term", "?") for h in (row["risk_hits"] or inquiry.risk_hits or [])})
    if terms:
        why.append(str(_("위험 키워드: %(terms)s")) % {"terms": ", ".join(terms)})
    person = ((inquiry.decision_trace or {}).get("agent") or {}).get("person_hits") or []
    if person:
        why.append(
            str(_("사람만 들어줄 수 있는 요청: %(terms)s"))
            % {"terms": ", ".join(sorted({h.get("term", "?") for h in person}))}
        )
    if inquiry.status == Inquiry.Status.CLOSED and inquiry.reviewed_by_id:
        why.append(str(_("담당자가 답변 없이 종료함")))
    if inquiry.human_edited:
        why.append(str(_("담당자가 초안을 고쳐서 보냄")))
    if inquiry.labelled_intent and inquiry.labelled_intent != row["intent"]:
        why.append(str(_("담당자가 의도를 %(intent)s(으)로 바로잡음")) % {"intent": inquiry.labelled_intent})
    if not why:
        return None
    return {
        "id": inquiry.pk,
        "intent": row["intent"],
        "content": inquiry.content[:160],
        "draft": row["draft"][:200],
        "why": why,
    }
