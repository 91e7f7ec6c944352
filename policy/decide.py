"""Decide NEW inquiries: the agent proposes (intent, draft, confidence, risks), the policy disposes.

The agent never sends and the policy is deterministic. What keeps it correct with several processors
(django-q workers, the command) running at once:

- The decision is written with a conditional UPDATE (``… WHERE id = … AND status = 'NEW'``): an
  inquiry is decided at most once, and a row someone else moved out of NEW after we read it is never
  overwritten. Events are written for exactly the rows the UPDATE matched.
- On PostgreSQL a processor *claims* the rows of a batch before running the agent on them (a
  session-level advisory lock per row, taken with a try-lock: rows another processor holds are
  skipped, not waited for). No transaction stays open while the agent runs, so this holds for the
  LLM backend too; claims end when the batch is written, or with the connection if the process dies.
  Claims only keep two processors from computing the same rows: the conditional UPDATE is still
  what guarantees "once".
- The daily-quota gate counts the sendable decisions of the run. So that this count sees every
  decision being made for an account, an account whose quota applies is decided by one processor at
  a time (an advisory lock on the account, held for the run); other processors leave its rows alone.
- A batch is written in one transaction; if the database refuses it, the rows are written one at a
  time so one bad row does not hold back the others. One send sweep is queued per batch, after commit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from django.db import DatabaseError, connection, transaction
from django.db.models import DateTimeField, Field
from django.utils import timezone
from django.utils.translation import gettext

from inquiries import events, transitions
from inquiries.agent.facts import InquiryFacts
from inquiries.agent.result import AgentResult
from inquiries.facts import load_facts, order_refs
from inquiries.models import Inquiry, InquiryEvent
from inquiries.transitions import Step
from markets.models import MarketAccount
from partialauto.cli import local_time
from partialauto.db import column_of, concrete_field
from partialauto.queue import enqueue_send_sweep
from policy.controls import AccountControls, load_account_controls, load_global
from policy.engine import evaluate
from policy.models import Mode
from policy.quota import quota_used

if TYPE_CHECKING:
    from inquiries.agent.context import AgentContext

log = logging.getLogger("partialauto.decide")
# A decision is written only on a row still in this state (the transition table's source of DECIDE).
_UNDECIDED = transitions.only(transitions.TABLE[Step.DECIDE].status_from)

BATCH_SIZE = 200
AGENT = "system:agent"


@dataclass
class DecideSummary:
    decided: int = 0
    auto_send: int = 0
    human_review: int = 0
    shadow_candidates: int = 0
    deferred: int = 0
    errors: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


def run_agent_for(
    inquiry: Inquiry | dict,
    *,
    account_name: str | None,
    seller_name: str = "",
    context: AgentContext | None = None,
    facts: InquiryFacts | None = None,
) -> AgentResult:
    """The agent on one inquiry; ``context`` defaults to the account's (cached) context, ``facts`` to
    none (only the knowledge base answers)."""
    from inquiries.agent.loader import load_context
    from inquiries.agent.pipeline import run_agent

    get = inquiry.get if isinstance(inquiry, dict) else (lambda k, d="": getattr(inquiry, k, d))
    if context is None:
        context = load_context(account_name=account_name, seller_name=seller_name)
    _orders, _lines, item_ids = order_refs(inquiry)
    return run_agent(
        content=get("content", "") or "",
        title=get("title", "") or "",
        product_name=get("product_name", "") or "",
        context=context,
        facts=facts,
        item_ids=item_ids,
    )


def policy_decision(
    agent_result: AgentResult, controls: AccountControls, *, now: dt.datetime, used: int
) -> tuple[str, str, dict, dt.datetime | None]:
    """Map the agent's result through the policy: (status, reason, details, deferred_until)."""
    decision = evaluate(
        {
            "intent": agent_result.intent,
            "confidence": agent_result.confidence,
            "draft": agent_result.draft,
            "risk_hits": agent_result.risk_hits,
            "needs_human": agent_result.needs_human,
            "reason": agent_result.reason,
            "grounded": agent_result.grounded,
            "controls": controls,
            "now": now,
            "quota_used": used,
        }
    )
    deferred = decision.deferred_until if decision.allowed else None
    status = Inquiry.Status.AUTO_SEND if decision.allowed else Inquiry.Status.HUMAN_REVIEW
    return status, decision.reason, decision.details, deferred


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


