"""The poll loop: per-account intervals, one poller per account, the baton, and the chain to deciding."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from inquiries import polling
from inquiries.models import Inquiry
from markets.models import MarketAccount
from markets.sandbox import SandboxServer
from partialauto.queue import DECIDE_NEW, POLL_LOOP
from partialauto.schedules import setup_schedules
from tests.factories import make_account


def queued() -> Counter:
    return Counter(q.func() for q in OrmQ.objects.all())


@pytest.mark.django_db
def test_interval__validated_in_the_form_and_the_database():
    account = make_account("coupang_main")
    assert account.poll_interval_seconds == 30
    account.poll_interval_seconds = 5
    with pytest.raises(ValidationError):
        account.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        MarketAccount.objects.filter(pk=account.pk).update(poll_interval_seconds=5)


@pytest.mark.django_db
def test_claim__due_once_per_interval_and_never_while_being_polled():
    fast = make_account("fast_one")
    slow = make_account("slow_one")
    MarketAccount.objects.filter(pk=slow.pk).update(poll_interval_seconds=120)
    MarketAccount.objects.filter(pk=make_account("inactive_one").pk).update(is_active=False)
    now = timezone.now()

    claimed = polling.claim_due_accounts(limit=10, now=now)
    assert sorted(a.name for a, _lease in claimed) == ["fast_one", "slow_one"]
    assert polling.claim_due_accounts(limit=10, now=now) == []  # claimed: not again
    fast.refresh_from_db()
    assert fast.next_poll_at == now + dt.timedelta(seconds=30)

    # 40 s later the fast one is due, but its poll is still running (lease held): not claimed
    assert polling.claim_due_accounts(limit=10, now=now + dt.timedelta(seconds=40)) == []
    for account, lease in claimed:
        polling.release(account, lease)
    again = polling.claim_due_accounts(limit=10, now=now + dt.timedelta(seconds=40))
    assert [a.name for a, _lease in again] == ["fast_one"]  # the slow one waits its 120 s

    # a dead poller's lease runs out
    later = now + polling.POLL_LEASE + dt.timedelta(seconds=41)
    assert sorted(a.name for a, _ in polling.claim_due_accounts(limit=10, now=later)) == ["fast_one", "slow_one"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_claim__concurrent_pollers_never_take_the_same_account():
    for i in range(20):
        make_account(f"acct_{i:02d}")
    barrier = threading.Barrier(6)
    won: list[str] = []
    lock = threading.Lock()

    def poller() -> None:
        try:
            barrier.wait()
            names = [a.name for a, _ in polling.claim_due_accounts(limit=20)]
            with lock:
                won.extend(names)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=poller) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(won) == [f"acct_{i:02d}" for i in range(20)]  # each exactly once


@pytest.fixture
def sandbox_accounts(sandbox: SandboxServer):
    cp = sandbox.store.register_coupang_account(vendor_id="A00066666", reply_by="cs-agent")
    nv = sandbox.store.register_naver_account(client_id="naver-loop")
    coupang = make_account(
        "coupang_loop",
        vendor_id=cp.vendor_id,
        access_key=cp.access_key,
        secret_key=cp.secret_key,
        reply_by="cs-agent",
        api_base_url=sandbox.coupang_base_url,
    )
    naver = make_account(
        "naver_loop",
        market="SMARTSTORE",
        client_id=nv.client_id,
        client_secret=nv.client_secret,
        api_base_url=sandbox.naver_base_url,
    )
    return sandbox, coupang, naver


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_loop__polls_each_account_at_its_interval_and_queues_the_decision(sandbox_accounts):
    sandbox, coupang, naver = sandbox_accounts
    MarketAccount.objects.filter(pk=naver.pk).update(poll_interval_seconds=3600)
    summary = polling.run_poll_loop(seconds=1.5)
    assert summary.polls == 2 and not summary.errors
    assert queued() == Counter({POLL_LOOP: 1})  # nothing new yet; the successor is queued
    OrmQ.objects.all().delete()

    MarketAccount.objects.filter(pk=coupang.pk).update(poll_interval_seconds=10, next_poll_at=timezone.now())
    sandbox.store.add_inquiries("COUPANG_ONLINE", 3, owner=coupang.vendor_id, answered_ratio=0.0, days_back=0.01)
    sandbox.store.add_inquiries("NAVER_QNA", 2, owner=naver.client_id, answered_ratio=0.0, days_back=0.01)
    summary = polling.run_poll_loop(seconds=1.5)
    # the coupang account was due again, the naver one not for an hour
    assert summary.polls == 1 and summary.created == 3
    assert Inquiry.objects.filter(account=coupang, status="NEW").count() == 3
    assert not Inquiry.objects.filter(account=naver).exists()
    assert queued() == Counter({DECIDE_NEW: 1, POLL_LOOP: 1})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_loop__a_newer_loop_takes_the_baton_and_the_older_stops(sandbox_accounts):
    results: list[polling.LoopSummary] = []

    def older() -> None:
        try:
            results.append(polling.run_poll_loop(seconds=20))
        finally:
            connections.close_all()

    thread = threading.Thread(target=older)
    started = time.monotonic()
    thread.start()
    time.sleep(1.0)
    polling.take_baton()  # what a newer loop does first
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert results[0].handed_over and not results[0].successor_queued
    assert POLL_LOOP not in queued()


@pytest.mark.django_db
def test_broker_outage__the_poll_still_succeeds(
    sandbox_accounts, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    import django_q.tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(django_q.tasks, "async_task", broker_down)
    sandbox, coupang, _naver = sandbox_accounts
    sandbox.store.add_inquiries("COUPANG_ONLINE", 2, owner=coupang.vendor_id, answered_ratio=0.0, days_back=0.01)
    MarketAccount.objects.exclude(pk=coupang.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        (claimed,) = polling.claim_due_accounts(limit=1)
        summary = polling.poll_claimed(*claimed)
    assert summary.created == 2 and len(callbacks) == 1  # queued after the commit
    assert Inquiry.objects.filter(status="NEW").count() == 2  # stored; the schedule decides them
    assert "could not enqueue policy.tasks.process_inquiries_task" in caplog.text  # and the schedule decides them


@pytest.mark.django_db
def test_schedules__the_loop_every_minute_and_the_decide_task_by_its_name():
    setup_schedules()
    poll = Schedule.objects.get(name="partialauto.poll_markets")
    decide = Schedule.objects.get(name="partialauto.process_inquiries")
    assert (poll.func, poll.minutes) == (POLL_LOOP, 1)
    assert (decide.func, decide.minutes) == (DECIDE_NEW, 1)
