"""Polling ingestion: incremental windows with overlap from a stored watermark, idempotent upserts.

Per account and inquiry kind: ask the marketplace for everything asked since the watermark minus an
overlap (items indexed a little late are not missed), insert what is new, mark what was answered
outside partialauto, record malformed items verbatim and skip them. One account's outage never stops
the others, and a failed window leaves the watermark where it was, so nothing is lost. Storing what
arrives is in :mod:`inquiries.ingest_store` (:func:`~inquiries.ingest_store.upsert`).

Some inquiries become visible long after they were asked — a call-center inquiry Coupang transfers to
the seller a day after the buyer called, an item a marketplace indexes late — and the watermark's
overlap cannot reach back that far. The **sweep** (:func:`sweep_account`, on a slower schedule, or
``poll_markets --sweep``) asks each API for the items still waiting for an answer (Coupang
``answeredType=NOANSWER`` / ``partnerCounselingStatus=NO_ANSWER``, Naver ``answered=false``) over
``SWEEP_LOOKBACK``, in the windows and pages each API allows, and stores them through the same
upsert: what is already stored stays as it is, what was missed arrives once. It never moves the
watermark; each cursor records when the sweep last ran and how many inquiries it found.

On PostgreSQL fetching and storing run side by side: a reader thread pages through the marketplace
(up to ``READ_AHEAD_PAGES`` pages ahead) while the polling thread stores what has arrived, and
:func:`poll_markets` polls several accounts at once, each thread on its own database connection. A
kind's watermark moves only after every item of its window was stored. On SQLite (one writer at a
time) and inside a caller's transaction (other connections cannot see its rows) everything runs in the
calling thread, fetching and storing in turn (``UPSERT_BATCH`` items at a time), with the same results.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connections
from django.utils import timezone

from inquiries.ingest_store import UPSERT_BATCH, store_malformed, upsert
from markets.models import InquiryKind, MarketAccount, PollCursor
from partialauto.db import threads_allowed

log = logging.getLogger("partialauto.ingest")

OVERLAP = timedelta(minutes=30)
FIRST_POLL_LOOKBACK = timedelta(days=7)
# How far back the sweep asks for unanswered inquiries. Coupang sets no limit on how far back a listing
# may start, only 7-day windows a request, and counts every call of a vendor (the sends' too) against
# one 10/s limit: 30 days, five windows a kind (a call-center inquiry can be answered only for 24 hours
# after its transfer anyway). Naver's customer inquiries allow 365 days a request, its product Q&A list
# documents no limit: a year for both (one request, and thirteen 30-day windows).
SWEEP_LOOKBACK: dict[str, timedelta] = {
    InquiryKind.COUPANG_ONLINE: timedelta(days=30),
    InquiryKind.COUPANG_CALLCENTER: timedelta(days=30),
    InquiryKind.NAVER_QNA: timedelta(days=365),
    InquiryKind.NAVER_INQUIRY: timedelta(days=365),
}
# Accounts polled at the same time by poll_markets. Each such thread holds a database connection, and
# so does its reader thread when the rate limiter is the database's.
POLL_THREADS = 4
# Pages the reader thread may fetch ahead of the writer (bounds the memory a poll holds).
READ_AHEAD_PAGES = 10


@dataclass
class PollSummary:
    account: str
    fetched: int = 0
    created: int = 0
    answered_elsewhere: int = 0
    malformed: int = 0
    errors: list[str] = field(default_factory=list)
    swept: bool = False  # the sweep of unanswered inquiries ran too
    sweep_fetched: int = 0  # unanswered inquiries the sweep listed
    sweep_created: int = 0  # … of them new: they had appeared too late for the watermark poll

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _KindTally:
    """One kind's listing as it was stored; ``error`` says why it ended early (then it is incomplete)."""

    fetched: int = 0
    created: int = 0
    answered_elsewhere: int = 0
    malformed: int = 0
    error: str | None = None