def _prepare(
    inquiry: Inquiry,
    *,
    controls: AccountControls,
    now: dt.datetime,
    used: int | None,
    account: MarketAccount | None = None,
    context: AgentContext | None = None,
    facts: InquiryFacts | None = None,
) -> _Decision:
    account = account or inquiry.account
    agent_result = run_agent_for(
        inquiry, account_name=account.name, seller_name=account.seller_name, context=context, facts=facts
    )
    if used is None:
        used = quota_used(account_id=inquiry.account_id, at=now)
    status, reason, details, deferred = policy_decision(agent_result, controls, now=now, used=used)
    mode = controls.effective_mode
    draft = agent_result.draft
    sendable = status == Inquiry.Status.AUTO_SEND and mode != Mode.SHADOW
    trace = {"agent": {k: v for k, v in agent_result.as_trace().items() if k != "draft"}, "policy": details}
    fields = dict(
        **transitions.target(Step.DECIDE, status=status),
        intent=(agent_result.intent)[:32],
        confidence_score=min(max(agent_result.confidence, 0.0), 1.0),
        risk_hits=agent_result.risk_hits,
        draft_answer=draft,
        final_answer=draft if sendable else "",
        decision_reason=reason[:300],
        decision_trace=trace,
        decision_mode=mode,
        decided_at=now,
        next_attempt_at=deferred,
        order_fingerprint=agent_result.order_fingerprint,
        answer_kind=agent_result.answer_kind[:20],
        updated_at=now,
    )
    batch = [
        events.row(
            inquiry.pk,
            transitions.event_of(Step.DECIDE),
            actor_label=AGENT,
            at=now,
            from_status=_UNDECIDED,
            to_status=status,
            message=reason,
            data={"mode": mode, "intent": agent_result.intent, "confidence": agent_result.confidence},
        )
    ]
    if deferred and sendable:
        batch.append(
            events.row(
                inquiry.pk,
                InquiryEvent.Type.DEFERRED,
                actor_label=AGENT,
                at=now,
                message=gettext("영업시간 외: %(at)s로 미룸") % {"at": local_time(deferred, "%Y-%m-%d %H:%M")},
            )
        )
    return _Decision(inquiry, status, details.get("reason_code", "?"), deferred, sendable, fields, batch)


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


def decide_one(
    inquiry: Inquiry, *, controls: AccountControls, now: dt.datetime | None = None, used: int | None = None
) -> tuple[str, str, dt.datetime | None] | None:
    """Decide one NEW inquiry; returns (status, reason code, deferred until) or None if already decided."""
    now = now or timezone.now()
    facts = load_facts([inquiry], now=now, lookups=True)[0]
    decision = _prepare(inquiry, controls=controls, now=now, used=used, facts=facts)
    if not _write_batch([decision]):
        return None  # another processor decided it first
    return decision.status, decision.reason_code, decision.deferred


# The columns decide_new reads (the agent needs the text and the references to its facts, the policy
# the account).
_READ_FIELDS = (
    "id",
    "account_id",
    "content",
    "title",
    "product_name",
    "product_id",
    "order_id",
    "order_refs",
    "product_refs",
)


class _Run:
    """What one decide_new run loads once: the global and per-account controls, the accounts, each
    account's agent context (per batch: the loader's own cache decides when ops edits apply) and the
    quota use the gate counts against."""

    def __init__(self) -> None:
        self.glob = load_global()
        self.accounts: dict[object, MarketAccount] = {}
        self.controls: dict[object, AccountControls] = {}
        self.used: dict[object, int] = {}

    def account(self, account_id) -> MarketAccount:
        account = self.accounts.get(account_id)
        if account is None:
            account = self.accounts[account_id] = MarketAccount.objects.get(pk=account_id)
        return account

    def controls_for(self, account_id) -> AccountControls:
        controls = self.controls.get(account_id)
        if controls is None:
            controls = self.controls[account_id] = load_account_controls(self.account(account_id), glob=self.glob)
        return controls


def _quota_counted(controls: AccountControls) -> bool:
    """Whether the quota gate counts this account's decisions (a shadow account sends nothing)."""
    return controls.daily_quota is not None and controls.effective_mode != Mode.SHADOW


