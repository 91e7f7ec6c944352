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
from inquiries.agent.knowledge import KnowledgeEntry
from inquiries.agent.llm import LLMConfig
from inquiries.agent.pipeline import BACKEND_RULES, BACKENDS, AgentContext
from inquiries.agent.risk import RiskTerm
from inquiries.agent.seed_data import GUIDE_RISK_TERMS, RISK_KEYWORDS

logger = logging.getLogger("partialauto.agent")

CACHE_TTL_SECONDS = 30.0


@dataclass
class _Loaded:
    base: AgentContext
    loaded_at: float
    contexts: dict[tuple[str | None, str], AgentContext] = field(default_factory=dict)


_lock = threading.Lock()
_cache: _Loaded | None = None


def clear_cache() -> None:
    global _cache
    with _lock:
        _cache = None


def _risk_terms() -> list[RiskTerm]:
    from policy.models import RiskKeyword

    terms = [
        RiskTerm(term, category, variants if isinstance(variants, list) else [])
        for term, category, variants in RiskKeyword.objects.filter(is_active=True).values_list("term", "category", "variants")
    ]
    present = {t.term for t in terms}
    for seed in RISK_KEYWORDS:
        if seed["term"] in GUIDE_RISK_TERMS and seed["term"] not in present:
            logger.warning("risk-floor-term-restored term=%s", seed["term"])
            terms.append(RiskTerm(seed["term"], seed["category"], seed["variants"]))
    return terms


def _intent_rules() -> list[IntentRule]:
    from inquiries.models import Intent

    return [
        IntentRule(name, patterns if isinstance(patterns, list) else [])
        for name, patterns in Intent.objects.filter(is_active=True).order_by("sort_order", "name").values_list("name", "patterns")
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
            account_name=row.account.name if row.account_id else None,
            product_id=row.product_id or None,
            priority=row.priority,
            states_facts=row.states_facts,
            updated_at=row.updated_at.isoformat() if row.updated_at else None,
        )
        for row in rows
    ]


def _backend() -> str:
    from policy.models import AutomationSettings

    # No settings row yet (nothing saved in the admin): the offline rules backend.
    backend = AutomationSettings.objects.filter(pk=1).values_list("agent_backend", flat=True).first()
    return backend if backend in BACKENDS else BACKEND_RULES


def _llm_config() -> LLMConfig | None:
    from django.conf import settings

    base_url = getattr(settings, "CS_LLM_BASE_URL", "") or ""
    model = getattr(settings, "CS_LLM_MODEL", "") or ""
    if not (base_url and model):
        return None
    return LLMConfig(base_url=base_url, model=model, api_key=getattr(settings, "CS_LLM_API_KEY", "") or "")


def _seller_name(account_name: str) -> str:
    from markets.models import MarketAccount

    return MarketAccount.objects.filter(name=account_name).values_list("seller_name", flat=True).first() or ""


def _load() -> _Loaded:
    base = AgentContext(
        risk_terms=_risk_terms(),
        intent_rules=_intent_rules(),
        knowledge=_knowledge(),
        backend=_backend(),
        llm=_llm_config(),
    ).warm()
    logger.info(
        "agent-context-loaded risk_terms=%d intents=%d kb_entries=%d backend=%s",
        len(base.risk_terms), len(base.intent_rules), len(base.knowledge), base.backend,
    )
    return _Loaded(base=base, loaded_at=time.monotonic())


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
            seller = seller_name or (_seller_name(account_name) if account_name else "")
            context = loaded.contexts[key] = loaded.base.for_account(account_name, seller)
        return context
