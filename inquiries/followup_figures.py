"""Follow-up figures: per account, intent and path, the answers given, how many drew a follow-up, a
repeat or a complaint (the rates the dashboard, the KPIs, readiness and the complaint-rate rollback rule
read), and the complaints behind a rate."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
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


# What figures are grouped by: per name, the expression on an answer, built for a lookup prefix ("" on
# the answer itself, "earlier__" from the follow-ups that name it).
Grouping = dict[str, Callable[[str], Any]]


def _field(name: str) -> Callable[[str], F]:
    return lambda prefix: F(prefix + name)


def _grouped(queryset, group: Grouping, prefix: str):
    return queryset.annotate(**{f"by_{name}": build(prefix) for name, build in group.items()}).values(
        *[f"by_{name}" for name in group]
    )


def _key(row: dict, group: Grouping) -> tuple:
    return tuple(row[f"by_{name}"] for name in group)


def _follow_up_counts(where: dict, group: Grouping) -> dict[tuple, dict[str, int]]:
    """Per group of answers: how many drew a follow-up, a repeat, a complaint — each answer counted
    once however many follow-ups it drew. Read from the follow-ups (a small table) joined to them."""
    rows = (
        _grouped(FollowUp.objects.filter(_answered_q(**where, prefix="earlier__")), group, "earlier__")
        .annotate(
            follow_ups=Count("earlier_id", distinct=True),
            repeats=Count("earlier_id", distinct=True, filter=Q(kind=FollowUp.Kind.REPEAT)),
            complaints=Count("earlier_id", distinct=True, filter=Q(kind=FollowUp.Kind.COMPLAINT)),
        )
        .order_by()
    )
    return {_key(r, group): {n: r[n] for n in ("follow_ups", "repeats", "complaints")} for r in rows}


def _answer_counts(where: dict, group: Grouping, restrict: Q | None = None) -> dict[tuple, int]:
    """Per group: the answers given (a plain count, no join)."""
    answers = Inquiry.objects.filter(_answered_q(**where))
    if restrict is not None:
        answers = answers.filter(restrict)
    return {_key(r, group): r["n"] for r in _grouped(answers, group, "").annotate(n=Count("id")).order_by()}


_NO_FOLLOW_UPS = {"follow_ups": 0, "repeats": 0, "complaints": 0}


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
    group: Grouping = {
        "account_id": _field("account_id"),
        "account": _field("account__name"),
        "intent": _field("intent"),
        "status": _field("status"),
    }
    followed = _follow_up_counts(where, group)
    restrict = None
    if complained_only:
        pairs = {(key[0], key[2]) for key, counts in followed.items() if counts["complaints"]}
        if not pairs:
            return []
        restrict = reduce(operator.or_, (Q(account_id=a, intent=i) for a, i in pairs))
    merged: dict[tuple, dict] = {}
    for key, answers in _answer_counts(where, group, restrict).items():
        account_id_, account, intent_, status = key
        row_path = follow_up_path(status)
        out = merged.setdefault(
            (account_id_, intent_ or "", row_path),
            {
                "account_id": account_id_,
                "account": account,
                "intent": intent_ or "",
                "path": str(row_path),
                "answers": 0,
                **_NO_FOLLOW_UPS,
            },
        )
        out["answers"] += answers
        for name, n in followed.get(key, _NO_FOLLOW_UPS).items():
            out[name] += n
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
    where = dict(since=since, until=until, path=None, account_id=None, intent=None)
    group: Grouping = {"day": lambda prefix: _day_of_answer(prefix, since, tz), "status": _field("status")}
    followed = _follow_up_counts(where, group)
    out: dict[tuple[dt.date, str], dict] = {}
    for (day, status), answers in _answer_counts(where, group).items():
        counts = followed.get((day, status), _NO_FOLLOW_UPS)
        entry = out.setdefault((day, str(follow_up_path(status))), {"answers": 0, "follow_ups": 0, "complaints": 0})
        entry["answers"] += answers
        entry["follow_ups"] += counts["follow_ups"]
        entry["complaints"] += counts["complaints"]
    return out
