"""Two workers can never both take the last quota slot: parallel processes on PostgreSQL."""

from __future__ import annotations

import multiprocessing

import pytest
from django.db import connections

from policy.models import DailyQuotaUsage
from policy.quota import quota_consume, quota_day
from tests.factories import make_account

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 8
TRIES = 6
LIMIT = 10


def _consume(account_id, barrier, results):
    # each process opens its own connection (the parent's were closed before the fork)
    barrier.wait()
    taken = sum(1 for _ in range(TRIES) if quota_consume(account_id=account_id, limit=LIMIT))
    results.put(taken)
    connections.close_all()


def test_quota__exactly_the_limit_is_taken_by_racing_processes():
    account = make_account("coupang_main")
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [ctx.Process(target=_consume, args=(account.pk, barrier, results)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    taken = sum(results.get(timeout=5) for _ in procs)
    assert taken == LIMIT
    assert DailyQuotaUsage.objects.get(account=account, day=quota_day()).used == LIMIT
