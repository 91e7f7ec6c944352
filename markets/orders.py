"""The order mirror (``market_order``): bulk sync from the marketplaces, and one targeted look-up for an
order an inquiry names that the mirror does not have yet.

Streams, each with its own cursor (``OrderSyncCursor``), so one failing stream or account never stops
the others and a failed window leaves its watermark where it was (the lines are written by
``markets.order_writes``):

* Coupang ``COUPANG_ORDERSHEETS`` — order sheets are listed by *order* date and status, so every run
  lists the last ``CS_ORDER_ACTIVE_DAYS`` days again (all six statuses): that is how a status change of
  an older order is seen. ``COUPANG_RETURNS`` — cancel and return requests since the watermark.
* Naver ``NAVER_CHANGES`` — product orders changed since the watermark, then their details (300 a
  call). ``NAVER_REFRESH`` — delivery completion is not a change type, so lines still on their way are
  asked about again (300 a call).

Nothing here runs inside a caller's transaction while it talks to a marketplace; each chunk of lines
is written in its own short transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

from markets.clients.orders import (
    IN_TRANSIT,
    PAID,
    PREPARING,
    SHIPPED,
    OrderNotFound,
    RemoteOrderLine,
)
from markets.clients.types import Malformed, MarketError
from markets.models import MarketAccount, MarketCode, MarketOrder, OrderSyncCursor
from markets.order_writes import UPSERT_BATCH, apply_claims, store_malformed, upsert_lines
from partialauto.db import threads_allowed
from partialauto.iterables import chunked

log = logging.getLogger("partialauto.orders")

FIRST_SYNC_LOOKBACK = timedelta(days=14)
OVERLAP = timedelta(minutes=30)
SYNC_THREADS = 4
#: Naver lines still on their way are asked about again when their last sync is older than this
REFRESH_AFTER = timedelta(minutes=10)
REFRESH_MAX = 3000
#: Coupang boxes on their way this long after dispatch get their delivery history read (real last movement)
HISTORY_AFTER = timedelta(hours=48)
HISTORY_MAX = 30
IN_FLIGHT = (PAID, PREPARING, SHIPPED, IN_TRANSIT)

S = OrderSyncCursor.Stream


def active_days() -> int:
    return int(getattr(settings, "CS_ORDER_ACTIVE_DAYS", 14))


@dataclass
class OrderSyncSummary:
    account: str
    fetched: int = 0
    created: int = 0
    updated: int = 0
    malformed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- syncing ---------------------------------------------------------------------------------------------


class _Run:
    """One account's sync: its cursors, the summary, and storing what the streams yield."""

    def __init__(self, account: MarketAccount, now: datetime) -> None:
        self.account, self.now = account, now
        self.summary = OrderSyncSummary(account=account.name)

    def cursor(self, stream: str) -> OrderSyncCursor:
        cursor, _created = OrderSyncCursor.objects.get_or_create(account=self.account, stream=stream)
        cursor.last_synced_at = self.now
        return cursor

    def start(self, cursor: OrderSyncCursor) -> datetime:
        return cursor.watermark - OVERLAP if cursor.watermark else self.now - FIRST_SYNC_LOOKBACK

    def split(self, items: Iterable) -> Iterator:
        """Items that parsed; malformed ones are recorded and skipped."""
        for item in items:
            if isinstance(item, Malformed):
                store_malformed(self.account, item)
                self.summary.malformed += 1
            else:
                yield item

    def store(self, lines: list[RemoteOrderLine]) -> None:
        created, updated = upsert_lines(self.account, lines, now=self.now)
        self.summary.fetched += len(lines)
        self.summary.created += created
        self.summary.updated += updated

    def stream(self, stream: str, work) -> None:
        """Run one stream; a marketplace failure is recorded on its cursor and the watermark stays."""
        cursor = self.cursor(stream)
        before = self.summary.fetched
        try:
            work(cursor)
        except MarketError as exc:
            if exc.malformed is not None:
                store_malformed(self.account, exc.malformed)
                self.summary.malformed += 1
            message = f"{stream}: {exc.message}"
            self.summary.errors.append(message)
            cursor.last_error = message[:2000]
            cursor.save(update_fields=["last_synced_at", "last_error"])
            log.error("Order sync of %s failed: %s (the watermark stays; nothing is lost)", self.account.name, message)
            return
        cursor.watermark = self.now
        cursor.last_success_at = self.now
        cursor.last_error = ""
        cursor.last_fetched = self.summary.fetched - before
        cursor.save(update_fields=["watermark", "last_synced_at", "last_success_at", "last_error", "last_fetched"])


def _sync_coupang(run: _Run, client) -> None:
    def ordersheets(cursor: OrderSyncCursor) -> None:
        start = run.now - timedelta(days=active_days())
        if cursor.watermark is None:
            start = min(start, run.now - FIRST_SYNC_LOOKBACK)
        elif cursor.watermark - OVERLAP < start:
            start = cursor.watermark - OVERLAP  # catch up after an outage longer than the active window
        for chunk in chunked(run.split(client.list_ordersheets(start, run.now)), UPSERT_BATCH):
            run.store(_with_history(client, chunk, run.now))

    def returns(cursor: OrderSyncCursor) -> None:
        claims = list(run.split(client.list_claims(run.start(cursor), run.now)))
        run.summary.fetched += len(claims)
        run.summary.updated += apply_claims(run.account, claims, now=run.now)

    run.stream(S.COUPANG_ORDERSHEETS, ordersheets)
    run.stream(S.COUPANG_RETURNS, returns)


