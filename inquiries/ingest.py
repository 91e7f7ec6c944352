"""Polling ingestion: incremental windows with overlap from a stored watermark, idempotent upserts.

Per account and inquiry kind: ask the marketplace for everything asked since the watermark minus an
overlap (items indexed a little late are not missed), insert what is new, mark what was answered
outside partialauto, record malformed items verbatim and skip them. One account's outage never stops
the others, and a failed window leaves the watermark where it was, so nothing is lost.

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

import json
import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from inquiries import events, followups, transitions
from inquiries.calibration import similarity
from inquiries.models import Inquiry, InquiryEvent
from inquiries.transitions import Step
from markets.clients.identity import buyer_keys
from markets.models import InquiryKind, MalformedPayload, MarketAccount, PollCursor
from partialauto.db import column_of, copied_rows, threads_allowed

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
MAX_CONTENT_CHARS = 20_000
UPSERT_BATCH = 500
POLLER = "system:poller"
# Accounts polled at the same time by poll_markets. Each such thread holds a database connection, and
# so does its reader thread when the rate limiter is the database's.
POLL_THREADS = 4
# Pages the reader thread may fetch ahead of the writer (bounds the memory a poll holds).
READ_AHEAD_PAGES = 10

# Personal data the answer does not need; the masked buyer name is kept separately for the greeting.
PERSONAL_KEYS = {"buyerEmail", "buyerPhone", "customerName", "customerId", "maskedWriterId"}
# Open decisions that a marketplace-side answer makes moot. Rows being sent are the reconciler's.
_ANSWERED_ON_MARKET = transitions.TABLE[Step.ANSWERED_ON_MARKET]


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


def clean_text(value: str | None, limit: int = MAX_CONTENT_CHARS) -> str:
    """PostgreSQL refuses NUL in text; oversized bodies are cut, never rejected."""
    text = (value or "").replace("\x00", "")
    return text[:limit]


_PLAIN_SCALARS = frozenset({int, float, bool, type(None)})


def _scrubbed(value):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in PERSONAL_KEYS and v:
                out[k] = "***"
            elif type(v) is str:
                out[k] = v.replace("\x00", "")
            elif type(v) in _PLAIN_SCALARS:
                out[k] = v
            else:
                out[k] = _scrubbed(v)
        return out
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


def scrub(raw: dict) -> dict:
    """The payload without personal keys (masked) and NUL characters (PostgreSQL refuses them)."""
    return _scrubbed(raw) if isinstance(raw, dict) else {}


def _row_values(account: MarketAccount, item) -> dict:
    """The new row's fields (by attribute name) for one marketplace item; the rest are model defaults."""
    status = Inquiry.Status.ANSWERED_ELSEWHERE if item.answered else Inquiry.Status.NEW
    return dict(
        account_id=account.pk,
        market_code=account.market_code,
        kind=item.kind,
        external_id=clean_text(item.external_id, 64),
        created_at=item.created_at,
        title=clean_text(item.title, 300),
        content=clean_text(item.content),
        product_id=clean_text(item.product_id, 64),
        product_name=clean_text(item.product_name, 300),
        order_id=clean_text(item.order_id, 64),
        buyer_name_masked=clean_text(item.buyer_name_masked, 64),
        order_refs={k: [clean_text(v, 64) for v in vs[:20]] for k, vs in (item.order_refs or {}).items() if vs},
        product_refs=[clean_text(v, 64) for v in (item.product_refs or [])[:20]],
        reply_context=scrub(item.reply_context or {}),
        raw_payload=scrub(item.raw or {}),
        status=status,
        external_answer=clean_text(item.answer_text) if item.answered else "",
        **buyer_keys(item.kind, item.raw),  # hashed before the payload's personal keys are scrubbed
        # answered before we first saw it: first-response time counts until this poll
        first_answered_at=timezone.now() if item.answered else None,
    )


def _row(account: MarketAccount, item) -> Inquiry:
    return Inquiry(**_row_values(account, item))


def _store_malformed(account: MarketAccount, bad) -> None:
    payload = bad.payload if isinstance(bad.payload, str) else json.dumps(bad.payload, ensure_ascii=False, default=str)
    MalformedPayload.objects.create(
        account=account, kind=bad.kind, payload=clean_text(payload, 200_000), error=clean_text(bad.error, 2000)
    )
    log.warning("Malformed %s item from %s recorded and skipped: %s", bad.kind, account.name, bad.error)


def _insert_new_orm(account: MarketAccount, new_items: list) -> list[tuple[int, str]]:
    """Insert the rows and their INGESTED events; returns (id, status) of the rows this call inserted."""
    new_rows = [_row(account, item) for item in new_items]
    # ignore_conflicts: a concurrent poll of the same account inserts the same rows; the unique
    # constraint decides, and neither poll fails.
    Inquiry.objects.bulk_create(new_rows, ignore_conflicts=True)
    # ids of the rows this call inserted (a concurrent poll's rows already have their event)
    fresh = list(
        Inquiry.objects.filter(
            account=account, kind__in={r.kind for r in new_rows}, external_id__in=[r.external_id for r in new_rows]
        )
        .exclude(events__type=InquiryEvent.Type.INGESTED)
        .values_list("pk", "status")
    )
    InquiryEvent.objects.bulk_create(
        [
            events.build(
                pk,
                InquiryEvent.Type.INGESTED,
                actor_label=POLLER,
                to_status=status,
                to_send_status=Inquiry.SendStatus.NOT_SENT,
            )
            for pk, status in fresh
        ]
    )
    return fresh


