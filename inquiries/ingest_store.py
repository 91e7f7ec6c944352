"""Storing what a poll listed: new inquiries inserted once with their INGESTED event (a bulk COPY on
PostgreSQL), inquiries answered on the marketplace marked as such, malformed items recorded verbatim, and
payloads cleaned of NUL characters and personal keys. :func:`upsert` is safe to run twice on the same
items (a concurrent poll of the same account inserts the same rows: the unique constraint decides)."""

from __future__ import annotations

import json
import logging

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from inquiries import events, followups, transitions
from inquiries.calibration import similarity
from inquiries.models import Inquiry, InquiryEvent
from inquiries.transitions import Step
from markets.clients.identity import buyer_keys
from markets.models import MalformedPayload, MarketAccount
from partialauto.db import column_of, copied_rows

log = logging.getLogger("partialauto.ingest")

MAX_CONTENT_CHARS = 20_000
UPSERT_BATCH = 500
POLLER = "system:poller"
# Personal data the answer does not need; the masked buyer name is kept separately for the greeting.
PERSONAL_KEYS = {"buyerEmail", "buyerPhone", "customerName", "customerId", "maskedWriterId"}
# Open decisions that a marketplace-side answer makes moot. Rows being sent are the reconciler's.
_ANSWERED_ON_MARKET = transitions.TABLE[Step.ANSWERED_ON_MARKET]


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


def store_malformed(account: MarketAccount, bad) -> None:
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
