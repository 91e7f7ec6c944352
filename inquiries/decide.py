"""Decide NEW inquiries: the agent proposes (intent, draft, confidence, risks), the policy disposes.

The agent never sends and the policy is deterministic; the decision is written with a conditional
UPDATE so two processors working the same batch cannot both decide one inquiry.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from django.utils import timezone

from inquiries import events
from inquiries.models import Inquiry, InquiryEvent
from markets.models import MarketAccount
from policy.controls import AccountControls, load_account_controls, load_global
from policy.engine import evaluate
from policy.models import Mode
from policy.quota import quota_used

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


def run_agent_for(inquiry: Inquiry | dict, *, account_name: str | None, seller_name: str = "") -> dict:
    from inquiries.agent.loader import load_context
    from inquiries.agent.pipeline import run_agent

    get = inquiry.get if isinstance(inquiry, dict) else (lambda k, d="": getattr(inquiry, k, d))
    context = load_context(account_name=account_name, seller_name=seller_name)
    return run_agent(content=get("content", "") or "", title=get("title", "") or "",
                     product_name=get("product_name", "") or "", context=context)


def policy_decision(agent_result: dict, controls: AccountControls, *, now: dt.datetime, used: int) -> tuple[str, str, dict, dt.datetime | None]:
    """Map the agent's result through the policy: (status, reason, details, deferred_until)."""
    allowed, reason, details = evaluate({
        "intent": agent_result.get("intent") or "",
        "confidence": agent_result.get("confidence") or 0.0,
        "draft": agent_result.get("draft") or "",
        "risk_hits": agent_result.get("risk_hits") or [],
        "needs_human": bool(agent_result.get("needs_human")),
        "reason": agent_result.get("reason") or "",
        "controls": controls,
        "now": now,
        "quota_used": used,
    })
    deferred = None
    if allowed and details.get("deferred_until"):
        deferred = dt.datetime.fromisoformat(details["deferred_until"])
    return (Inquiry.Status.AUTO_SEND if allowed else Inquiry.Status.HUMAN_REVIEW), reason, details, deferred


@dataclass
class _Decision:
    """A decision computed in memory (agent + policy), not yet written."""

    inquiry: Inquiry
    status: str
    reason_code: str
    deferred: dt.datetime | None
    sendable: bool
    fields: dict
    events: list


def _prepare(inquiry: Inquiry, *, controls: AccountControls, now: dt.datetime, used: int | None) -> _Decision:
    agent_result = run_agent_for(inquiry, account_name=inquiry.account.name, seller_name=inquiry.account.seller_name)
    if used is None:
        used = quota_used(account_id=inquiry.account_id, at=now)
    status, reason, details, deferred = policy_decision(agent_result, controls, now=now, used=used)
    mode = controls.effective_mode
    draft = agent_result.get("draft") or ""
    sendable = status == Inquiry.Status.AUTO_SEND and mode != Mode.SHADOW
    trace = {"agent": {k: v for k, v in agent_result.items() if k != "draft"}, "policy": details}
    fields = dict(
        status=status,
        intent=(agent_result.get("intent") or "")[:32],
        confidence_score=min(max(float(agent_result.get("confidence") or 0.0), 0.0), 1.0),
        risk_hits=agent_result.get("risk_hits") or [],
        draft_answer=draft,
        final_answer=draft if sendable else "",
        decision_reason=reason[:300],
        decision_trace=trace,
        decision_mode=mode,
        decided_at=now,
        next_attempt_at=deferred,
        updated_at=now,
    )
    batch = [events.build(inquiry.pk, InquiryEvent.Type.DECIDED, actor_label=AGENT, from_status=Inquiry.Status.NEW,
                          to_status=status, message=reason, data={"mode": mode, "intent": agent_result.get("intent"),
                                                                  "confidence": agent_result.get("confidence")})]
    if deferred and sendable:
        batch.append(events.build(inquiry.pk, InquiryEvent.Type.DEFERRED, actor_label=AGENT,
                                  message=f"deferred to {deferred.isoformat()}"))
    return _Decision(inquiry, status, details.get("reason_code", "?"), deferred, sendable, fields, batch)