def _insert_new_pg(account: MarketAccount, new_items: list) -> list[tuple[int, str]]:
    """PostgreSQL: the same result as :func:`_insert_new_orm` in two round trips instead of a
    client-side quoted multi-row INSERT plus a look-up. The rows are COPYed into a temporary table;
    one statement inserts them with ``ON CONFLICT DO NOTHING`` (a concurrent poll of the same account
    inserts the same rows: the unique constraint decides and neither poll fails) and writes an
    INGESTED event for exactly the rows it inserted (``RETURNING`` never reports a conflicting row)."""
    from psycopg.types.json import Jsonb

    now = timezone.now()
    fields = [f for f in Inquiry._meta.concrete_fields if not f.primary_key]
    base = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in fields}
    base.update({f.attname: now for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)})
    # Constant JSON defaults go as their text once (COPY's text format: the server reads it as jsonb).
    base.update({f.attname: json.dumps(f.get_default()) for f in fields if f.get_internal_type() == "JSONField"})
    template = [base[f.attname] for f in fields]
    position = {f.attname: i for i, f in enumerate(fields)}
    rows = []
    for item in new_items:
        # _row_values gives plain strings, aware datetimes, the account's UUID and JSON documents:
        # psycopg adapts all of them itself once the documents are marked as jsonb.
        row = template.copy()
        for name, value in _row_values(account, item).items():
            row[position[name]] = Jsonb(value) if isinstance(value, (dict, list)) else value
        rows.append(row)
    qn = connection.ops.quote_name
    cols = ", ".join(qn(column_of(f)) for f in fields)
    table, event_table = qn(Inquiry._meta.db_table), qn(InquiryEvent._meta.db_table)
    with connection.cursor() as cursor, copied_rows(cursor, "_ingest_rows", table, cols, rows):
        cursor.execute(
            # In key order: concurrent polls of one account wait on each other's rows in one order, never
            # in a cycle.
            f"WITH ins AS (INSERT INTO {table} ({cols}) SELECT {cols} FROM _ingest_rows ORDER BY kind, external_id "
            f"ON CONFLICT DO NOTHING RETURNING id, status) "
            f"INSERT INTO {event_table} (inquiry_id, type, at, actor_label, from_status, to_status, from_send_status, "
            f"to_send_status, message, data) "
            f"SELECT id, %s, %s, %s, '', status, '', %s, '', '{{}}'::jsonb FROM ins ORDER BY id "
            f"RETURNING inquiry_id, to_status",
            [InquiryEvent.Type.INGESTED, now, POLLER, Inquiry.SendStatus.NOT_SENT],
        )
        fresh = cursor.fetchall()
    return fresh


def _stored_rows(account: MarketAccount, keys) -> dict[tuple[str, str], tuple]:
    """(kind, external id) → (pk, status, send_status, draft_answer) of the rows already stored, in id
    order (two polls updating the same rows lock them in one order)."""
    kinds, ids = list({k for k, _ in keys}), list({e for _, e in keys})
    if connection.vendor == "postgresql":
        # Two array parameters instead of one parameter per id: less than half the time for a full chunk.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, kind, external_id, status, send_status, draft_answer "
                f"FROM {connection.ops.quote_name(Inquiry._meta.db_table)} "
                f"WHERE account_id = %s AND kind = ANY(%s) AND external_id = ANY(%s) ORDER BY id",
                [account.pk, kinds, ids],
            )
            rows = cursor.fetchall()
    else:
        rows = (
            Inquiry.objects.filter(account=account, kind__in=kinds, external_id__in=ids)
            .order_by("pk")
            .values_list("pk", "kind", "external_id", "status", "send_status", "draft_answer")
        )
    return {
        (kind, external_id): (pk, status, send_status, draft)
        for pk, kind, external_id, status, send_status, draft in rows
    }


def upsert(account: MarketAccount, items: list) -> tuple[int, int]:
    """Insert new inquiries and mark outside answers; safe to run twice on the same items."""
    created = answered = 0
    insert_new = _insert_new_pg if connection.vendor == "postgresql" else _insert_new_orm
    for start in range(0, len(items), UPSERT_BATCH):
        chunk = items[start : start + UPSERT_BATCH]
        by_key = {(i.kind, clean_text(i.external_id, 64)): i for i in chunk}
        with transaction.atomic():
            existing = _stored_rows(account, by_key)
            new_items = [item for key, item in by_key.items() if key not in existing]
            if new_items:
                fresh = insert_new(account, new_items)
                # a buyer writing again soon after an answer: link it (inquiries.followups)
                followups.link_new(pk for pk, status in fresh if status == Inquiry.Status.NEW)
                created += len(fresh)
                answered += sum(1 for _pk, status in fresh if status == Inquiry.Status.ANSWERED_ELSEWHERE)
            # Answered on the marketplace by someone else since we last looked.
            for key, (pk, status, send_status, draft) in existing.items():
                item = by_key[key]
                # SENDING / SEND_UNKNOWN / SENT, or already settled: the send path, the reconciler or a
                # person owns it (the table's source states for this step).
                if not item.answered or not _ANSWERED_ON_MARKET.allows(status, send_status):
                    continue
                # What a person wrote on the marketplace is the calibration signal of shadow mode.
                if transitions.perform(
                    pk,
                    Step.ANSWERED_ON_MARKET,
                    actor_label=POLLER,
                    fence=Q(status=status, send_status=send_status),
                    was=(status, send_status),
                    fields=dict(
                        next_attempt_at=None,
                        first_answered_at=timezone.now(),
                        external_answer=clean_text(item.answer_text),
                        draft_agreement=similarity(draft, item.answer_text or ""),
                    ),
                    message="answered on the marketplace",
                ):
                    answered += 1
    return created, answered


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
                        _store_malformed(account, item)
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
                    _store_malformed(account, value.malformed)
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