def _with_history(client, lines: list[RemoteOrderLine], now: datetime) -> list[RemoteOrderLine]:
    """Boxes long on their way get their real last movement from the delivery history (a few a run)."""
    budget = HISTORY_MAX
    for line in lines:
        if budget <= 0:
            break
        if (
            line.status in (SHIPPED, IN_TRANSIT)
            and line.last_movement_at
            and now - line.last_movement_at > HISTORY_AFTER
        ):
            budget -= 1
            try:
                history = client.box_history(line.line_id)
            except MarketError as exc:
                log.info("Delivery history of box %s unavailable: %s", line.line_id, exc.message)
                continue
            if history:
                line.last_movement_at = max(line.last_movement_at, history[0][2])
    return lines


def _sync_naver(run: _Run, client) -> None:
    def changes(cursor: OrderSyncCursor) -> None:
        ids = [line_id for line_id, _changed in run.split(client.list_changed(run.start(cursor), run.now))]
        for chunk in chunked(run.split(client.query_product_orders(ids)), UPSERT_BATCH):
            run.store(chunk)

    def refresh(cursor: OrderSyncCursor) -> None:
        stale = list(
            MarketOrder.objects.filter(
                account=run.account,
                status__in=IN_FLIGHT,
                synced_at__lt=run.now - REFRESH_AFTER,
                ordered_at__gte=run.now - timedelta(days=active_days()),
            )
            .order_by("synced_at")
            .values_list("line_id", flat=True)[:REFRESH_MAX]
        )
        for chunk in chunked(run.split(client.query_product_orders(stale)), UPSERT_BATCH):
            run.store(chunk)

    run.stream(S.NAVER_CHANGES, changes)
    run.stream(S.NAVER_REFRESH, refresh)


def sync_account(account: MarketAccount, *, now: datetime | None = None, client=None, limiter=None) -> OrderSyncSummary:
    """Sync one account's orders (every stream of its marketplace)."""
    from markets.connect import client_for

    run = _Run(account, now or timezone.now())
    try:
        client = client or client_for(account, limiter=limiter)
    except Exception as exc:
        run.summary.errors.append(f"cannot build a client: {exc}")
        return run.summary
    (_sync_coupang if account.market_code == MarketCode.COUPANG else _sync_naver)(run, client)
    s = run.summary
    log.info(
        "Orders of %s: fetched %s, new %s, updated %s, malformed %s, errors %s",
        account.name,
        s.fetched,
        s.created,
        s.updated,
        s.malformed,
        len(s.errors),
    )
    return s


def _sync_safely(account: MarketAccount, limiter=None, *, in_thread: bool = False) -> OrderSyncSummary:
    try:
        return sync_account(account, limiter=limiter)
    except Exception as exc:  # one account's bug or outage never stops the others
        log.exception("Order sync of %s crashed", account.name)
        return OrderSyncSummary(account=account.name, errors=[f"{type(exc).__name__}: {exc}"])
    finally:
        if in_thread:
            connections.close_all()  # this thread's connections only


def sync_orders(*, names: list[str] | None = None, threads: int = SYNC_THREADS, limiter=None) -> list[OrderSyncSummary]:
    """Sync the active accounts (or the named ones), several at a time where threads are allowed."""
    queryset = MarketAccount.objects.filter(name__in=names) if names else MarketAccount.objects.active()
    accounts = list(queryset.order_by("name"))
    if threads > 1 and len(accounts) > 1 and threads_allowed():
        with ThreadPoolExecutor(max_workers=min(threads, len(accounts)), thread_name_prefix="orders") as pool:
            return list(pool.map(lambda a: _sync_safely(a, limiter, in_thread=True), accounts))
    return [_sync_safely(account, limiter) for account in accounts]


# --- a targeted look-up ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """What one targeted look-up found: ``found`` lines stored, ``not_found``, or ``failed`` (with why)."""

    outcome: str  # found | not_found | failed
    line_ids: tuple[str, ...] = ()
    error: str = ""


def lookup_order(
    account: MarketAccount,
    *,
    order_id: str | None,
    product_order_ids: list[str] | None = None,
    client=None,
    now: datetime | None = None,
) -> Lookup:
    """Ask the marketplace for one order the mirror does not have and store what it says.

    One call (two for a Naver order named only by its order id), through the account's rate limiter;
    never inside a transaction. Never raises for marketplace trouble: the outcome says what happened.
    """
    from markets.connect import cached_client_for

    now = now or timezone.now()
    try:
        client = client or cached_client_for(account)
        if account.market_code == MarketCode.COUPANG:
            if not order_id:
                return Lookup("not_found")
            items = client.get_order(order_id, now=now)
        else:
            items = client.get_order(order_id, product_order_ids=product_order_ids, now=now)
    except OrderNotFound:
        return Lookup("not_found")
    except (MarketError, ValueError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        log.warning("Order look-up for %s on %s failed: %s", order_id, account.name, message)
        return Lookup("failed", error=message[:300])
    lines = []
    for item in items:
        if isinstance(item, Malformed):
            store_malformed(account, item)
        else:
            lines.append(item)
    if not lines:
        return Lookup("failed", error="the marketplace's answer could not be read")
    upsert_lines(account, lines, now=now)
    return Lookup("found", tuple(line.line_id for line in lines))
