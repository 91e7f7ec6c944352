"""The CS workflow agent: inquiry text → intent, draft, confidence and risk hits.

The core (everything except :mod:`inquiries.agent.loader`) is plain Python with the data passed
in; it never sends and never decides policy. Public API::

    from inquiries.agent import AgentContext, run_agent, seed_context
    from inquiries.agent.loader import load_context, clear_cache   # Django-aware
    from inquiries.agent.labels import reason_label                # Korean UI text for reason codes

    result = run_agent(content="배송 언제 와요?", context=load_context("coupang_main", "행복상점"))
    # {"intent", "confidence", "draft", "risk_hits", "needs_human", "reason", "reason_detail",
    #  "backend", "trace", "error"}
"""

from inquiries.agent.classify import INTENTS, Classification, IntentRule, classify
from inquiries.agent.context import AgentContext, CSAgentState, Reason, seed_context
from inquiries.agent.knowledge import KnowledgeEntry
from inquiries.agent.llm import LLMConfig
from inquiries.agent.normalize import NormalizedText, normalize
from inquiries.agent.patterns import validate_pattern
from inquiries.agent.pipeline import run_agent
from inquiries.agent.result import finalize
from inquiries.agent.risk import RISK_CATEGORIES, RiskCategory, RiskHit, RiskTerm, scan

__all__ = [
    "INTENTS",
    "RISK_CATEGORIES",
    "AgentContext",
    "CSAgentState",
    "Classification",
    "IntentRule",
    "KnowledgeEntry",
    "LLMConfig",
    "NormalizedText",
    "Reason",
    "RiskCategory",
    "RiskHit",
    "RiskTerm",
    "classify",
    "finalize",
    "normalize",
    "run_agent",
    "scan",
    "seed_context",
    "validate_pattern",
]
