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
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import DatabaseError, connection
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
from policy.controls import AccountControls, load_account_controls, load_global
from policy.decide_claims import _ClaimedRows, _Rows
from policy.decide_writes import _UNDECIDED, _Decision, _write_batch
from policy.engine import evaluate
from policy.models import Mode
from policy.quota import quota_used

if TYPE_CHECKING:
    from inquiries.agent.context import AgentContext

log = logging.getLogger("partialauto.decide")

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
