"""The CS workflow agent: inquiry → intent, draft, confidence, risk hits. It never sends and never
decides policy (policy/engine.py does, from this result).

normalize → risk scan (customer text and title) → classify → ground (answers from the order, the shipping
policy, the product's facts: :mod:`inquiries.agent.grounding`) → draft (rules or LLM, where grounding
did not answer) → risk scan (draft) → score → finalize. Every step appends a record to ``trace``; an
exception in any step ends the run on the error path. :func:`finalize` returns the same keys and types
on every path:

- ``intent`` (str): one of the configured intents, ``기타`` when unknown;
- ``confidence`` (float in [0, 1]): 0.0 on the error and empty-input paths;
- ``draft`` (str): may be empty, never contains a ``{placeholder}``;
- ``risk_hits`` (list of ``{"term", "category", "matched", "where"}``, where = customer|title|draft);
- ``needs_human`` (bool): the agent itself says a person should answer;
- ``reason`` (str): a machine code, see :class:`Reason` (Korean UI labels: inquiries.agent.labels);
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypedDict

from inquiries.agent import llm as llm_backend
from inquiries.agent.classify import FALLBACK_INTENT, Classification, IntentClassifier, IntentRule, classifier_for
from inquiries.agent.confidence import NO_CALIBRATION, UNGROUNDED_KIND, AnswerCalibration, prior_for
from inquiries.agent.facts import SOURCE_KNOWLEDGE, FactRef, InquiryFacts
from inquiries.agent.grounding import (
    NO_FACTS,
    NO_ORDER_REFERENCE,
    ORDER_LOOKUP_FAILED,
    ORDER_NEEDS_PERSON,
    ORDER_NOT_FOUND,
    Grounding,
    ground,
)
from inquiries.agent.knowledge import (
    KBMatch,
    KnowledgeBase,
    KnowledgeEntry,
    knowledge_base_for,
    placeholder_value,
    render,
)
from inquiries.agent.normalize import MAX_CHARS, NormalizedText, normalize
from inquiries.agent.past_answers import PastAnswerIndex, PastMatch
from inquiries.agent.risk import (
    WHERE_CUSTOMER,
    WHERE_DRAFT,
    WHERE_TITLE,
    PersonCategory,
    RiskCategory,
    RiskHit,
    RiskScanner,
    RiskTerm,
    scanner_for,
)
from inquiries.agent.scoring import (
    AGENT_MIN_CONFIDENCE,
    Score,
    model_classification,
    score_grounded,
    score_llm,
    score_model,
    score_rules,
)
from inquiries.agent.textmodel import AgentModelArtifact, Prediction, features

logger = logging.getLogger("partialauto.agent")

BACKEND_RULES = "rules"
BACKEND_LLM = "llm"
BACKENDS = (BACKEND_RULES, BACKEND_LLM)

LEARNED_TERM = "learned-screen"  # the term of a hit the learned screens made (no keyword matched)

# The risk scan reads much further than the classifier: a threat in the 5000th character must
# still be seen, while anything over MAX_CHARS is not a routine question anyway.
RISK_SCAN_MAX_CHARS = 50_000
LLM_REFERENCES_PER_INTENT = 2
LLM_CANDIDATE_INTENTS = 3


class Reason:
    OK = "OK"
    EMPTY_INPUT = "EMPTY_INPUT"
    INPUT_TOO_LONG = "INPUT_TOO_LONG"
    RISK_KEYWORD = "RISK_KEYWORD"
    NO_KB_MATCH = "NO_KB_MATCH"
    LOW_CONFIDENCE = "LOW_CONFIDENCE"
    LLM_NEEDS_HUMAN = "LLM_NEEDS_HUMAN"
    LLM_ERROR = "LLM_ERROR"
    LLM_INVALID_OUTPUT = "LLM_INVALID_OUTPUT"
    AGENT_ERROR = "AGENT_ERROR"
    NO_FACTS = NO_FACTS  # the draft states no fact (general guidance only)
    ORDER_NEEDS_PERSON = ORDER_NEEDS_PERSON  # the order is in a state a person must act on
    ORDER_NOT_FOUND = ORDER_NOT_FOUND  # the order the inquiry names could not be found
    ORDER_LOOKUP_FAILED = ORDER_LOOKUP_FAILED  # the marketplace could not be asked about the order
    NO_ORDER_REFERENCE = NO_ORDER_REFERENCE  # asks about their own order without naming it
    NEEDS_PERSON = "NEEDS_PERSON"  # a request only a person may grant (price, bulk, custom, partial refund…)


@dataclass(frozen=True)
class AgentContext:
    """Everything the agent needs, passed in (the core never reads the database).

    Compiled matchers are built lazily once per context and shared between contexts with the same
    data (module-level caches keyed by the data), so a context is cheap to copy per account.
    """

    risk_terms: Sequence[RiskTerm]
    intent_rules: Sequence[IntentRule]
    knowledge: Sequence[KnowledgeEntry]
    account_name: str | None = None
    seller_name: str = ""
    backend: str = BACKEND_RULES
    llm: llm_backend.LLMConfig | None = None
    person_terms: Sequence[RiskTerm] = ()  # requests only a person may grant (the needs-a-person screen)
    model: AgentModelArtifact | None = None  # the active trained version; None: the rules classifier
    model_version: int | None = None
    past_answers: PastAnswerIndex | None = None
    answer_calibration: AnswerCalibration = NO_CALIBRATION
    account_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("risk_terms", "intent_rules", "knowledge", "person_terms"):
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))

    @cached_property
    def scanner(self) -> RiskScanner:
        return scanner_for(self.risk_terms)

    @cached_property
    def person_scanner(self) -> RiskScanner:
        return scanner_for(self.person_terms)

    @cached_property
    def classifier(self) -> IntentClassifier:
        return classifier_for(self.intent_rules)

    @cached_property
    def kb(self) -> KnowledgeBase:
        return knowledge_base_for(self.knowledge)

    @cached_property
    def intents(self) -> tuple[str, ...]:
        names = list(self.classifier.intents)
        if FALLBACK_INTENT not in names:
            names.append(FALLBACK_INTENT)
        return tuple(names)

    def for_account(self, account_name: str | None, seller_name: str = "", **changes: Any) -> AgentContext:
        return replace(self, account_name=account_name, seller_name=seller_name, **changes)

    def warm(self) -> AgentContext:
        """Compile everything now (e.g. before timing a batch)."""
        _ = (self.scanner, self.person_scanner, self.classifier, self.kb, self.intents)
        return self


class CSAgentState(TypedDict, total=False):
    """The state the steps pass along (the guide's ``CSAgentState``)."""

    content: str
    title: str
    product_name: str
    product_id: str
    facts: InquiryFacts
    item_ids: tuple[str, ...]  # the marketplace item the inquiry is about (picks the right shipment box)
    grounding: Grounding
    normalized: NormalizedText  # title + content, what is classified
    features: dict[str, int]  # the text's features (the model and the past-answer search share them)
    prediction: Prediction  # the trained model's reading (when a version is active)
    risk_hits: list[RiskHit]
    person_hits: list[RiskHit]  # requests only a person may grant
    past: PastMatch | None
    classification: Classification
    kb_match: KBMatch | None
    intent: str
    draft: str
    llm_result: llm_backend.LLMResult
    score: Score
    confidence: float
    needs_human: bool
    reason: str
    reason_detail: str
    backend: str
    trace: list[dict[str, Any]]
    error: str | None
    stop: bool


Step = Callable[[CSAgentState, AgentContext], dict[str, Any]]


def _hits_summary(hits: Iterable[RiskHit]) -> list[str]:
    return sorted({f"{h.category}:{h.term}" for h in hits})


# --------------------------------------------------------------------------- steps
def step_normalize(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    content, title = state.get("content") or "", state.get("title") or ""
    combined = f"{title}\n{content}" if title.strip() else content
    state["normalized"] = normalize(combined)
    if state["normalized"].is_empty:
        state["stop"] = True
        state["reason"] = Reason.EMPTY_INPUT
        state["reason_detail"] = "The inquiry has no text after normalisation"
    return {"chars": len(state["normalized"].text), "truncated": state["normalized"].truncated}


def _features(state: CSAgentState) -> dict[str, int]:
    """The text's features for the model and the past-answer search, computed once per inquiry."""
    counts = state.get("features")
    if counts is None:
        counts = state["features"] = features(state["normalized"])
    return counts


def step_model(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    """The trained model's reading of the inquiry (intent probabilities, the learned screens)."""
    if ctx.model is None:
        return {"version": None}
    prediction = ctx.model.predict(state["normalized"], _features(state))
    state["prediction"] = prediction
    return {"version": ctx.model_version, **prediction.as_dict()}


def step_risk_customer(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    content = state["normalized"]
    has_title = bool((state.get("title") or "").strip())
    if has_title or content.truncated:  # otherwise the classifier's text *is* the whole content
        content = normalize(state.get("content") or "", max_chars=RISK_SCAN_MAX_CHARS)
    hits = ctx.scanner.scan(content, where=WHERE_CUSTOMER)
    if has_title:
        hits += ctx.scanner.scan(normalize(state["title"], max_chars=RISK_SCAN_MAX_CHARS), where=WHERE_TITLE)
    prediction = state.get("prediction")
    learned = prediction is not None and ctx.model is not None and prediction.p_risk >= ctx.model.risk_threshold
    if learned and prediction is not None:
        # The learned screen: risk in words no keyword has. Either screen firing sends it to a person.
        hits.append(RiskHit(LEARNED_TERM, RiskCategory.MODEL, f"p={prediction.p_risk:.2f}", WHERE_CUSTOMER))
    state["risk_hits"] = hits
    return {"hits": _hits_summary(hits), "learned": learned}


def step_screen_person(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    """Requests only a person may grant (price, bulk, custom orders, partial refund amounts, exceptions)."""
    hits = ctx.person_scanner.scan(state["normalized"], where=WHERE_CUSTOMER) if ctx.person_terms else []
    prediction = state.get("prediction")
    learned = prediction is not None and ctx.model is not None and prediction.p_person >= ctx.model.person_threshold
    if learned and prediction is not None:
        hits.append(RiskHit(LEARNED_TERM, PersonCategory.MODEL, f"p={prediction.p_person:.2f}", WHERE_CUSTOMER))
    state["person_hits"] = hits
    return {"hits": _hits_summary(hits), "learned": learned}


def step_recall(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    """A past question that is a near-duplicate of this one, with the answer a person sent."""
    facts = state["facts"]
    if ctx.past_answers is None or not len(ctx.past_answers) or facts.names_order:
        state["past"] = None
        return {"match": None}
    refs = ([facts.product.product_id] if facts.product else []) + [state.get("product_id") or ""]
    match = ctx.past_answers.best(
        state["normalized"],
        account_id=ctx.account_id,
        intent=state["intent"],
        product_refs=[r for r in refs if r],
        counts=_features(state),
    )
    state["past"] = match
    return {"match": None if match is None else {"inquiry": match.entry.id, "similarity": match.similarity}}


def step_classify(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    prediction = state.get("prediction")
    classification = (
        ctx.classifier.classify(state["normalized"]) if prediction is None else model_classification(prediction)
    )
    state["classification"] = classification
    state["intent"] = classification.intent
    return classification.as_dict()


def step_ground(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    grounding = ground(
        state["intent"],
        state["normalized"],
        state["normalized"].text,
        state["facts"],
        seller_name=ctx.seller_name,
        item_ids=state.get("item_ids") or (),
        past=state.get("past"),
    )
    state["grounding"] = grounding
    if grounding.draft:
        state["draft"] = grounding.draft
    return grounding.as_trace()


def _values(state: CSAgentState, ctx: AgentContext) -> dict[str, str]:
    return {"product_name": state.get("product_name") or "", "seller_name": ctx.seller_name or ""}


def _rules_draft(state: CSAgentState, ctx: AgentContext, intent: str) -> tuple[KBMatch | None, str, list[str]]:
    match = ctx.kb.best(
        intent, state["normalized"], account_name=ctx.account_name, product_id=state.get("product_id") or None
    )
    if match is None:
        return None, "", []
    draft, unknown = render(match.entry.body, _values(state, ctx))
    return match, draft, unknown


def step_draft(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    grounding = state.get("grounding")
    if grounding is not None and grounding.handled and grounding.draft:
        return {"backend": "facts", "kind": grounding.kind}  # written from facts; the knowledge base is not asked
    if state.get("backend") == BACKEND_LLM:
        return _llm_draft(state, ctx)
    match, draft, unknown = _rules_draft(state, ctx, state["intent"])
    state["kb_match"], state["draft"] = match, draft
    record: dict[str, Any] = {"backend": BACKEND_RULES, "kb": match.as_dict() if match else None}
    if unknown:
        record["unknown_placeholders"] = unknown
    return record


def _llm_references(state: CSAgentState, ctx: AgentContext) -> list[llm_backend.LLMReference]:
    """KB entries of the likeliest intents: the model's only source."""
    classification = state["classification"]
    ranked_intents = sorted(classification.scores, key=classification.scores.__getitem__, reverse=True)
    candidates = ranked_intents[:LLM_CANDIDATE_INTENTS] or [FALLBACK_INTENT]
    values = _values(state, ctx)
    references: list[llm_backend.LLMReference] = []
    for intent in candidates:
        for match in ctx.kb.ranked(
            intent, state["normalized"], account_name=ctx.account_name, product_id=state.get("product_id") or None
        )[:LLM_REFERENCES_PER_INTENT]:
            body, _unknown = render(match.entry.body, values)
            references.append(llm_backend.LLMReference(intent, match.entry.title, body))
    return references


def _llm_draft(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    config = ctx.llm or llm_backend.LLMConfig(base_url="", model="")
    result = llm_backend.generate(
        config=config,
        content=normalize(state.get("content") or "").text,
        title=normalize(state.get("title") or "").text,
        product_name=state.get("product_name") or "",
        intents=ctx.intents,
        references=_llm_references(state, ctx),
        seller_name=ctx.seller_name,
    )
    state["llm_result"] = result
    if result.ok:
        state["intent"] = result.intent
        state["kb_match"] = ctx.kb.best(
            result.intent,
            state["normalized"],
            account_name=ctx.account_name,
            product_id=state.get("product_id") or None,
        )
        state["draft"], _unknown = render(result.answer, _values(state, ctx))
    else:
        state["error"] = result.error
        # Keep the rules draft as a starting point for the person who now answers.
        state["kb_match"], state["draft"], _unknown = _rules_draft(state, ctx, state["intent"])
    match = state.get("kb_match")
    return {"backend": BACKEND_LLM, "llm": result.as_trace(), "kb": match.as_dict() if match else None}


def step_risk_draft(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    draft = state.get("draft") or ""
    # The product and seller names are ours, not the draft's wording: "화상 방지 장갑" in a product
    # name must not turn every answer about it into a safety case. The customer scan still sees them.
    for raw in _values(state, ctx).values():
        value = placeholder_value(raw)
        if value:
            draft = draft.replace(value, " ")
    grounding = state.get("grounding")
    for sentence in grounding.seller_text if grounding is not None else ():
        draft = draft.replace(sentence, " ")
    hits = ctx.scanner.scan_cached(draft, where=WHERE_DRAFT, max_chars=RISK_SCAN_MAX_CHARS) if draft.strip() else []
    state["risk_hits"] = [*state.get("risk_hits", []), *hits]
    return {"hits": _hits_summary(hits)}


def step_score(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    result = state.get("llm_result")
    grounding = state.get("grounding")
    prediction = state.get("prediction")
    if prediction is not None and ctx.model is not None:
        kind = _answer_kind(state, _facts(state))
        coverage = grounding.p_answer if grounding is not None and grounding.kind == "product_facts" else None
        prior = prior_for(kind, coverage)
        factor, source = (
            ctx.answer_calibration.factor(account_id=ctx.account_id, intent=state["intent"], kind=kind, prior=prior)
            if kind
            else (prior, "ungrounded")
        )
        score = score_model(
            prediction, ctx.model, kind=kind or UNGROUNDED_KIND, prior=prior, answer_factor=factor, answer_source=source
        )
    elif grounding is not None and grounding.handled and not grounding.needs_person:
        score = score_grounded(
            state["classification"],
            grounding.p_answer,
            state["normalized"],
            order_facts=grounding.kind == "order_status",
        )
    elif result is not None and result.ok:
        score = score_llm(
            llm_confidence=result.confidence,
            llm_intent=result.intent,
            classification=state["classification"],
            kb=state.get("kb_match"),
            text=state["normalized"],
        )
    else:
        score = score_rules(state["classification"], state.get("kb_match"), state["normalized"])
    state["score"] = score
    state["confidence"] = score.confidence
    return score.as_dict()


STEPS: tuple[tuple[str, Step], ...] = (
    ("normalize", step_normalize),
    ("model", step_model),
    ("risk_customer", step_risk_customer),
    ("screen_person", step_screen_person),
    ("classify", step_classify),
    ("recall", step_recall),
    ("ground", step_ground),
    ("draft", step_draft),
    ("risk_draft", step_risk_draft),
    ("score", step_score),
)


# --------------------------------------------------------------------------- finalize
def _decide(state: CSAgentState) -> tuple[bool, str, str]:
    """(needs_human, reason, detail), most important reason first."""
    if state.get("reason") == Reason.AGENT_ERROR:
        return True, Reason.AGENT_ERROR, state.get("reason_detail") or str(state.get("error"))
    if state.get("reason") == Reason.EMPTY_INPUT:
        return True, Reason.EMPTY_INPUT, state.get("reason_detail", "")
    hits = state.get("risk_hits") or []
    if hits:
        where = sorted({h.where for h in hits})
        return True, Reason.RISK_KEYWORD, f"Risk keyword(s) in {'/'.join(where)}: {', '.join(_hits_summary(hits))}"
    person = state.get("person_hits") or []
    if person:
        return True, Reason.NEEDS_PERSON, f"Only a person may grant this: {', '.join(_hits_summary(person))}"
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
    if not _facts(state):
        return True, Reason.NO_FACTS, "The draft states no fact (general guidance only)"
    return False, Reason.OK, f"Intent {state.get('intent')} with confidence {score.confidence:.2f}"


def _facts(state: CSAgentState) -> list[FactRef]:
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


def _answer_kind(state: CSAgentState, facts: list[FactRef]) -> str:
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
        """The result as the JSON the decision trace stores."""
        return dataclasses.asdict(self)


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
        facts = [] if errored else _facts(state)
        kind, fingerprint = _answer_kind(state, facts), _order_fingerprint(state)
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


def seed_context(
    *,
    account_name: str | None = None,
    seller_name: str = "",
    backend: str = BACKEND_RULES,
    llm: llm_backend.LLMConfig | None = None,
) -> AgentContext:
    """A context built from :mod:`inquiries.agent.seed_data` (tests, simulation, a first run)."""
    from inquiries.agent import seed_data

    return AgentContext(
        risk_terms=[
            RiskTerm(k["term"], k["category"], k["variants"])
            for k in seed_data.RISK_KEYWORDS + seed_data.MORE_RISK_KEYWORDS
        ],
        person_terms=[RiskTerm(k["term"], k["category"], k["variants"]) for k in seed_data.PERSON_KEYWORDS],
        intent_rules=[IntentRule(intent, patterns) for intent, patterns in seed_data.INTENT_PATTERNS.items()],
        knowledge=[
            KnowledgeEntry(
                id=f"seed-{i}",
                intent=k["intent"],
                title=k["title"],
                keywords=k["keywords"],
                body=k["body"],
                priority=k["priority"],
                states_facts=k.get("states_facts", True),
            )
            for i, k in enumerate(seed_data.STARTER_KNOWLEDGE_BASE, start=1)
        ],
        account_name=account_name,
        seller_name=seller_name,
        backend=backend,
        llm=llm,
    )