def _write(decision: _Decision) -> bool:
    """The conditional UPDATE: only a still-NEW inquiry is decided (two processors never both decide one)."""
    return bool(Inquiry.objects.filter(pk=decision.inquiry.pk, status=Inquiry.Status.NEW).update(**decision.fields))


def _write_batch(decisions: list[_Decision]) -> list[_Decision]:
    """Write decisions in one transaction (one commit per batch instead of per inquiry); returns the ones
    written. The sends of sendable decisions are queued once it commits."""
    with transaction.atomic():
        written = [d for d in decisions if _write(d)]
        InquiryEvent.objects.bulk_create([event for d in written for event in d.events])
        if any(d.sendable and not d.deferred for d in written):
            # One send sweep for the batch (it claims whatever is due, in batches, spread over accounts),
            # not one task per inquiry: each of those would claim and load the settings for one row.
            transaction.on_commit(enqueue_sweep)
    return written


def decide_one(inquiry: Inquiry, *, controls: AccountControls, now: dt.datetime | None = None,
               used: int | None = None) -> tuple[str, str, dt.datetime | None] | None:
    """Decide one NEW inquiry; returns (status, reason code, deferred until) or None if already decided."""
    decision = _prepare(inquiry, controls=controls, now=now or timezone.now(), used=used)
    if not _write_batch([decision]):
        return None  # another processor decided it first
    return decision.status, decision.reason_code, decision.deferred


def enqueue_sweep() -> None:
    """Queue a send sweep now; the every-minute sweep catches anything this misses."""
    from django_q.tasks import async_task

    try:
        async_task("inquiries.tasks.send_due_task", q_options={"task_name": "send-due-after-decisions"})
    except Exception as exc:  # the broker being down must not lose the decisions: the schedule sweeps them
        log.warning("Could not enqueue a send sweep (%s); the scheduled sweep will send", exc)


def enqueue_send(inquiry_id: int) -> None:
    """Hand the send to a worker; the every-minute sweep catches anything this misses."""
    from django_q.tasks import async_task

    try:
        async_task("inquiries.tasks.send_inquiry_task", inquiry_id, q_options={"task_name": f"send-{inquiry_id}"})
    except Exception as exc:  # the broker being down must not lose the decision: the sweep will send it
        log.warning("Inquiry %s: could not enqueue the send (%s); the send sweep will pick it up", inquiry_id, exc)


def decide_new(*, limit: int | None = None, batch_size: int = BATCH_SIZE) -> DecideSummary:
    summary = DecideSummary()
    glob = load_global()
    controls_cache: dict[object, AccountControls] = {}
    used_cache: dict[object, int] = {}
    remaining = limit
    last_id = 0
    while remaining is None or remaining > 0:
        size = batch_size if remaining is None else min(batch_size, remaining)
        batch = list(
            Inquiry.objects.select_related("account").filter(status=Inquiry.Status.NEW, pk__gt=last_id)
            .order_by("pk")[:size]
        )
        if not batch:
            break
        now = timezone.now()
        decisions: list[_Decision] = []
        for inquiry in batch:
            last_id = inquiry.pk
            account: MarketAccount = inquiry.account
            controls = controls_cache.get(account.pk)
            if controls is None:
                controls = controls_cache[account.pk] = load_account_controls(account, glob=glob)
                used_cache[account.pk] = quota_used(account_id=account.pk, at=now)
            try:
                decision = _prepare(inquiry, controls=controls, now=now, used=used_cache[account.pk])
            except Exception:
                log.exception("Inquiry %s: decision failed; left NEW for the next run", inquiry.pk)
                summary.errors += 1
                continue
            decisions.append(decision)
            if decision.sendable and controls.daily_quota is not None:
                used_cache[account.pk] += 1  # counts against the quota gate for the rest of the batch
        try:
            written = _write_batch(decisions)
        except DatabaseError:
            # One row the database refuses must not hold back the others: write them one by one.
            log.exception("Writing a batch of %s decisions failed; writing them one at a time", len(decisions))
            written = []
            for decision in decisions:
                try:
                    written += _write_batch([decision])
                except DatabaseError:
                    log.exception("Inquiry %s: decision could not be written; left NEW for the next run", decision.inquiry.pk)
                    summary.errors += 1
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
        if remaining is not None:
            remaining -= len(batch)
    return summary
