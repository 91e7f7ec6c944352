"""The agent's steps, in the order they run (:data:`STEPS`): normalize, the trained model's reading, the
risk and needs-a-person screens, classify, recall, ground, draft (rules or LLM), the draft's risk scan,
and the score. Each reads and writes the state and returns its trace record."""

from __future__ import annotations

from typing import Any

from inquiries.agent import llm as llm_backend
from inquiries.agent.classify import FALLBACK_INTENT
from inquiries.agent.confidence import UNGROUNDED_KIND, prior_for
from inquiries.agent.context import BACKEND_LLM, BACKEND_RULES, AgentContext, CSAgentState, Reason, Step
from inquiries.agent.grounding import ground
from inquiries.agent.knowledge import KBMatch, placeholder_value, render
from inquiries.agent.normalize import normalize
from inquiries.agent.result import answer_kind_of, draft_facts, hits_summary
from inquiries.agent.risk import WHERE_CUSTOMER, WHERE_DRAFT, WHERE_TITLE, PersonCategory, RiskCategory, RiskHit
from inquiries.agent.scoring import model_classification, score_grounded, score_llm, score_model, score_rules
from inquiries.agent.textmodel import features

LEARNED_TERM = "learned-screen"  # the term of a hit the learned screens made (no keyword matched)

# The risk scan reads much further than the classifier: a threat in the 5000th character must
# still be seen, while anything over MAX_CHARS is not a routine question anyway.
RISK_SCAN_MAX_CHARS = 50_000
LLM_REFERENCES_PER_INTENT = 2
LLM_CANDIDATE_INTENTS = 3


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
    return {"hits": hits_summary(hits), "learned": learned}


def step_screen_person(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    """Requests only a person may grant (price, bulk, custom orders, partial refund amounts, exceptions)."""
    hits = ctx.person_scanner.scan(state["normalized"], where=WHERE_CUSTOMER) if ctx.person_terms else []
    prediction = state.get("prediction")
    learned = prediction is not None and ctx.model is not None and prediction.p_person >= ctx.model.person_threshold
    if learned and prediction is not None:
        hits.append(RiskHit(LEARNED_TERM, PersonCategory.MODEL, f"p={prediction.p_person:.2f}", WHERE_CUSTOMER))
    state["person_hits"] = hits
    return {"hits": hits_summary(hits), "learned": learned}


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
    return {"hits": hits_summary(hits)}


def step_score(state: CSAgentState, ctx: AgentContext) -> dict[str, Any]:
    result = state.get("llm_result")
    grounding = state.get("grounding")
    prediction = state.get("prediction")
    if prediction is not None and ctx.model is not None:
        kind = answer_kind_of(state, draft_facts(state))
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
