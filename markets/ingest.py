"""Polling ingestion: incremental windows with overlap from a stored watermark, idempotent upserts.

Per account and inquiry kind: ask the marketplace for everything asked since the watermark minus an
overlap (late-indexed items are not missed), insert what is new, mark what was answered outside
partialauto, record malformed items verbatim and skip them. One account's outage never stops the
others, and a failed window leaves the watermark where it was, so nothing is lost.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from inquiries import events
from inquiries.calibration import similarity
from inquiries.models import Inquiry, InquiryEvent
from markets.models import MalformedPayload, MarketAccount, PollCursor

log = logging.getLogger("partialauto.ingest")

OVERLAP = timedelta(minutes=30)
FIRST_POLL_LOOKBACK = timedelta(days=7)
MAX_CONTENT_CHARS = 20_000
UPSERT_BATCH = 500
POLLER = "system:poller"

# Personal data the answer does not need; the masked buyer name is kept separately for the greeting.
PERSONAL_KEYS = {"buyerEmail", "buyerPhone", "customerName", "customerId", "maskedWriterId"}
# Open decisions that a marketplace-side answer makes moot. Rows being sent are the reconciler's.
_SUPERSEDABLE = [Inquiry.Status.NEW, Inquiry.Status.AUTO_SEND, Inquiry.Status.HUMAN_REVIEW, Inquiry.Status.APPROVED]


@dataclass
class PollSummary:
    account: str
    fetched: int = 0
    created: int = 0
    answered_elsewhere: int = 0
    malformed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def clean_text(value: str | None, limit: int = MAX_CONTENT_CHARS) -> str:
    """PostgreSQL refuses NUL in text; oversized bodies are cut, never rejected."""
    text = (value or "").replace("\x00", "")
    return text[:limit]


def scrub(raw: dict) -> dict:
    def walk(value):
        if isinstance(value, dict):
            return {k: ("***" if k in PERSONAL_KEYS and v else walk(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return value.replace("\x00", "")
        return value

    return walk(raw) if isinstance(raw, dict) else {}


def _row_values(account: MarketAccount, item) -> dict:
    """The new row's fields (by attribute name) for one marketplace item; the rest are model defaults."""
    status = Inquiry.Status.ANSWERED_ELSEWHERE if item.answered else Inquiry.Status.NEW
    return dict(
        account_id=account.pk, market_code=account.market_code, kind=item.kind, external_id=clean_text(item.external_id, 64),
        created_at=item.created_at, title=clean_text(item.title, 300), content=clean_text(item.content),
        product_id=clean_text(item.product_id, 64), product_name=clean_text(item.product_name, 300),
        order_id=clean_text(item.order_id, 64), buyer_name_masked=clean_text(item.buyer_name_masked, 64),
        reply_context=scrub(item.reply_context or {}), raw_payload=scrub(item.raw or {}), status=status,
        external_answer=clean_text(item.answer_text) if item.answered else "",
    )


def _row(account: MarketAccount, item) -> Inquiry:
    return Inquiry(**_row_values(account, item))


def _store_malformed(account: MarketAccount, bad) -> None:
    payload = bad.payload if isinstance(bad.payload, str) else json.dumps(bad.payload, ensure_ascii=False, default=str)
    MalformedPayload.objects.create(account=account, kind=bad.kind, payload=clean_text(payload, 200_000),
                                    error=clean_text(bad.error, 2000))
    log.warning("Malformed %s item from %s recorded and skipped: %s", bad.kind, account.name, bad.error)


