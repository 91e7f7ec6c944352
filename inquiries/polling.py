"""The poll loop: each active account polled as often as its interval says (``poll_interval_seconds``,
30 s by default), and what a poll stored handed on to be decided at once.

django-q2's scheduler looks at its schedules about every 30 seconds, so a schedule cannot poll every
30 seconds by itself. Instead one task, :func:`run_poll_loop`, runs for ``LOOP_SECONDS`` (under the
cluster's 60-second task timeout): every ``TICK`` it claims the accounts that are due and polls them,
up to ``POLL_THREADS`` at a time, then queues its own successor and ends. The every-minute schedule
starts a loop too, so a lost successor (a killed worker, a broker outage) costs at most a minute.

Coordination lives in the database, so any number of clusters can run loops:

* **the baton** (``market_poll_loop``, one row): a loop takes it when it starts; an older loop that
  sees it gone stops at its next tick and queues no successor. One loop runs at a time, and the
  handover leaves no gap.
* **the account claim**: a conditional UPDATE of the due account sets ``next_poll_at`` one interval
  ahead and a lease (``poll_lease_until``) that the poll clears when it ends; only one poller can win
  it, and an account whose poll is still running is never claimed again (a dead poller's lease runs
  out after ``POLL_LEASE``).
* **the marketplaces' limits** are the shared rate limiter's (``markets.clients.ratelimit``): every
  call of every process takes a token from the account's bucket (database or Redis), so a short
  interval polls more often only while the budget allows.

After a poll that stored new inquiries the decide task is queued by name
(:data:`partialauto.queue.DECIDE_NEW`) once the poll's rows are committed; deciding queues the
send sweep the same way. If the broker is down the schedules (decide and send every minute) pick
everything up: nothing is lost, it only waits.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from inquiries.ingest import POLL_THREADS, PollSummary, poll_account
from markets.models import MarketAccount, PollLoopBaton
from partialauto.db import threads_allowed
from partialauto.queue import POLL_LOOP, enqueue, enqueue_decide

log = logging.getLogger("partialauto.ingest")

# How long one loop claims polls; polls still running then are waited for (the task timeout is 60 s).
LOOP_SECONDS = 40.0
# How often the loop looks for due accounts (and checks that it still holds the baton).
TICK = 1.0
# How long a claimed account stays claimed if its poller dies without clearing the lease.
POLL_LEASE = timedelta(minutes=2)


@dataclass
class LoopSummary:
    polls: int = 0
    created: int = 0
    errors: list[str] = field(default_factory=list)
    handed_over: bool = False  # a newer loop took the baton
    successor_queued: bool = False

    def add(self, poll: PollSummary) -> None:
        self.polls += 1
        self.created += poll.created
        self.errors += [f"{poll.account}: {e}" for e in poll.errors]


def claim_due_accounts(*, limit: int, now=None) -> list[tuple[MarketAccount, object]]:
    """Claim up to ``limit`` active accounts that are due and not being polled: (account, lease) each.

    Each claim is a conditional UPDATE, so of several pollers (threads, processes, clusters) exactly one
    wins an account; its ``next_poll_at`` moves one interval ahead of this claim.
    """
    if limit <= 0:
        return []
    now = now or timezone.now()
    due = Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
    free = Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lte=now)
    candidates = list(
        MarketAccount.objects.active()
        .filter(due & free)
        .order_by(F("next_poll_at").asc(nulls_first=True), "name")
        .values_list("pk", "poll_interval_seconds")[: limit * 2]
    )
    lease = now + POLL_LEASE
    claimed = []
    for pk, interval in candidates:
        won = (
            MarketAccount.objects.filter(due & free, pk=pk, is_active=True)
            .order_by()
            .update(next_poll_at=now + timedelta(seconds=interval), poll_lease_until=lease)
        )
        if won:
            claimed.append(pk)
        if len(claimed) >= limit:
            break
    accounts = {a.pk: a for a in MarketAccount.objects.filter(pk__in=claimed)}
    return [(accounts[pk], lease) for pk in claimed if pk in accounts]


def release(account: MarketAccount, lease) -> None:
    MarketAccount.objects.filter(pk=account.pk, poll_lease_until=lease).update(poll_lease_until=None)


def poll_claimed(account: MarketAccount, lease, *, limiter=None, on_new=enqueue_decide) -> PollSummary:
    """Poll one claimed account, clear its lease, and hand new inquiries on to be decided."""
    try:
        summary = poll_account(account, limiter=limiter)
    except Exception as exc:  # one account's bug or outage never stops the loop
        log.exception("Poll of %s crashed", account.name)
        summary = PollSummary(account=account.name, errors=[f"{type(exc).__name__}: {exc}"])
    finally:
        try:
            release(account, lease)
        except DatabaseError:  # the lease runs out by itself (POLL_LEASE)
            log.warning("Poll of %s: could not release its claim; it expires in %s", account.name, POLL_LEASE)
    if summary.created and on_new is not None:
        transaction.on_commit(on_new)
    return summary


def _poll_in_thread(account: MarketAccount, lease, limiter, on_new) -> PollSummary:
    try:
        return poll_claimed(account, lease, limiter=limiter, on_new=on_new)
    finally:
        connections.close_all()  # this thread's connections only


def take_baton() -> uuid.UUID:
    token = uuid.uuid4()
    now = timezone.now()
    if not PollLoopBaton.objects.filter(pk=1).update(token=token, taken_at=now):
        PollLoopBaton.objects.get_or_create(pk=1, defaults={"token": token, "taken_at": now})
        PollLoopBaton.objects.filter(pk=1).update(token=token, taken_at=now)
    return token


def holds_baton(token: uuid.UUID) -> bool:
    return PollLoopBaton.objects.filter(pk=1, token=token).exists()


def enqueue_successor() -> bool:
    if settings.Q_CLUSTER.get("sync"):
        return False  # a synchronous queue would run it inside this one, for ever
    return enqueue(POLL_LOOP, task_name="poll-loop")


def run_poll_loop(
    *,
    seconds: float = LOOP_SECONDS,
    threads: int = POLL_THREADS,
    limiter=None,
    on_new=enqueue_decide,
    hand_on: bool = True,
) -> LoopSummary:
    """Poll due accounts for ``seconds``, then (``hand_on``, still holding the baton) queue the next loop."""
    summary = LoopSummary()
    token = take_baton()
    deadline = time.monotonic() + seconds
    threaded = threads > 1 and threads_allowed()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="poll") if threaded else None
    in_flight: dict[Future, MarketAccount] = {}
    try:
        while time.monotonic() < deadline:
            try:
                if not holds_baton(token):
                    summary.handed_over = True
                    break
                free = threads - len(in_flight) if pool else 1
                claimed = claim_due_accounts(limit=free)
            except DatabaseError as exc:
                # e.g. the server refused a connection for a moment: the loop keeps its place and tries
                # again next tick rather than leaving every account unpolled until the schedule's restart
                log.warning("Poll loop: database error (%s); trying again", exc)
                connection.close()
                summary.errors.append(f"database: {exc}"[:300])
                claimed = []
            for account, lease in claimed:
                if pool:
                    in_flight[pool.submit(_poll_in_thread, account, lease, limiter, on_new)] = account
                else:
                    summary.add(poll_claimed(account, lease, limiter=limiter, on_new=on_new))
            if in_flight:
                done, _running = wait(list(in_flight), timeout=TICK, return_when=FIRST_COMPLETED)
                for future in done:
                    in_flight.pop(future)
                    summary.add(future.result())
            elif not claimed:
                time.sleep(max(0.0, min(TICK, deadline - time.monotonic())))
    finally:
        if pool:
            for future in wait(list(in_flight)).done:
                summary.add(future.result())
            pool.shutdown(wait=True)
    if hand_on and not summary.handed_over and holds_baton(token):
        summary.successor_queued = enqueue_successor()
    return summary
