"""Follow-up figures: per account, intent and path, the answers given, how many drew a follow-up, a
repeat or a complaint (the rates the dashboard, the KPIs, readiness and the complaint-rate rollback rule
read), and the complaints behind a rate."""

from __future__ import annotations

import datetime as dt
import operator
from functools import reduce
from typing import Any

from django.db.models import Case, Count, DateTimeField, F, Q, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from inquiries.answer_path import AUTOMATIC_STATUSES
from inquiries.followups import follow_up_path
from inquiries.models import FollowUp, Inquiry


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _answered_q(*, since, until, path, account_id, intent, prefix: str = "") -> Q:
    """The answers given in [since, until) — delivered for real, or answered on the marketplace — of
    ``path`` / account / intent when given; ``prefix``: the lookup to the answer ("earlier__")."""

    def q(**lookups) -> Q:
        return Q(**{prefix + name: value for name, value in lookups.items()})

    answered = q(send_status=Inquiry.SendStatus.SENT, is_test_mode=False, sent_at__gte=since, sent_at__lt=until) | q(
        status=Inquiry.Status.ANSWERED_ELSEWHERE, created_at__gte=since, created_at__lt=until
    )
    if path == FollowUp.Path.AUTO:
        answered &= q(status__in=AUTOMATIC_STATUSES)
    elif path == FollowUp.Path.HUMAN:
        answered &= ~q(status__in=AUTOMATIC_STATUSES)
    if account_id is not None:
        answered &= q(account_id=account_id)
    if intent is not None:
        answered &= q(intent=intent)
    return answered


def resolution_figures(
    *,
    since: dt.datetime,
    until: dt.datetime,
    path: str | None = None,
    account_id=None,
    intent: str | None = None,
    complained_only: bool = False,
) -> list[dict]:
    """Per account, intent and path (``AUTO`` / ``HUMAN``): the answers given in [since, until), how many
    drew a follow-up, a repeat, a complaint, and the rates (0–1) — answers counted once however many
    follow-ups they drew. ``complained_only``: only the accounts and intents with a complaint (the
    answers of the others are not counted at all: what a rule on the complaint rate needs)."""
    where = dict(since=since, until=until, path=path, account_id=account_id, intent=intent)
    # Two reads: the follow-ups with the answers they follow (a small table, joined by key), each answer
    # counted once, and the answers (a plain count, no join) — of the complained-about ones only, if asked.
    followed: dict[tuple, dict[str, Any]] = {
        (r["earlier__account_id"], r["earlier__intent"], r["earlier__status"]): dict(r)
        for r in FollowUp.objects.filter(_answered_q(**where, prefix="earlier__"))
        .values("earlier__account_id", "earlier__intent", "earlier__status")
        .annotate(
            n_follow_ups=Count("earlier_id", distinct=True),
            n_repeats=Count("earlier_id", distinct=True, filter=Q(kind=FollowUp.Kind.REPEAT)),
            n_complaints=Count("earlier_id", distinct=True, filter=Q(kind=FollowUp.Kind.COMPLAINT)),
        )
        .order_by()
    }
    answers = Inquiry.objects.filter(_answered_q(**where))
    if complained_only:
        pairs = {(key[0], key[1]) for key, counts in followed.items() if counts["n_complaints"]}
        if not pairs:
            return []
        answers = answers.filter(reduce(operator.or_, (Q(account_id=a, intent=i) for a, i in pairs)))
    rows = list(answers.values("account_id", "account__name", "intent", "status").annotate(n_answers=Count("id")))
    merged: dict[tuple, dict] = {}
    for r in rows:
        row_path = follow_up_path(r["status"])
        key = (r["account_id"], r["intent"] or "", row_path)
        out = merged.setdefault(
            key,
            {
                "account_id": r["account_id"],
                "account": r["account__name"],
                "intent": r["intent"] or "",
                "path": str(row_path),
                "answers": 0,
                "follow_ups": 0,
                "repeats": 0,
                "complaints": 0,
            },
        )
        counts = followed.get((r["account_id"], r["intent"], r["status"]), {})
        out["answers"] += r["n_answers"]
        out["follow_ups"] += counts.get("n_follow_ups", 0)
        out["repeats"] += counts.get("n_repeats", 0)
        out["complaints"] += counts.get("n_complaints", 0)
    result = []
    for out in merged.values():
        out["follow_up_rate"] = _rate(out["follow_ups"], out["answers"])
        out["complaint_rate"] = _rate(out["complaints"], out["answers"])
        result.append(out)
    result.sort(key=lambda r: (r["account"], r["intent"], r["path"]))
    return result


def complaint_rows(*, account_id, intent: str, since: dt.datetime, until: dt.datetime, limit: int = 20) -> list[dict]:
    """The complaint follow-ups on automatic answers of one account and intent, newest first."""
    rows = (
        FollowUp.objects.filter(
            account_id=account_id,
            intent=intent,
            path=FollowUp.Path.AUTO,
            kind=FollowUp.Kind.COMPLAINT,
            answered_at__gte=since,
            answered_at__lt=until,
        )
        .order_by("-asked_at", "-id")
        .values("inquiry_id", "earlier_id", "linked_by", "asked_at", "evidence")[:limit]
    )
    return [
        {
            "inquiry": r["inquiry_id"],
            "earlier": r["earlier_id"],
            "linked_by": r["linked_by"],
            "asked_at": timezone.localtime(r["asked_at"]).isoformat(timespec="seconds"),
            "markers": (r["evidence"] or {}).get("markers", [])[:5],
        }
        for r in rows
    ]


def _day_of_answer(prefix: str, since: dt.datetime, tz: dt.tzinfo) -> TruncDate:
    """The local day an answer was given: its send, or (answered on the marketplace) the question's."""
    sent = Q(**{f"{prefix}send_status": Inquiry.SendStatus.SENT, f"{prefix}is_test_mode": False})
    sent &= Q(**{f"{prefix}sent_at__gte": since})
    return TruncDate(
        Case(When(sent, then=F(f"{prefix}sent_at")), default=F(f"{prefix}created_at"), output_field=DateTimeField()),
        tzinfo=tz,
    )


def resolution_by_day(*, since: dt.datetime, until: dt.datetime, tz: dt.tzinfo) -> dict[tuple[dt.date, str], dict]:
    """(local day of the answer, path) → answers, follow-ups and complaints in [since, until): the same
    counts as :func:`resolution_figures` day by day, in two reads for the whole range."""
    out: dict[tuple[dt.date, str], dict] = {}

    def entry(day, status) -> dict:
        return out.setdefault((day, str(follow_up_path(status))), {"answers": 0, "follow_ups": 0, "complaints": 0})

    for r in (
        Inquiry.objects.filter(_answered_q(since=since, until=until, path=None, account_id=None, intent=None))
        .annotate(day=_day_of_answer("", since, tz))
        .values("day", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        entry(r["day"], r["status"])["answers"] += r["n"]
    for f in (
        FollowUp.objects.filter(
            _answered_q(since=since, until=until, path=None, account_id=None, intent=None, prefix="earlier__")
        )
        .annotate(day=_day_of_answer("earlier__", since, tz))
        .values("day", "earlier__status")
        .annotate(
            n_follow_ups=Count("earlier_id", distinct=True),
            n_complaints=Count("earlier_id", distinct=True, filter=Q(kind=FollowUp.Kind.COMPLAINT)),
        )
        .order_by()
    ):
        counts = entry(f["day"], f["earlier__status"])
        counts["follow_ups"] += f["n_follow_ups"]
        counts["complaints"] += f["n_complaints"]
    return out