def _insert_new_orm(account: MarketAccount, new_items: list) -> list[tuple[int, str]]:
    """Insert the rows and their INGESTED events; returns (id, status) of the rows this call inserted."""
    new_rows = [_row(account, item) for item in new_items]
    # ignore_conflicts: a concurrent poll of the same account inserts the same rows; the unique
    # constraint decides, and neither poll fails.
    Inquiry.objects.bulk_create(new_rows, ignore_conflicts=True)
    # ids of the rows this call inserted (a concurrent poll's rows already have their event)
    fresh = list(Inquiry.objects.filter(
        account=account, kind__in={r.kind for r in new_rows}, external_id__in=[r.external_id for r in new_rows]
    ).exclude(events__type=InquiryEvent.Type.INGESTED).values_list("pk", "status"))
    InquiryEvent.objects.bulk_create([
        events.build(pk, InquiryEvent.Type.INGESTED, actor_label=POLLER, to_status=status,
                     to_send_status=Inquiry.SendStatus.NOT_SENT) for pk, status in fresh
    ])
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
    rows = []
    for item in new_items:
        # _row_values gives plain strings, aware datetimes, the account's UUID and JSON documents:
        # psycopg adapts all of them itself once the documents are marked as jsonb.
        values = {**base, **{k: Jsonb(v) if isinstance(v, (dict, list)) else v for k, v in _row_values(account, item).items()}}
        rows.append([values[f.attname] for f in fields])
    qn = connection.ops.quote_name
    cols = ", ".join(qn(f.column) for f in fields)
    table, event_table = qn(Inquiry._meta.db_table), qn(InquiryEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE _ingest_rows ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
        with cursor.cursor.copy(f"COPY _ingest_rows ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"WITH ins AS (INSERT INTO {table} ({cols}) SELECT {cols} FROM _ingest_rows "
            f"ON CONFLICT DO NOTHING RETURNING id, status) "
            f"INSERT INTO {event_table} (inquiry_id, type, at, actor_label, from_status, to_status, from_send_status, "
            f"to_send_status, message, data) "
            f"SELECT id, %s, %s, %s, '', status, '', %s, '', '{{}}'::jsonb FROM ins ORDER BY id "
            f"RETURNING inquiry_id, to_status",
            [InquiryEvent.Type.INGESTED, now, POLLER, Inquiry.SendStatus.NOT_SENT],
        )
        fresh = cursor.fetchall()
        cursor.execute("DROP TABLE _ingest_rows")
    return fresh


def upsert(account: MarketAccount, items: list) -> tuple[int, int]:
    """Insert new inquiries and mark outside answers; safe to run twice on the same items."""
    created = answered = 0
    insert_new = _insert_new_pg if connection.vendor == "postgresql" else _insert_new_orm
    for start in range(0, len(items), UPSERT_BATCH):
        chunk = items[start:start + UPSERT_BATCH]
        by_key = {(i.kind, clean_text(i.external_id, 64)): i for i in chunk}
        with transaction.atomic():
            existing = {
                (k, e): (pk, status, send_status, draft)
                for pk, k, e, status, send_status, draft in Inquiry.objects.filter(
                    account=account, kind__in={k for k, _ in by_key}, external_id__in={e for _, e in by_key}
                ).values_list("pk", "kind", "external_id", "status", "send_status", "draft_answer")
            }
            new_items = [item for key, item in by_key.items() if key not in existing]
            if new_items:
                fresh = insert_new(account, new_items)
                created += len(fresh)
                answered += sum(1 for _pk, status in fresh if status == Inquiry.Status.ANSWERED_ELSEWHERE)
            # Answered on the marketplace by someone else since we last looked.
            for key, (pk, status, send_status, draft) in existing.items():
                item = by_key[key]
                if not item.answered or status not in _SUPERSEDABLE:
                    continue
                if send_status not in (Inquiry.SendStatus.NOT_SENT, Inquiry.SendStatus.SEND_FAILED):
                    continue  # SENDING / SEND_UNKNOWN / SENT: the send path and the reconciler own it
                # What a person wrote on the marketplace is the calibration signal of shadow mode.
                n = Inquiry.objects.filter(pk=pk, status=status, send_status=send_status).update(
                    status=Inquiry.Status.ANSWERED_ELSEWHERE, next_attempt_at=None, updated_at=timezone.now(),
                    external_answer=clean_text(item.answer_text), draft_agreement=similarity(draft, item.answer_text or ""),
                )
                if n:
                    answered += 1
                    events.record(pk, InquiryEvent.Type.ANSWERED_ELSEWHERE, actor_label=POLLER, from_status=status,
                                  to_status=Inquiry.Status.ANSWERED_ELSEWHERE, message="answered on the marketplace")
    return created, answered


def poll_account(account: MarketAccount, *, now: datetime | None = None, client=None) -> PollSummary:
    from markets.clients.base import Malformed, MarketError
    from markets.connect import client_for

    summary = PollSummary(account=account.name)
    now = now or timezone.now()
    try:
        client = client or client_for(account)
    except Exception as exc:
        summary.errors.append(f"cannot build a client: {exc}")
        return summary
    for kind in account.kinds:
        cursor, _created = PollCursor.objects.get_or_create(account=account, kind=kind)
        start = (cursor.watermark - OVERLAP) if cursor.watermark else now - FIRST_POLL_LOOKBACK
        cursor.last_polled_at = now
        items: list = []
        try:
            for item in client.list_inquiries(kind, start, now):
                if isinstance(item, Malformed):
                    _store_malformed(account, item)
                    summary.malformed += 1
                else:
                    items.append(item)
        except MarketError as exc:
            message = f"{kind}: {exc.message}"
            if getattr(exc, "malformed", None) is not None:
                _store_malformed(account, exc.malformed)
                summary.malformed += 1
            summary.errors.append(message)
            cursor.last_error = message[:2000]
            cursor.save(update_fields=["last_polled_at", "last_error"])
            log.error("Poll of %s failed: %s (the watermark stays; nothing is lost)", account.name, message)
            continue
        summary.fetched += len(items)
        created, answered = upsert(account, items)
        summary.created += created
        summary.answered_elsewhere += answered
        cursor.watermark = now
        cursor.last_success_at = now
        cursor.last_error = ""
        cursor.last_fetched = len(items)
        cursor.save()
    log.info("Polled %s: fetched %s, new %s, answered elsewhere %s, malformed %s, errors %s", account.name,
             summary.fetched, summary.created, summary.answered_elsewhere, summary.malformed, len(summary.errors))
    return summary


def poll_markets(*, names: list[str] | None = None) -> list[PollSummary]:
    accounts = MarketAccount.objects.active()
    if names:
        accounts = MarketAccount.objects.filter(name__in=names)
    results = []
    for account in accounts.order_by("name"):
        try:
            results.append(poll_account(account))
        except Exception as exc:  # one account's bug or outage never stops the others
            log.exception("Poll of %s crashed", account.name)
            results.append(PollSummary(account=account.name, errors=[f"{type(exc).__name__}: {exc}"]))
    return results