@dataclass
class _Batch:
    last_id: int  # the highest id looked at: the next batch starts after it
    rows: list[Inquiry]  # what this processor decides
    claimed: list[int] = field(default_factory=list)  # ids to release once the batch is written


class _Rows:
    """Batches of NEW rows in id order, without claims: one processor at a time (SQLite)."""

    def begin(self, run: _Run) -> None:
        pass

    def next_batch(self, after: int, size: int) -> _Batch | None:
        """The next batch after id ``after``; None when no NEW row is left there."""
        rows = list(Inquiry.objects.filter(status=_UNDECIDED, pk__gt=after).only(*_READ_FIELDS).order_by("pk")[:size])
        return _Batch(rows[-1].pk, rows) if rows else None

    def release(self, batch: _Batch) -> None:
        pass

    def end(self) -> None:
        pass


# Advisory lock key spaces (two-integer form, which never meets the one-bigint form).
_ROW_CLAIM = 0x44454349  # "DECI"
_ACCOUNT_CLAIM = 0x44454341  # "DECA"
# A row id is folded into a non-negative int4 key. Two rows sharing a key (ids 2³¹ apart, both in
# flight at once) can only make one processor skip a row, which the next run decides.
_INT4_SPAN = 2**31


def _pk(inquiry: Inquiry) -> int:
    return inquiry.pk


def _account_key(account_id) -> int:
    return zlib.crc32(uuid.UUID(str(account_id)).bytes) & 0x7FFFFFFF


class _ClaimedRows(_Rows):
    """PostgreSQL: each batch is claimed with a try-lock per row, and rows another processor holds are
    skipped. Accounts whose quota the gate counts are claimed for the whole run, or left alone when
    another processor has them. A run decides the accounts it knew when it began (an account added
    while it runs waits for the next run: its quota claim could not be taken in time)."""

    def __init__(self) -> None:
        self.held: list[int] = []  # account keys this run holds
        self.accounts: list[str] = []  # the accounts whose rows this run decides
        self.skipped: list[str] = []  # quota-counted accounts another processor is deciding

    def begin(self, run: _Run) -> None:
        # only accounts with something to decide: a run queued after each poll must not load every account
        waiting = Inquiry.objects.filter(status=Inquiry.Status.NEW).values("account_id")
        for account in MarketAccount.objects.filter(pk__in=waiting).order_by("pk"):
            run.accounts[account.pk] = account
            if _quota_counted(run.controls_for(account.pk)):
                key = _account_key(account.pk)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_ACCOUNT_CLAIM, key])
                    if not cursor.fetchone()[0]:
                        self.skipped.append(account.name)
                        continue
                self.held.append(key)
            self.accounts.append(str(account.pk))
        if self.skipped:
            log.info("decide-accounts-skipped accounts=%s (another processor is deciding them)", ",".join(self.skipped))

    def next_batch(self, after: int, size: int) -> _Batch | None:
        qn = connection.ops.quote_name
        meta = Inquiry._meta
        pk, status, account = (qn(column_of(meta.get_field(name))) for name in ("id", "status", "account"))
        columns = ", ".join(qn(column_of(meta.get_field(name))) for name in _READ_FIELDS)
        # One round trip: the candidates, oldest first, each with the result of its try-lock. The lock
        # sits in the outer select list, so it runs exactly once for each candidate the inner LIMIT
        # chose, and every lock taken is reported back. (A row another processor decides and releases
        # right after this statement's snapshot can still be claimed here; the conditional write then
        # leaves it alone.)
        candidates = list(
            Inquiry.objects.raw(
                f"SELECT c.*, pg_try_advisory_lock(%s, (c.{pk} %% {_INT4_SPAN})::integer) AS claimed FROM ("
                f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {status} = %s AND {pk} > %s "
                f"AND {account} = ANY(%s::uuid[]) ORDER BY {pk} LIMIT %s) AS c",
                [_ROW_CLAIM, _UNDECIDED, after, self.accounts, size],
            )
        )
        if not candidates:
            return None
        # ``claimed``: the try-lock's result, an attribute the raw query adds to each row.
        rows = sorted((inquiry for inquiry in candidates if cast(Any, inquiry).claimed), key=_pk)
        return _Batch(max(inquiry.pk for inquiry in candidates), rows, [inquiry.pk for inquiry in rows])

    def release(self, batch: _Batch) -> None:
        if batch.claimed:
            self._unlock(
                f"SELECT pg_advisory_unlock(%s, (id %% {_INT4_SPAN})::integer) FROM unnest(%s::bigint[]) AS id",
                [_ROW_CLAIM, batch.claimed],
            )

    def end(self) -> None:
        if self.held:
            self._unlock(
                "SELECT pg_advisory_unlock(%s, key) FROM unnest(%s::integer[]) AS key", [_ACCOUNT_CLAIM, self.held]
            )
            self.held = []

    @staticmethod
    def _unlock(sql: str, params: list) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        except DatabaseError:  # claims end with the database session anyway; no decision depends on them
            log.exception("Could not release decision claims")


