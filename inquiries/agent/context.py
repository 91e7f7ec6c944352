"""What an agent run works with: the backends, the reason codes, the context (the data passed in, with
its compiled matchers), the state the steps pass along, and a context built from the seed data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, TypedDict

from inquiries.agent import llm as llm_backend
from inquiries.agent.classify import FALLBACK_INTENT, Classification, IntentClassifier, IntentRule, classifier_for
from inquiries.agent.confidence import NO_CALIBRATION, AnswerCalibration
from inquiries.agent.facts import InquiryFacts
from inquiries.agent.grounding_result import (
    NO_FACTS,
    NO_ORDER_REFERENCE,
    ORDER_LOOKUP_FAILED,
    ORDER_NEEDS_PERSON,
    ORDER_NOT_FOUND,
    Grounding,
)
from inquiries.agent.knowledge import KBMatch, KnowledgeBase, KnowledgeEntry, knowledge_base_for
from inquiries.agent.normalize import NormalizedText
from inquiries.agent.past_answers import PastAnswerIndex, PastMatch
from inquiries.agent.risk import RiskHit, RiskScanner, RiskTerm, scanner_for
from inquiries.agent.scoring import Score
from inquiries.agent.textmodel import AgentModelArtifact, Prediction

BACKEND_RULES = "rules"
BACKEND_LLM = "llm"
BACKENDS = (BACKEND_RULES, BACKEND_LLM)


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