# A listing stream: per kind, in order, ``(ITEMS, kind, [items])``… then ``(DONE, kind, None)`` or
# ``(FAILED, kind, MarketError)``.
ITEMS, DONE, FAILED = "items", "done", "failed"


def _listings(
    client, windows: list[tuple[str, datetime]], end: datetime, batch_size: int | None, answered: bool | None = None
) -> Generator[tuple, None, None]:
    """Every kind's listing as a stream of batches (``batch_size`` items, default one page's worth);
    ``answered=False``: only the inquiries still waiting for an answer.

    A marketplace failure ends that kind's listing with FAILED (the items before it are valid and are
    stored; the watermark stays) and the next kind is listed all the same.
    """
    from markets.clients.types import MarketError

    for kind, start in windows:
        size = batch_size or getattr(client, "page_sizes", {}).get(kind) or 50  # one page, roughly
        batch: list = []
        try:
            for item in client.list_inquiries(kind, start, end, answered=answered):
                batch.append(item)
                if len(batch) >= size:
                    yield ITEMS, kind, batch
                    batch = []
        except MarketError as exc:
            if batch:
                yield ITEMS, kind, batch
            yield FAILED, kind, exc
            continue
        if batch:
            yield ITEMS, kind, batch
        yield DONE, kind, None


class _ReadAhead:
    """Runs a listing stream in a thread of its own, at most ``depth`` batches ahead of the caller.

    Iterating gives the stream's entries in order; item batches of one kind that are already waiting
    are handed over together (up to ``UPSERT_BATCH`` items), so a writer that falls behind writes big
    chunks and one that keeps up never waits for a full chunk. An unexpected error in the reader is
    raised where the stream got to. Leaving the ``with`` block stops the reader after its current
    page and waits for it; the reader closes its own database connections (the database rate limiter
    opens one in whichever thread asks it for a token).
    """

    _END = object()

    def __init__(self, entries: Generator[tuple, None, None], *, depth: int, name: str):
        self._entries = entries
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> _ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _put(self, entry) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            try:
                for entry in self._entries:
                    if not self._put(entry):
                        return
                self._put(self._END)
            except BaseException as exc:  # handed to the caller, raised there
                self._put(exc)
            finally:
                self._entries.close()
        finally:
            connections.close_all()  # this thread's connections only

    def _next(self, *, block: bool = True):
        entry = self._queue.get(block=block)
        if isinstance(entry, BaseException):
            raise entry
        return entry

    def __iter__(self) -> Iterator[tuple]:
        carry = None  # an entry taken from the queue while merging, handed over next
        while True:
            if carry is not None:
                entry, carry = carry, None
            else:
                entry = self._next()
            if entry is self._END:
                return
            tag, kind, items = entry
            if tag == ITEMS:
                items = list(items)
                while len(items) < UPSERT_BATCH:
                    try:
                        waiting = self._next(block=False)
                    except queue.Empty:
                        break
                    if waiting is self._END or waiting[0] != ITEMS or waiting[1] != kind:
                        carry = waiting
                        break
                    items.extend(waiting[2])
                entry = (tag, kind, items)
            yield entry