def decide_new(*, limit: int | None = None, batch_size: int = BATCH_SIZE) -> DecideSummary:
    """Decide NEW inquiries in batches of ``batch_size`` (at most ``limit``), oldest id first."""
    summary = DecideSummary()
    run = _Run()
    rows = _ClaimedRows() if connection.vendor == "postgresql" else _Rows()
    remaining = limit
    last_id = 0
    try:
        rows.begin(run)
        while remaining is None or remaining > 0:
            batch = rows.next_batch(last_id, batch_size if remaining is None else min(batch_size, remaining))
            if batch is None:
                break
            last_id = batch.last_id
            try:
                written = _write_all(_prepare_batch(batch.rows, run, summary), summary)
            finally:
                rows.release(batch)
            _count(written, summary)
            if remaining is not None:
                remaining -= len(batch.rows)
    finally:
        rows.end()
    return summary


def _prepare_batch(inquiries: list[Inquiry], run: _Run, summary: DecideSummary) -> list[_Decision]:
    """Agent and policy for each inquiry of a batch; one that fails is counted and left NEW."""
    from inquiries.agent.loader import load_context

    now = timezone.now()
    contexts: dict[object, AgentContext] = {}
    decisions: list[_Decision] = []
    # The facts of the whole batch in a few queries; an order the mirror lacks gets one look-up (no
    # transaction is open here: claims are advisory locks, the writes come later).
    facts = load_facts(inquiries, now=now, lookups=True, accounts={str(k): v for k, v in run.accounts.items()})
    for inquiry, inquiry_facts in zip(inquiries, facts, strict=True):
        account_id = inquiry.account_id
        account, controls = run.account(account_id), run.controls_for(account_id)
        if account_id not in run.used:
            run.used[account_id] = quota_used(account_id=account_id, at=now)
        context = contexts.get(account_id)
        if context is None:
            context = contexts[account_id] = load_context(account_name=account.name, seller_name=account.seller_name)
        try:
            decision = _prepare(
                inquiry,
                controls=controls,
                now=now,
                used=run.used[account_id],
                account=account,
                context=context,
                facts=inquiry_facts,
            )
        except Exception:
            log.exception("Inquiry %s: decision failed; left NEW for the next run", inquiry.pk)
            summary.errors += 1
            continue
        decisions.append(decision)
        if decision.sendable and controls.daily_quota is not None:
            run.used[account_id] += 1  # counts against the quota gate for the rest of the run
    return decisions


def _write_all(decisions: list[_Decision], summary: DecideSummary) -> list[_Decision]:
    try:
        return _write_batch(decisions)
    except DatabaseError:
        # One row the database refuses must not hold back the others: write them one by one.
        log.exception("Writing a batch of %s decisions failed; writing them one at a time", len(decisions))
    written: list[_Decision] = []
    for decision in decisions:
        try:
            written += _write_batch([decision])
        except DatabaseError:
            log.exception("Inquiry %s: decision could not be written; left NEW for the next run", decision.inquiry.pk)
            summary.errors += 1
    return written


def _count(written: list[_Decision], summary: DecideSummary) -> None:
    for decision in written:
        summary.decided += 1
        summary.by_reason[decision.reason_code] = summary.by_reason.get(decision.reason_code, 0) + 1
        if decision.status == Inquiry.Status.AUTO_SEND:
            if not decision.sendable:
                summary.shadow_candidates += 1
            else:
                summary.auto_send += 1
            if decision.deferred:
                summary.deferred += 1
        else:
            summary.human_review += 1
