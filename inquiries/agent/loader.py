"""Build an :class:`AgentContext` from the database (with labels.py, the only Django-aware agent module).

Reads active intents (patterns), knowledge entries, risk keywords and the backend choice, once per
:data:`CACHE_TTL_SECONDS` per process: ops edits in the admin take effect within that time without a
restart, and a batch of thousands of inquiries costs one set of queries. :func:`clear_cache` drops
it at once (tests, and admin saves that want the change to apply immediately).

Safety floor: the guide's rollback keywords (법적, 소비자원, 클레임) are always scanned, even if
someone deactivated or deleted them, because the guide's monitor treats every inquiry containing
them as an incident when it is auto-sent.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from inquiries.agent.classify import IntentRule
from inquiries.agent.confidence import NO_CALIBRATION, AnswerCalibration
from inquiries.agent.context import BACKEND_RULES, BACKENDS, AgentContext
from inquiries.agent.knowledge import KnowledgeEntry
from inquiries.agent.llm import LLMConfig
from inquiries.agent.past_answers import PastAnswerIndex
from inquiries.agent.risk import PERSON_CATEGORIES, RISK_CATEGORIES, RiskTerm
from inquiries.agent.seed_data import GUIDE_RISK_TERMS, RISK_KEYWORDS
from inquiries.agent.textmodel import AgentModelArtifact

logger = logging.getLogger("partialauto.agent")

CACHE_TTL_SECONDS = 30.0


@dataclass
class _Loaded:
    base: AgentContext
    loaded_at: float
    models: dict[str | None, tuple[int, AgentModelArtifact]] = field(default_factory=dict)  # account id → active
    past_answers: PastAnswerIndex | None = None
    answer_calibration: AnswerCalibration = NO_CALIBRATION
    contexts: dict[tuple[str | None, str], AgentContext] = field(default_factory=dict)


# Parsed model versions, kept across reloads (a version's artifact never changes).
_artifacts: dict[int, AgentModelArtifact] = {}


_lock = threading.Lock()
_cache: _Loaded | None = None


def clear_cache() -> None:
    global _cache
    with _lock:
        _cache = None


def _terms(categories: tuple[str, ...]) -> list[RiskTerm]:
    from inquiries.hooks import hooks

    return [
        RiskTerm(term, category, variants if isinstance(variants, list) else [])
        for term, category, variants in hooks.keyword_rows(categories)
    ]


def _person_terms() -> list[RiskTerm]:
    return _terms(PERSON_CATEGORIES)


def _risk_terms() -> list[RiskTerm]:
    terms = _terms(RISK_CATEGORIES)
    present = {t.term for t in terms}
    for seed in RISK_KEYWORDS:
        if seed["term"] in GUIDE_RISK_TERMS and seed["term"] not in present:
            logger.warning("risk-floor-term-restored term=%s", seed["term"])
            terms.append(RiskTerm(seed["term"], seed["category"], seed["variants"]))
    return terms


def risk_terms() -> list[RiskTerm]:
    """The risk keywords the agent scans with, read now (not cached), the safety floor included."""
    return _risk_terms()


def _intent_rules() -> list[IntentRule]:
    from inquiries.models import Intent

    return [
        IntentRule(name, patterns if isinstance(patterns, list) else [])
        for name, patterns in Intent.objects.filter(is_active=True)
        .order_by("sort_order", "name")
        .values_list("name", "patterns")
    ]


def _knowledge() -> list[KnowledgeEntry]:
    from inquiries.models import KnowledgeEntry as KnowledgeEntryModel

    rows = (
        KnowledgeEntryModel.objects.filter(is_active=True, intent__is_active=True)
        .select_related("intent", "account")
        .order_by("-priority", "pk")
    )
    return [
        KnowledgeEntry(
            id=str(row.pk),
            intent=row.intent.name,
            title=row.title,
            keywords=row.keywords if isinstance(row.keywords, list) else [],
            body=row.body,
            account_name=row.account.name if row.account else None,
            product_id=row.product_id or None,
            priority=row.priority,
            states_facts=row.states_facts,
            updated_at=row.updated_at.isoformat() if row.updated_at else None,
        )
        for row in rows
    ]


def _backend() -> str:
    from inquiries.hooks import hooks

    # No settings row yet (nothing saved in the admin): the offline rules backend.
    backend = hooks.agent_backend()
    return backend if backend in BACKENDS else BACKEND_RULES


def _llm_config() -> LLMConfig | None:
    from django.conf import settings

    base_url = getattr(settings, "CS_LLM_BASE_URL", "") or ""
    model = getattr(settings, "CS_LLM_MODEL", "") or ""
    if not (base_url and model):
        return None
    return LLMConfig(base_url=base_url, model=model, api_key=getattr(settings, "CS_LLM_API_KEY", "") or "")


def _account(account_name: str) -> tuple[str | None, str]:
    """(id, seller display name) of an account."""
    from markets.models import MarketAccount

    row = MarketAccount.objects.filter(name=account_name).values_list("id", "seller_name").first()
    return (str(row[0]), row[1] or "") if row else (None, "")


def _models() -> dict[str | None, tuple[int, AgentModelArtifact]]:
    """The active trained version of each scope (an account, or None for every account)."""
    from inquiries.models import AgentModel

    active = {}
    for version_id, version, account_id in AgentModel.objects.filter(is_active=True).values_list(
        "id", "version", "account_id"
    ):
        artifact = _artifacts.get(version_id)
        if artifact is None:
            data = AgentModel.objects.filter(pk=version_id).values_list("artifact", flat=True).first()
            if data is None:  # deleted since the listing above
                continue
            try:
                artifact = _artifacts[version_id] = AgentModelArtifact.from_bytes(bytes(data))
            except (ValueError, KeyError, OSError) as exc:  # a broken version must not stop deciding: rules
                logger.error("agent-model-unreadable version=%s error=%s", version, exc)
                continue
        active[str(account_id) if account_id else None] = (version, artifact)
    return active


_past_index: tuple[int, PastAnswerIndex] | None = None


def _past_answer_index(entries: list) -> PastAnswerIndex:
    """The index of past answers, rebuilt only when they changed (the context reloads every
    :data:`CACHE_TTL_SECONDS`; building thousands of entries takes about a second)."""
    global _past_index
    key = hash(tuple(entries))
    if _past_index is None or _past_index[0] != key:
        _past_index = (key, PastAnswerIndex(entries))
    return _past_index[1]


def _load() -> _Loaded:
    from inquiries.calibration import answer_calibration, past_answers

    base = AgentContext(
        risk_terms=_risk_terms(),
        person_terms=_person_terms(),
        intent_rules=_intent_rules(),
        knowledge=_knowledge(),
        backend=_backend(),
        llm=_llm_config(),
    ).warm()
    past_index = _past_answer_index(past_answers())
    loaded = _Loaded(
        base=base,
        loaded_at=time.monotonic(),
        models=_models(),
        past_answers=past_index,
        answer_calibration=answer_calibration(),
    )
    logger.info(
        (
            "agent-context-loaded risk_terms=%d person_terms=%d intents=%d kb_entries=%d "
            "backend=%s models=%s past_answers=%d"
        ),
        len(base.risk_terms),
        len(base.person_terms),
        len(base.intent_rules),
        len(base.knowledge),
        base.backend,
        {k or "*": v for k, (v, _a) in loaded.models.items()},
        len(past_index),
    )
    return loaded


def load_context(account_name: str | None = None, seller_name: str = "") -> AgentContext:
    """The agent context for one account, from the database, cached for :data:`CACHE_TTL_SECONDS`.

    Without a ``seller_name`` the account's own display name (``MarketAccount.seller_name``) is used
    in the answers' greeting.
    """
    global _cache
    with _lock:
        loaded = _cache
        if loaded is None or time.monotonic() - loaded.loaded_at > CACHE_TTL_SECONDS:
            loaded = _cache = _load()
        key = (account_name, seller_name)
        context = loaded.contexts.get(key)
        if context is None:
            # Same compiled matchers (cached_property values are not copied, but the compile
            # caches are keyed by the data, so this is a dictionary lookup, not a recompile).
            account_id, own_name = _account(account_name) if account_name else (None, "")
            version, artifact = loaded.models.get(account_id) or loaded.models.get(None) or (None, None)
            context = loaded.contexts[key] = loaded.base.for_account(
                account_name,
                seller_name or own_name,
                account_id=account_id,
                model=artifact,
                model_version=version,
                past_answers=loaded.past_answers,
                answer_calibration=loaded.answer_calibration,
            )
        return context