def _ingest(
    account: MarketAccount,
    client,
    windows: list[tuple[str, datetime]],
    end: datetime,
    *,
    answered: bool | None,
    read_ahead: bool | None,
    on_end: Callable[[str, _KindTally], None],
) -> dict[str, _KindTally]:
    """List each kind from its window's start to ``end`` and store what arrives through :func:`upsert`
    (malformed items are recorded and skipped). ``on_end(kind, tally)`` is called as soon as a kind's
    listing ended — complete when ``tally.error`` is None — before the next kind is stored.

    ``read_ahead``: fetch pages in a thread of their own while this one stores (default: where
    threads are allowed, see :func:`partialauto.db.threads_allowed`).
    """
    from markets.clients.types import Malformed

    tallies = {kind: _KindTally() for kind, _start in windows}

    def store(stream) -> None:
        for tag, kind, value in stream:
            tally = tallies[kind]
            if tag == ITEMS:
                items = []
                for item in value:
                    if isinstance(item, Malformed):
                        store_malformed(account, item)
                        tally.malformed += 1
                    else:
                        items.append(item)
                created, answered_elsewhere = upsert(account, items)
                tally.fetched += len(items)
                tally.created += created
                tally.answered_elsewhere += answered_elsewhere
                continue
            if tag == FAILED:
                tally.error = f"{kind}: {value.message}"
                if getattr(value, "malformed", None) is not None:
                    store_malformed(account, value.malformed)
                    tally.malformed += 1
            on_end(kind, tally)

    if read_ahead is None:
        read_ahead = threads_allowed()
    if read_ahead:
        entries = _listings(client, windows, end, batch_size=None, answered=answered)
        with _ReadAhead(entries, depth=READ_AHEAD_PAGES, name=f"poll-read-{account.name}") as stream:
            store(stream)
    else:
        entries = _listings(client, windows, end, batch_size=UPSERT_BATCH, answered=answered)
        try:
            store(entries)
        finally:
            entries.close()
    return tallies


def _client(account: MarketAccount, client, limiter, summary: PollSummary):
    """The given client, or one built for the account; None (the reason in ``summary``) if it cannot be."""
    from markets.connect import client_for

    try:
        return client or client_for(account, limiter=limiter)
    except Exception as exc:
        message = f"cannot build a client: {exc}"
        if message not in summary.errors:  # a poll and its sweep: said once
            summary.errors.append(message)
        return None


def poll_account(
    account: MarketAccount, *, now: datetime | None = None, client=None, limiter=None, read_ahead: bool | None = None
) -> PollSummary:
    """Poll every inquiry kind of one account from its watermark (minus the overlap).

    ``client``: the marketplace client (default: one built for the account with ``limiter``, default
    the shared rate limiter). ``read_ahead``: see :func:`_ingest`.
    """
    summary = PollSummary(account=account.name)
    now = now or timezone.now()
    client = _client(account, client, limiter, summary)
    if client is None:
        return summary
    cursors: dict[str, PollCursor] = {}
    windows: list[tuple[str, datetime]] = []
    for kind in account.kinds:
        cursor, _created = PollCursor.objects.get_or_create(account=account, kind=kind)
        cursor.last_polled_at = now
        cursors[kind] = cursor
        windows.append((kind, (cursor.watermark - OVERLAP) if cursor.watermark else now - FIRST_POLL_LOOKBACK))

    def on_end(kind: str, tally: _KindTally) -> None:
        cursor = cursors[kind]
        if tally.error:
            cursor.last_error = tally.error[:2000]
            cursor.save(update_fields=["last_polled_at", "last_error"])
            log.error("Poll of %s failed: %s (the watermark stays; nothing is lost)", account.name, tally.error)
            return
        # every item of this kind's window is stored
        cursor.watermark = now
        cursor.last_success_at = now
        cursor.last_error = ""
        cursor.last_fetched = tally.fetched
        cursor.save(update_fields=["watermark", "last_polled_at", "last_success_at", "last_error", "last_fetched"])

    for tally in _ingest(account, client, windows, now, answered=None, read_ahead=read_ahead, on_end=on_end).values():
        summary.fetched += tally.fetched
        summary.created += tally.created
        summary.answered_elsewhere += tally.answered_elsewhere
        summary.malformed += tally.malformed
        summary.errors += [tally.error] if tally.error else []
    log.info(
        "Polled %s: fetched %s, new %s, answered elsewhere %s, malformed %s, errors %s",
        account.name,
        summary.fetched,
        summary.created,
        summary.answered_elsewhere,
        summary.malformed,
        len(summary.errors),
    )
    return summary


