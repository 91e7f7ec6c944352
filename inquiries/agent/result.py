"""The end of an agent run: the reason a person is needed (most important first), the facts behind the
draft, and :class:`AgentResult`, the same fields and types on every path."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inquiries.agent.classify import FALLBACK_INTENT
from inquiries.agent.context import BACKEND_RULES, CSAgentState, Reason
from inquiries.agent.facts import SOURCE_KNOWLEDGE, FactRef
from inquiries.agent.normalize import MAX_CHARS
from inquiries.agent.risk import RiskHit
from inquiries.agent.scoring import AGENT_MIN_CONFIDENCE

logger = logging.getLogger("partialauto.agent")


def hits_summary(hits: Iterable[RiskHit]) -> list[str]:
    return sorted({f"{h.category}:{h.term}" for h in hits})


def _decide(state: CSAgentState) -> tuple[bool, str, str]:
    """(needs_human, reason, detail), most important reason first."""
    if state.get("reason") == Reason.AGENT_ERROR:
        return True, Reason.AGENT_ERROR, state.get("reason_detail") or str(state.get("error"))
    if state.get("reason") == Reason.EMPTY_INPUT:
        return True, Reason.EMPTY_INPUT, state.get("reason_detail", "")
    hits = state.get("risk_hits") or []
    if hits:
        where = sorted({h.where for h in hits})
        return True, Reason.RISK_KEYWORD, f"Risk keyword(s) in {'/'.join(where)}: {', '.join(hits_summary(hits))}"
    person = state.get("person_hits") or []
    if person:
        return True, Reason.NEEDS_PERSON, f"Only a person may grant this: {', '.join(hits_summary(person))}"
    normalized = state.get("normalized")
    if normalized is not None and normalized.truncated:
        return True, Reason.INPUT_TOO_LONG, f"Inquiry longer than {MAX_CHARS} characters"
    result = state.get("llm_result")
    if result is not None and not result.ok:
        return True, result.error_code or Reason.LLM_ERROR, result.error or ""
    if result is not None and result.needs_human:
        return True, Reason.LLM_NEEDS_HUMAN, f"Model asked for a person: {result.reason[:200]}"
    grounding = state.get("grounding")
    if grounding is not None and grounding.needs_person:
        return True, grounding.reason, grounding.detail
    score = state.get("score")
    if score is None:
        return True, Reason.AGENT_ERROR, "No score was computed"
    if score.reason != Reason.OK:
        detail = (
            "No knowledge entry answers this inquiry"
            if score.reason == Reason.NO_KB_MATCH
            else f"Confidence {score.confidence:.2f} below the agent minimum {AGENT_MIN_CONFIDENCE:.2f}"
        )
        return True, score.reason, detail
    if not (state.get("draft") or "").strip():
        return True, Reason.NO_KB_MATCH, "Empty draft"
    if not draft_facts(state):
        return True, Reason.NO_FACTS, "The draft states no fact (general guidance only)"
    return False, Reason.OK, f"Intent {state.get('intent')} with confidence {score.confidence:.2f}"


def draft_facts(state: CSAgentState) -> list[FactRef]:
    """The facts behind the draft: grounding's, or the knowledge entry's when it states the seller's own
    procedure (general guidance such as "see the manual" states none)."""
    grounding = state.get("grounding")
    if grounding is not None and grounding.handled and grounding.draft:
        return list(grounding.facts)
    match = state.get("kb_match")
    if match is not None and match.entry.states_facts and (state.get("draft") or "").strip():
        return [FactRef(SOURCE_KNOWLEDGE, match.entry.id, match.entry.updated_at, match.entry.title)]
    return []


def _model_version(state: CSAgentState) -> int | None:
    record = next((r for r in state.get("trace") or [] if r.get("step") == "model"), None)
    return record.get("version") if record else None


def answer_kind_of(state: CSAgentState, facts: list[FactRef]) -> str:
    grounding = state.get("grounding")
    if grounding is not None and grounding.handled and grounding.draft and not grounding.needs_person:
        return grounding.kind
    return "knowledge" if facts else ""


def _order_fingerprint(state: CSAgentState) -> str:
    grounding = state.get("grounding")
    if grounding is None or not grounding.order_lines:
        return ""
    return ",".join(f"{line.line_id}:{line.fingerprint}" for line in grounding.order_lines)[:500]


@dataclass(frozen=True)
class AgentResult:
    """What the agent proposes for one inquiry; the same fields and types on every path (answerable, a
    person needed, an error). The policy decides from it; only :meth:`as_trace` (JSON) is stored."""

    intent: str
    confidence: float  # the calibrated probability that a person would send the draft as it is
    draft: str
    risk_hits: list[dict]  # {"term", "category", "matched", "where"}
    needs_human: bool
    reason: str  # a Reason code
    reason_detail: str
    backend: str
    trace: list[dict]  # the steps, as stored in the decision trace
    error: str | None
    facts: list[dict]  # {"source", "id", "fetched_at", "detail"}
    person_hits: list[dict]
    model_version: int | None
    grounded: bool  # the draft states facts
    answer_kind: str
    order_fingerprint: str

    def as_trace(self) -> dict[str, Any]:
        """The result as the JSON the decision trace stores: its fields by name. Every value is already
        plain JSON (built as such by :func:`finalize`), so nothing is converted or deep-copied — on the
        decide path :func:`dataclasses.asdict` cost more than the model (a copy of every step's record)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def finalize(state: CSAgentState) -> AgentResult:
    """The agent's result. Same fields and types on every path; never raises."""
    try:
        needs_human, reason, detail = _decide(state)
    except Exception as exc:  # finalize is the last line of defence: it must always return the schema
        logger.exception("agent-finalize-failed")
        needs_human, reason, detail = True, Reason.AGENT_ERROR, f"finalize failed: {type(exc).__name__}"
        state["error"] = state.get("error") or detail
    errored = bool(state.get("error"))
    intent = state.get("intent") or FALLBACK_INTENT
    try:
        confidence = 0.0 if errored else float(state.get("confidence") or 0.0)
    except (TypeError, ValueError):
        confidence = 0.0
    try:
        facts = [] if errored else draft_facts(state)
        kind, fingerprint = answer_kind_of(state, facts), _order_fingerprint(state)
    except Exception:  # the schema must come back whatever happened
        logger.exception("agent-facts-failed")
        facts, kind, fingerprint = [], "", ""
    grounding = state.get("grounding")
    if grounding is not None and grounding.needs_person:
        # Facts prefilled for the person who answers: they are shown, but nothing here goes out alone.
        facts = facts or list(grounding.facts)
    return AgentResult(
        intent=str(intent),
        confidence=max(0.0, min(1.0, confidence)),
        draft=str(state.get("draft") or ""),
        risk_hits=[h.as_dict() for h in state.get("risk_hits") or []],
        needs_human=bool(needs_human),
        reason=str(reason),
        reason_detail=str(detail or ""),
        backend=str(state.get("backend") or BACKEND_RULES),
        trace=list(state.get("trace") or []),
        error=str(state["error"]) if state.get("error") else None,
        facts=[f.as_dict() for f in facts],
        person_hits=[h.as_dict() for h in state.get("person_hits") or []],
        model_version=_model_version(state),
        grounded=bool(facts) and not needs_human,
        answer_kind=kind,
        order_fingerprint=fingerprint if not needs_human else "",
    )
