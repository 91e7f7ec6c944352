"""At most one answer per inquiry, proven on PostgreSQL with real processes against the sandbox."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest
from django.db import connection, connections

from inquiries.models import Inquiry, SendAttempt
from policy.sending import reconcile, send_due, send_inquiry
from policy.services import SYSTEM, emergency_stop

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _fork():
    connections.close_all()
    return multiprocessing.get_context("fork")


def _worker_send_due(barrier, limit):
    barrier.wait()
    try:
        send_due(limit=limit)
    finally:
        connections.close_all()


def _worker_send_one(inquiry_id):
    try:
        send_inquiry(inquiry_id)
    finally:
        connections.close_all()


def run_workers(target, args_list, timeout=60):
    ctx = _fork()
    procs = [ctx.Process(target=target, args=args) for args in args_list]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
        assert p.exitcode == 0, f"worker exited with {p.exitcode}"


def test_several_workers_same_due_inquiries__one_answer_each(live):
    inquiries = [live.inquiry() for _ in range(15)] + [live.inquiry(live.naver) for _ in range(15)]
    live.sandbox.store.set_faults(latency_ms=5)
    ctx = _fork()
    barrier = ctx.Barrier(4)
    run_workers(_worker_send_due, [(barrier, 100)] * 4)
    ledger = live.answers()
    keys = [(a.kind, str(a.external_id)) for a in ledger]
    assert len(keys) == len(set(keys)) == 30
    assert Inquiry.objects.filter(send_status="SENT").count() == 30
    assert SendAttempt.objects.count() == 30  # exactly one claim per inquiry
    assert {i.external_id for i in inquiries} == {str(a.external_id) for a in ledger}


def test_kill_9_mid_send__no_second_answer_and_sent_after_reconcile(live):
    inquiry = live.inquiry()
    live.sandbox.store.set_faults(scope="answers", hold_answers="after_apply")
    ctx = _fork()
    worker = ctx.Process(target=_worker_send_one, args=(inquiry.pk,))
    worker.start()
    deadline = time.monotonic() + 10
    while live.sandbox.store.held < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live.sandbox.store.held == 1, "the worker never reached the marketplace"
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(5)
    live.sandbox.store.set_faults(hold_answers="")
    live.sandbox.store.release()
    inquiry.refresh_from_db()
    assert inquiry.send_status == "SENDING"  # the dead worker's claim, still leased
    assert send_due() == [] or all(r.result == "NOT_CLAIMED" for r in send_due())  # never re-sent while in doubt
    reports = reconcile(stale_after=0)
    assert [r.result for r in reports] == ["SENT"]
    inquiry.refresh_from_db()
    assert inquiry.send_status == "SENT"
    assert len(live.answers(inquiry)) == 1
    assert send_due() == []


def test_processed_but_response_lost__no_resend(live):
    inquiry = live.inquiry()
    live.sandbox.store.set_faults(scope="answers", lost_response="drop")
    assert send_inquiry(inquiry.pk).result == "SEND_UNKNOWN"
    live.sandbox.store.set_faults(lost_response="")
    assert send_due() == []  # unknown outcomes are never simply retried
    assert [r.result for r in reconcile(stale_after=0, include_waiting=True)] == ["SENT"]
    assert len(live.answers(inquiry)) == 1


def test_500_timeout_and_429__right_states(live):
    a, b, c = live.inquiry(), live.inquiry(), live.inquiry()
    live.sandbox.store.set_faults(scope="answers", fault_rate=1.0)
    assert send_inquiry(a.pk).result == "SEND_UNKNOWN"  # a 500 may have been processed
    live.sandbox.store.set_faults(fault_rate=0.0, read_timeout=1.5, read_timeout_count=1)
    assert send_inquiry(b.pk).result == "SEND_UNKNOWN"  # read timeout: unknown
    live.sandbox.store.set_faults(read_timeout=0.0, burst_429=1)
    assert send_inquiry(c.pk).result == "SEND_FAILED"  # 429: definitely not delivered, back off
    c.refresh_from_db()
    assert c.next_attempt_at is not None and "RATE_LIMITED" in c.last_send_error
    # reconciliation: the 500 and the timeout were not applied, so they become eligible again
    results = {r.inquiry_id: r.result for r in reconcile(stale_after=0, include_waiting=True)}
    assert results == {a.pk: "SEND_FAILED", b.pk: "SEND_FAILED"}
    assert live.answers() == []


def _drop_connection_after_delivery(sweep_backend_pid):
    from markets.connect import cached_client_for

    def factory(account):
        client = cached_client_for(account)

        class DropAfter:
            def post_answer(self, *args, **kwargs):
                result = client.post_answer(*args, **kwargs)
                # The sweep's database connection goes away after the 200 (the call may run on another
                # thread, with a connection of its own).
                with connections["default"].cursor() as cur:
                    cur.execute("SELECT pg_terminate_backend(%s)", [sweep_backend_pid])
                return result

        return DropAfter()

    return factory


@pytest.mark.parametrize("concurrency", [1, 32])
def test_db_connection_dropped_between_200_and_finalize__reconciled_to_sent(live, settings, concurrency):
    settings.CS_SEND_CONCURRENCY = concurrency
    inquiry = live.inquiry()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        reports = send_due(client_factory=_drop_connection_after_delivery(pid))
    finally:
        connection.close()
    assert [r.result for r in reports] == ["DB_ERROR"]
    inquiry.refresh_from_db()
    assert inquiry.send_status == "SENDING"  # the claim was committed before the call: never NOT_SENT
    assert send_due() == []
    assert [r.result for r in reconcile(stale_after=0)] == ["SENT"]
    assert len(live.answers(inquiry)) == 1


@pytest.mark.parametrize("concurrency", [1, 32])
def test_emergency_stop_while_sends_queued__nothing_more_reaches_the_sandbox(live, settings, concurrency):
    from policy.sending import CLAIM_PER_ACCOUNT

    settings.CS_SEND_CONCURRENCY = concurrency  # the workers are forked below: they inherit it
    queued = [live.inquiry(account) for _ in range(6) for account in (live.coupang, live.naver)]
    live.sandbox.store.set_faults(latency_ms=30)
    ctx = _fork()
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_worker_send_due, args=(barrier, 100)) for _ in range(2)]
    for p in procs:
        p.start()
    barrier.wait()
    deadline = time.monotonic() + 10
    while len(live.answers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    emergency_stop(reason="test: wrong answers", actor=SYSTEM)
    at_stop = len(live.answers())
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    # at most the calls already past their re-check may land after the stop: one group per worker (one
    # call with a concurrency of 1; else CLAIM_PER_ACCOUNT rows of each of the two accounts)
    in_flight = min(concurrency, 2 * CLAIM_PER_ACCOUNT)
    assert len(live.answers()) <= at_stop + 2 * in_flight
    after = Inquiry.objects.filter(pk__in=[q.pk for q in queued])
    assert after.filter(send_status="SENT").count() == len(live.answers())
    assert after.filter(is_test_mode=True, send_status="SEND_FAILED").count() == 12 - len(live.answers())
    # and a new batch after the stop sends nothing at all
    more = [live.inquiry() for _ in range(3)]
    before = len(live.answers())
    send_due()
    assert len(live.answers()) == before
    assert all(Inquiry.objects.get(pk=q.pk).is_test_mode for q in more)


def test_unknown_then_confirmed_delivered__counts_as_success(live):
    from policy.models import AccountRollout

    inquiry = live.inquiry()
    AccountRollout.objects.filter(account=live.coupang).update(consecutive_failures=2)
    live.sandbox.store.set_faults(scope="answers", lost_response="drop")
    assert send_inquiry(inquiry.pk).result == "SEND_UNKNOWN"
    # an unknown outcome is not a failure: the count waits for reconciliation
    assert AccountRollout.objects.get(account=live.coupang).consecutive_failures == 2
    live.sandbox.store.set_faults(lost_response="")
    assert [r.result for r in reconcile(stale_after=0, include_waiting=True)] == ["SENT"]
    assert AccountRollout.objects.get(account=live.coupang).consecutive_failures == 0
    assert list(SendAttempt.objects.filter(inquiry=inquiry).values_list("outcome", flat=True)) == ["DELIVERED"]