def sweep_account(
    account: MarketAccount,
    *,
    now: datetime | None = None,
    client=None,
    limiter=None,
    read_ahead: bool | None = None,
    summary: PollSummary | None = None,
) -> PollSummary:
    """Ask for every inquiry of the account still waiting for an answer over ``SWEEP_LOOKBACK`` and store
    the ones the watermark poll never saw. The watermark stays; each kind's cursor records the run.

    An inquiry answered while the sweep pages through the list moves the later ones up a page, so one
    may be passed over this time; it is still unanswered at the next sweep. Arguments as for
    :func:`poll_account`; ``summary``: add to this one (a poll's) instead of a new one.
    """
    summary = summary or PollSummary(account=account.name)
    summary.swept = True
    now = now or timezone.now()
    client = _client(account, client, limiter, summary)
    if client is None:
        return summary
    cursors = {kind: PollCursor.objects.get_or_create(account=account, kind=kind)[0] for kind in account.kinds}
    windows = [(kind, now - SWEEP_LOOKBACK[kind]) for kind in cursors]

    def on_end(kind: str, tally: _KindTally) -> None:
        cursor = cursors[kind]
        cursor.last_swept_at = now
        cursor.last_sweep_error = (tally.error or "")[:2000]
        fields = ["last_swept_at", "last_sweep_error"]
        if tally.error:
            log.error("Sweep of %s failed: %s (the next sweep asks again)", account.name, tally.error)
        else:
            cursor.last_sweep_success_at = now
            cursor.last_sweep_found = tally.created
            fields += ["last_sweep_success_at", "last_sweep_found"]
        cursor.save(update_fields=fields)

    for tally in _ingest(account, client, windows, now, answered=False, read_ahead=read_ahead, on_end=on_end).values():
        summary.sweep_fetched += tally.fetched
        summary.sweep_created += tally.created
        summary.malformed += tally.malformed
        summary.errors += [f"sweep {tally.error}"] if tally.error else []
    level = logging.WARNING if summary.sweep_created else logging.INFO
    log.log(
        level,
        "Swept %s: unanswered %s, new %s (appeared too late for the watermark poll)",
        account.name,
        summary.sweep_fetched,
        summary.sweep_created,
    )
    return summary


def _poll_safely(account: MarketAccount, limiter=None, sweep: bool = False) -> PollSummary:
    try:
        summary = poll_account(account, limiter=limiter)
        return sweep_account(account, limiter=limiter, summary=summary) if sweep else summary
    except Exception as exc:  # one account's bug or outage never stops the others
        log.exception("Poll of %s crashed", account.name)
        return PollSummary(account=account.name, errors=[f"{type(exc).__name__}: {exc}"], swept=sweep)


def _poll_in_thread(account: MarketAccount, limiter=None, sweep: bool = False) -> PollSummary:
    try:
        return _poll_safely(account, limiter, sweep)
    finally:
        connections.close_all()  # this thread's connections only


def poll_markets(
    *, names: list[str] | None = None, threads: int = POLL_THREADS, limiter=None, sweep: bool = False
) -> list[PollSummary]:
    """Poll the active accounts (or the named ones), up to ``threads`` at a time where threads are
    allowed; with ``sweep``, each account's unanswered inquiries are swept after its poll.
    ``limiter``: the clients' rate limiter (default: the shared one)."""
    queryset = MarketAccount.objects.active()
    if names:
        queryset = MarketAccount.objects.filter(name__in=names)
    accounts = list(queryset.order_by("name"))
    if threads > 1 and len(accounts) > 1 and threads_allowed():
        with ThreadPoolExecutor(max_workers=min(threads, len(accounts)), thread_name_prefix="poll") as pool:
            return list(pool.map(lambda account: _poll_in_thread(account, limiter, sweep), accounts))
    return [_poll_safely(account, limiter, sweep) for account in accounts]
