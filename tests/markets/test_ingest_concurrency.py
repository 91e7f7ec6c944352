"""Ingestion with fetching and storing side by side: on PostgreSQL each account's pages are read in a
thread of their own while the polling thread stores them, and ``poll_markets`` polls several accounts
at once. Whatever fails where, a kind's watermark moves only after every item of its window was
stored, one account's failure never stops the others, and every inquiry is stored exactly once."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from inquiries import ingest
from inquiries.models import Inquiry, InquiryEvent
from markets import connect
from markets.clients.ratelimit import DatabaseTokenBucket, NullLimiter
from markets.clients.types import COUPANG_ONLINE, NAVER_QNA
from markets.models import MalformedPayload, MarketAccount, PollCursor, RateBucket
from markets.sandbox import SandboxServer
from tests.factories import make_account
from tests.markets.conftest import fast

PER_KIND = 130  # several pages of each Coupang kind (50 and 30 a page), one or two of Naver's


def _start_sandbox(seed: int) -> SandboxServer:
    server = SandboxServer(seed=seed).start()
    server.store.set_faults(coupang_rps=0, naver_rps=1000, naver_burst=2000)
    return server


@pytest.fixture
def sandboxes() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    """Two marketplaces: one account lives on the first, which goes down when a test says so."""
    first, second = _start_sandbox(11), _start_sandbox(12)
    try:
        with override_settings(CS_MARKET_CONNECT_TIMEOUT=1.0, CS_MARKET_READ_TIMEOUT=0.5):
            yield first, second
    finally:
        first.stop()
        second.stop()


def _coupang(server: SandboxServer, name: str, vendor_id: str) -> MarketAccount:
    remote = server.store.register_coupang_account(vendor_id=vendor_id, reply_by="cs-agent")
    for kind in ("COUPANG_ONLINE", "COUPANG_CALLCENTER"):
        server.store.add_inquiries(kind, PER_KIND, owner=vendor_id, answered_ratio=0.2, days_back=1.0)
    return make_account(
        name,
        vendor_id=remote.vendor_id,
        access_key=remote.access_key,
        secret_key=remote.secret_key,
        reply_by="cs-agent",
        api_base_url=server.coupang_base_url,
    )


def _naver(server: SandboxServer, name: str, client_id: str) -> MarketAccount:
    remote = server.store.register_naver_account(client_id=client_id)
    for kind in ("NAVER_QNA", "NAVER_INQUIRY"):
        server.store.add_inquiries(kind, PER_KIND, owner=client_id, answered_ratio=0.2, days_back=1.0)
    return make_account(
        name,
        market="SMARTSTORE",
        client_id=remote.client_id,
        client_secret=remote.client_secret,
        api_base_url=server.naver_base_url,
    )


class Listings:
    """Wraps the clients ``poll_account`` builds: test pacing, the threads that list, an optional hook
    called after every item an account's listing yields."""

    def __init__(self, monkeypatch):
        self.threads: set[str] = set()
        self.after_item: dict[str, object] = {}
        self._lock = threading.Lock()
        real = connect.client_for

        def client_for(account, *, limiter=None):
            client = fast(real(account, limiter=limiter))
            listing = client.list_inquiries

            def list_inquiries(kind, start, end, answered=None):
                with self._lock:
                    self.threads.add(threading.current_thread().name)
                hook = self.after_item.get(account.name)
                for n, item in enumerate(listing(kind, start, end, answered), 1):
                    yield item
                    if hook:
                        hook(kind, n)

            client.list_inquiries = list_inquiries
            return client

        monkeypatch.setattr(connect, "client_for", client_for)


def _stored(account: MarketAccount) -> int:
    return Inquiry.objects.filter(account=account).count()


def _assert_once(account: MarketAccount, expected: int) -> None:
    assert _stored(account) == expected
    assert InquiryEvent.objects.filter(inquiry__account=account, type="INGESTED").count() == expected


def _reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("poll-read-")]


@pytest.mark.django_db(transaction=True)
def test_poll_markets__one_account_fails_mid_listing__others_stored_and_nothing_lost(sandboxes, monkeypatch):
    flaky_server, server = sandboxes
    flaky = _coupang(flaky_server, "coupang_flaky", "A00000001")
    steady = _coupang(server, "coupang_steady", "A00000002")
    naver = _naver(server, "naver_steady", "naver-steady-app")
    bad = server.store.add_inquiry(NAVER_QNA, owner="naver-steady-app", days_back=1.0)
    server.store.items[NAVER_QNA][int(bad)]["question"] = {"not": "text"}  # malformed: recorded and skipped
    listings = Listings(monkeypatch)

    def outage(kind, n):  # the marketplace goes down in the middle of the first kind's second page
        if kind == COUPANG_ONLINE and n == 60:
            flaky_server.store.set_faults(down=True)

    listings.after_item["coupang_flaky"] = outage

    results = {r.account: r for r in ingest.poll_markets(limiter=NullLimiter())}

    assert results["coupang_steady"].ok and results["naver_steady"].ok
    assert not results["coupang_flaky"].ok
    assert all("503" in error for error in results["coupang_flaky"].errors)
    _assert_once(steady, 2 * PER_KIND)
    _assert_once(naver, 2 * PER_KIND)
    assert results["naver_steady"].malformed == 1 and MalformedPayload.objects.filter(account=naver).count() == 1
    assert all(c.watermark and not c.last_error for c in PollCursor.objects.exclude(account=flaky))
    # what was listed before the outage is valid and stored; the watermark stays where it was
    assert 60 <= _stored(flaky) < PER_KIND
    assert all(c.watermark is None and c.last_error for c in PollCursor.objects.filter(account=flaky))
    if connection.vendor == "postgresql":
        assert any(name.startswith("poll-read-") for name in listings.threads)  # pages were read ahead
    assert _reader_threads() == []

    listings.after_item.clear()
    flaky_server.store.set_faults(down=False)
    again = {r.account: r for r in ingest.poll_markets(limiter=NullLimiter())}

    assert all(r.ok for r in again.values())
    assert again["coupang_flaky"].created == 2 * PER_KIND - results["coupang_flaky"].created
    assert again["coupang_steady"].created == again["naver_steady"].created == 0
    _assert_once(flaky, 2 * PER_KIND)
    assert all(c.watermark and not c.last_error for c in PollCursor.objects.all())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("read_ahead", [False, True])
