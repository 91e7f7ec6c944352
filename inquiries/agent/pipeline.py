"""The CS workflow agent: inquiry → intent, draft, confidence, risk hits. It never sends and never
decides policy (policy/engine.py does, from this result).

normalize → risk scan (customer text and title) → classify → ground (answers from the order, the shipping
policy, the product's facts: :mod:`inquiries.agent.grounding`) → draft (rules or LLM, where grounding
did not answer) → risk scan (draft) → score → finalize. Every step appends a record to ``trace``; an
exception in any step ends the run on the error path. The context and state are in
:mod:`inquiries.agent.context`, the steps in :mod:`inquiries.agent.steps`;
:func:`~inquiries.agent.result.finalize` returns the same keys and types on every path:

- ``intent`` (str): one of the configured intents, ``기타`` when unknown;
- ``confidence`` (float in [0, 1]): 0.0 on the error and empty-input paths;
- ``draft`` (str): may be empty, never contains a ``{placeholder}``;
- ``risk_hits`` (list of ``{"term", "category", "matched", "where"}``, where = customer|title|draft);
- ``needs_human`` (bool): the agent itself says a person should answer;
- ``reason`` (str): a machine code, see :class:`~inquiries.agent.context.Reason` (Korean UI labels:
  inquiries.agent.labels);
- ``reason_detail`` (str): English, for logs and the decision trace;
- ``backend`` (str): "rules" or "llm";
- ``trace`` (list of step records): JSON-serialisable, never the customer's text;
- ``error`` (str | None): set on the error path only;
- ``facts`` (list of ``{"source", "id", "fetched_at", "detail"}``): every fact the draft used;
- ``grounded`` (bool): the draft states facts (an order, the shipping policy, the product's facts, or
  a knowledge entry that states the seller's own procedure); an ungrounded draft never goes out alone;
- ``answer_kind`` (str): order_status, shipping_policy, product_facts, knowledge or "";
- ``order_fingerprint`` (str): ``line:fingerprint`` of the order lines the draft states, comma-separated.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from inquiries.agent.context import BACKEND_RULES, BACKENDS, AgentContext, CSAgentState, Reason
from inquiries.agent.facts import InquiryFacts
from inquiries.agent.result import AgentResult, finalize
from inquiries.agent.steps import STEPS

logger = logging.getLogger("partialauto.agent")


def run_agent(
    *,
    content: str,
    title: str = "",
    product_name: str = "",
    context: AgentContext,
    product_id: str = "",
    facts: InquiryFacts | None = None,
    item_ids: Sequence[str] = (),
) -> AgentResult:
    """Run the agent on one inquiry. Never raises: any failure gives the error-path result.

    ``facts``: the inquiry's order, the account's shipping policy and the product's facts (none given:
    only the knowledge base can answer, and only its entries that state facts make a grounded draft).
    """
    state: CSAgentState = {
        "content": content if isinstance(content, str) else ("" if content is None else str(content)),
        "title": title if isinstance(title, str) else "",
        "product_name": product_name if isinstance(product_name, str) else "",
        "product_id": product_id if isinstance(product_id, str) else "",
        "facts": facts if isinstance(facts, InquiryFacts) else InquiryFacts(now=datetime.now(UTC)),
        "item_ids": tuple(str(i) for i in item_ids or ()),
        "backend": _backend_of(context),
        "risk_hits": [],
        "trace": [],
        "error": None,
    }
    for name, step in STEPS:
        started = time.perf_counter()
        try:
            record = step(state, context)
        except Exception as exc:  # one bad inquiry or rule must not stop a batch: error-path result instead
            logger.exception("agent-step-failed step=%s", name)
            state["error"] = f"{name}: {type(exc).__name__}: {str(exc)[:200]}"
            state["reason"] = Reason.AGENT_ERROR
            state["reason_detail"] = f"Step {name} failed"
            state["trace"].append({"step": name, "ms": _ms(started), "error": type(exc).__name__})
            break
        state["trace"].append({"step": name, "ms": _ms(started), **record})
        if state.get("stop"):
            break
    result = finalize(state)
    result = dataclasses.replace(
        result, trace=[*result.trace, {"step": "finalize", "reason": result.reason, "needs_human": result.needs_human}]
    )
    logger.debug(
        "agent-decision intent=%s confidence=%.3f reason=%s backend=%s",
        result.intent,
        result.confidence,
        result.reason,
        result.backend,
    )
    return result


def _backend_of(context: object) -> str:
    # Read defensively: a broken context must still give a well-formed (error-path) result.
    backend = getattr(context, "backend", BACKEND_RULES)
    return backend if backend in BACKENDS else BACKEND_RULES


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
