"""Writing decisions: the conditional UPDATE of a batch (row by row with the ORM, or one PostgreSQL
statement) with the events of exactly the rows it matched, and the send sweep queued after commit."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import DateTimeField, Field

from inquiries import transitions
from inquiries.models import Inquiry, InquiryEvent
from inquiries.transitions import Step
from partialauto.db import column_of, concrete_field
from partialauto.queue import enqueue_send_sweep

# A decision is written only on a row still in this state (the transition table's source of DECIDE).
_UNDECIDED = transitions.only(transitions.TABLE[Step.DECIDE].status_from)


@dataclass
class _Decision:
    """A decision computed in memory (agent + policy), not yet written."""

    inquiry: Inquiry
    status: str
    reason_code: str
    deferred: dt.datetime | None
    sendable: bool
    fields: dict
    events: list[dict]  # events.row() values


# What a decision writes on the inquiry row, in a fixed order (the batched statement is built from it).
DECISION_FIELDS = (
    "status",
    "intent",
    "confidence_score",
    "risk_hits",
    "draft_answer",
    "final_answer",
    "decision_reason",
    "decision_trace",
    "decision_mode",
    "decided_at",
    "next_attempt_at",
    "order_fingerprint",
    "answer_kind",
    "updated_at",
)


def _write_orm(decisions: list[_Decision]) -> set[int]:
    """The conditional UPDATE, one row at a time: only a still-NEW inquiry is decided."""
    written = {
        d.inquiry.pk
        for d in decisions
        if Inquiry.objects.filter(transitions.source_q(Step.DECIDE), pk=d.inquiry.pk).update(**d.fields)
    }
    InquiryEvent.objects.bulk_create(
        [InquiryEvent(**event) for d in decisions if d.inquiry.pk in written for event in d.events]
    )
    return written


def _timestamp(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()  # ISO 8601 with its offset: read back as the same instant


def _record_columns(fields: list[Field]) -> str:
    """A ``json_to_recordset`` column list: each column typed exactly as in its table, so a value the
    table would refuse (too long, wrong type) is refused here as well."""
    qn = connection.ops.quote_name
    return ", ".join(f"{qn(column_of(f))} {f.db_type(connection)}" for f in fields)


@cache
def _event_fields() -> list[Field]:
    return [f for f in InquiryEvent._meta.concrete_fields if not f.primary_key]


def _json_columns(fields: list[Field]) -> tuple[tuple[str, Field, bool], ...]:
    """(column, field, is a timestamp) for building the JSON rows."""
    return tuple((column_of(f), f, isinstance(f, DateTimeField)) for f in fields)


@cache
def _decision_columns() -> tuple[tuple[str, Field, bool], ...]:
    return _json_columns([concrete_field(Inquiry, name) for name in DECISION_FIELDS])


@cache
def _event_columns() -> tuple[tuple[str, Field, bool], ...]:
    return _json_columns(_event_fields())


@cache
def _write_pg_sql() -> str:
    qn = connection.ops.quote_name
    meta = Inquiry._meta
    fields = [concrete_field(Inquiry, name) for name in DECISION_FIELDS]
    pk, status = qn(column_of(meta.pk)), qn(column_of(meta.get_field("status")))
    assignments = ", ".join(f"{qn(column_of(f))} = v.{qn(column_of(f))}" for f in fields)
    event_fields = _event_fields()
    event_cols = ", ".join(qn(column_of(f)) for f in event_fields)
    event_inquiry = qn(column_of(InquiryEvent._meta.get_field("inquiry")))
    # One round trip per batch. The UPDATE is the conditional write (a row someone else moved out of
    # NEW, even between our read and this statement, is not matched); RETURNING reports exactly the
    # rows written, and only those get their events (a data-modifying CTE always runs to completion).
    return (
        f"WITH decided AS ("
        f"UPDATE {qn(meta.db_table)} AS t SET {assignments} "
        f"FROM json_to_recordset(%s::json) AS v({_record_columns([meta.pk, *fields])}) "
        f"WHERE t.{pk} = v.{pk} AND t.{status} = %s RETURNING t.{pk}"
        f"), logged AS ("
        f"INSERT INTO {qn(InquiryEvent._meta.db_table)} ({event_cols}) "
        f"SELECT {event_cols} FROM json_to_recordset(%s::json) AS e({_record_columns(event_fields)}, _n integer) "
        f"WHERE e.{event_inquiry} IN (SELECT {pk} FROM decided) ORDER BY e._n"
        f") SELECT {pk} FROM decided"
    )


def _write_pg(decisions: list[_Decision]) -> set[int]:
    """PostgreSQL: the same writes as :func:`_write_orm` in one statement. The rows travel as one JSON
    document (no per-value quoting on our side; the server parses it once); JSON fields are encoded as
    the ORM encodes them, with json.dumps and no custom encoder."""
    pk_column = column_of(Inquiry._meta.pk)
    rows = []
    for d in decisions:
        row: dict[str, Any] = {pk_column: d.inquiry.pk}
        for column, f, is_timestamp in _decision_columns():
            value = d.fields[f.name]
            row[column] = _timestamp(value) if is_timestamp else value
        rows.append(row)
    events_ = []
    for n, event in enumerate(event for d in decisions for event in d.events):
        row = {"_n": n}
        for column, f, is_timestamp in _event_columns():
            value = event[f.attname]
            row[column] = _timestamp(value) if is_timestamp else value
        events_.append(row)
    params = [json.dumps(rows, ensure_ascii=False), _UNDECIDED, json.dumps(events_, ensure_ascii=False)]
    with connection.cursor() as cursor:
        cursor.execute(_write_pg_sql(), params)
        return {pk for (pk,) in cursor.fetchall()}


def _write_batch(decisions: list[_Decision]) -> list[_Decision]:
    """Write decisions in one transaction (one commit per batch instead of per inquiry); returns the ones
    written, each with its events. The sends of sendable decisions are queued once it commits."""
    if not decisions:
        return []
    with transaction.atomic():
        written_ids = (_write_pg if connection.vendor == "postgresql" else _write_orm)(decisions)
        written = [d for d in decisions if d.inquiry.pk in written_ids]
        if any(d.sendable and not d.deferred for d in written):
            # One send sweep for the batch (it claims whatever is due, in batches, spread over accounts),
            # not one task per inquiry: each of those would claim and load the settings for one row.
            transaction.on_commit(enqueue_send_sweep)
    return written
