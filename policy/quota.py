"""Daily send quota per account, counted in Asia/Seoul days and consumed atomically."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from policy.hours import SEOUL
from policy.models import DailyQuotaUsage


def quota_day(at: dt.datetime | None = None) -> dt.date:
    return (at or timezone.now()).astimezone(SEOUL).date()


def _ensure_row(account_id, day: dt.date) -> None:
    if DailyQuotaUsage.objects.filter(account_id=account_id, day=day).exists():
        return
    try:
        with transaction.atomic():
            DailyQuotaUsage.objects.create(account_id=account_id, day=day, used=0)
    except IntegrityError:
        pass  # another worker created it first


def quota_consume(*, account_id, limit: int | None, at: dt.datetime | None = None) -> bool:
    """Take one slot; False when the day's quota is used up. ``limit=None`` means no quota.

    The conditional UPDATE is the whole guarantee: under READ COMMITTED two workers racing for the
    last slot serialize on the row, and the loser re-evaluates ``used < limit`` and matches nothing.
    """
    day = quota_day(at)
    _ensure_row(account_id, day)
    qs = DailyQuotaUsage.objects.filter(account_id=account_id, day=day)
    if limit is not None:
        qs = qs.filter(used__lt=limit)
    return qs.update(used=F("used") + 1) == 1


def quota_release(*, account_id, day: dt.date) -> None:
    """Give a slot back when a claimed send definitely did not reach the marketplace."""
    DailyQuotaUsage.objects.filter(account_id=account_id, day=day, used__gt=0).update(used=F("used") - 1)


def quota_used(*, account_id, at: dt.datetime | None = None) -> int:
    row = (
        DailyQuotaUsage.objects.filter(account_id=account_id, day=quota_day(at)).values_list("used", flat=True).first()
    )
    return row or 0