def test_poll_account__storing_fails_mid_listing__watermark_kept_and_next_poll_stores_all(
    sandboxes, monkeypatch, read_ahead
):
    if read_ahead and connection.vendor != "postgresql":
        pytest.skip("pages are read ahead on PostgreSQL only")
    _unused, server = sandboxes
    account = _coupang(server, "coupang_main", "A00000003")
    Listings(monkeypatch)
    # an item in the middle of the first kind's listing, by the marketplace's own order
    now = timezone.now()
    listed = [
        i.external_id
        for i in connect.client_for(account, limiter=NullLimiter()).list_inquiries(
            COUPANG_ONLINE, now - ingest.FIRST_POLL_LOOKBACK, now
        )
    ]
    poison = listed[len(listed) // 2]
    real_upsert = ingest.upsert

    def failing_upsert(acct, items):
        if any(i.external_id == poison for i in items):
            raise RuntimeError("the database refused the chunk")
        return real_upsert(acct, items)

    monkeypatch.setattr(ingest, "upsert", failing_upsert)
    with pytest.raises(RuntimeError, match="refused"):
        ingest.poll_account(account, limiter=NullLimiter(), read_ahead=read_ahead)

    assert not Inquiry.objects.filter(account=account, external_id=poison).exists()
    assert PollCursor.objects.get(account=account, kind=COUPANG_ONLINE).watermark is None
    assert not PollCursor.objects.filter(account=account, watermark__isnull=False).exists()
    assert _reader_threads() == []  # the reader stopped with the writer

    monkeypatch.setattr(ingest, "upsert", real_upsert)
    summary = ingest.poll_account(account, limiter=NullLimiter(), read_ahead=read_ahead)

    assert summary.ok and summary.fetched == 2 * PER_KIND
    _assert_once(account, 2 * PER_KIND)
    assert PollCursor.objects.filter(account=account, watermark__isnull=False).count() == 2


@pytest.mark.django_db
def test_poll_markets__inside_a_transaction__polls_in_the_calling_thread(sandboxes, monkeypatch):
    _unused, server = sandboxes
    accounts = [_coupang(server, "coupang_a", "A00000004"), _naver(server, "naver_b", "naver-b-app")]
    listings = Listings(monkeypatch)

    results = ingest.poll_markets(limiter=NullLimiter())

    assert [r.account for r in results] == ["coupang_a", "naver_b"] and all(r.ok for r in results)
    assert listings.threads == {threading.current_thread().name}
    for account in accounts:
        _assert_once(account, 2 * PER_KIND)


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_poll_markets__threads_with_the_database_limiter__close_their_connections(sandboxes, monkeypatch):
    _unused, server = sandboxes
    accounts = [_coupang(server, f"coupang_{i}", f"A0000001{i}") for i in range(3)]
    listings = Listings(monkeypatch)
    before = _backends()

    results = ingest.poll_markets(limiter=DatabaseTokenBucket())  # every reader thread takes tokens in the database

    assert all(r.ok for r in results)
    for account in accounts:
        _assert_once(account, 2 * PER_KIND)
    assert any(name.startswith("poll-read-") for name in listings.threads)
    assert RateBucket.objects.filter(key__startswith="coupang:A0000001").count() >= 3
    # a closed connection's server process goes away on its own schedule: wait for it, do not time it
    for _ in range(100):
        if _backends() <= before:
            break
        time.sleep(0.05)
    assert _backends() <= before


def _poll_in_process(barrier, account_pk) -> None:
    from markets.models import MarketAccount

    try:
        barrier.wait()
        summary = ingest.poll_account(MarketAccount.objects.get(pk=account_pk), limiter=NullLimiter())
        assert summary.ok, summary.errors
    finally:
        connections.close_all()


def _two_polls_at_once(account: MarketAccount) -> None:
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_poll_in_process, args=(barrier, account.pk)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0, f"poll process exited with {p.exitcode}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_poll_account__two_processes_at_once__every_inquiry_and_every_outside_answer_stored_once(sandboxes):
    _unused, server = sandboxes
    account = _naver(server, "naver_main", "naver-main-app")

    _two_polls_at_once(account)

    _assert_once(account, 2 * PER_KIND)
    new = list(Inquiry.objects.filter(account=account, status="NEW").values_list("kind", "external_id")[:20])
    for kind, external_id in new:
        server.store.mark_answered_elsewhere(kind, external_id)
    PollCursor.objects.update(watermark=None)  # both look at the whole window again

    _two_polls_at_once(account)

    _assert_once(account, 2 * PER_KIND)
    marked = Inquiry.objects.filter(account=account, external_id__in=[e for _k, e in new])
    assert all(i.status == "ANSWERED_ELSEWHERE" for i in marked)
    assert InquiryEvent.objects.filter(inquiry__in=marked, type="ANSWERED_ELSEWHERE").count() == len(new)
