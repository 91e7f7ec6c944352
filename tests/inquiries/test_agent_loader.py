"""inquiries.agent.loader: the agent context from the database, cached per process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import override_settings

from inquiries.agent import loader
from inquiries.agent.context import seed_context
from inquiries.agent.pipeline import run_agent
from inquiries.agent.seed_data import (
    INTENT_PATTERNS,
    MORE_RISK_KEYWORDS,
    PERSON_KEYWORDS,
    RISK_KEYWORDS,
    STARTER_KNOWLEDGE_BASE,
)
from inquiries.models import AgentModel, Intent, KnowledgeEntry
from policy.models import AutomationSettings, RiskKeyword
from tests.factories import make_account

pytestmark = pytest.mark.django_db

EVAL_FILE = Path(__file__).resolve().parents[1] / "data" / "eval_inquiries.jsonl"


@pytest.fixture(autouse=True)
def fresh_cache():
    loader.clear_cache()
    yield
    loader.clear_cache()


@pytest.fixture(autouse=True)
def bare_agent_tables(fresh_cache):
    """These tests build the agent's tables row by row: start from what the migrations seeded, emptied."""
    KnowledgeEntry.objects.all().delete()
    RiskKeyword.objects.all().delete()
    Intent.objects.update(patterns=[])


def test_migrations_seed_the_same_data_as_seed_data(django_db_blocker):
    """The data migration copies seed_data into the tables (checked on a fresh import of its function)."""
    import importlib

    from django.apps import apps

    importlib.import_module("inquiries.migrations.0004_seed_agent_data").seed(apps, None)
    assert KnowledgeEntry.objects.count() == len(STARTER_KNOWLEDGE_BASE)
    assert set(RiskKeyword.objects.values_list("term", flat=True)) == {k["term"] for k in RISK_KEYWORDS}
    assert all(Intent.objects.get(name=name).patterns == list(p) for name, p in INTENT_PATTERNS.items())


def load_seed_into_db() -> None:
    """What the data migration does with seed_data (the same three tables)."""
    for intent, patterns in INTENT_PATTERNS.items():
        Intent.objects.update_or_create(name=intent, defaults={"patterns": patterns, "is_active": True})
    for k in RISK_KEYWORDS + MORE_RISK_KEYWORDS + PERSON_KEYWORDS:
        RiskKeyword.objects.update_or_create(
            term=k["term"], defaults={"category": k["category"], "variants": k["variants"]}
        )
    for k in STARTER_KNOWLEDGE_BASE:
        KnowledgeEntry.objects.create(
            intent=Intent.objects.get(name=k["intent"]),
            title=k["title"],
            keywords=k["keywords"],
            body=k["body"],
            priority=k["priority"],
            states_facts=k.get("states_facts", True),
        )


def test_load_context__reads_active_rows_and_scopes_entries_by_account():
    Intent.objects.filter(name="배송문의").update(patterns=["배송", "택배", "언제"])
    delivery = Intent.objects.get(name="배송문의")
    account = make_account("coupang_main")
    KnowledgeEntry.objects.create(
        intent=delivery, title="일반", keywords=["배송", "언제"], body="{seller_name}입니다. 일반 답변"
    )
    KnowledgeEntry.objects.create(
        intent=delivery, title="계정", keywords=["배송"], body="{seller_name}입니다. 쿠팡 메인 답변", account=account
    )
    KnowledgeEntry.objects.create(
        intent=delivery, title="꺼짐", keywords=["배송", "언제", "택배"], body="쓰면 안 됨", is_active=False
    )
    RiskKeyword.objects.create(term="고소~", category="LEGAL", variants=["re:고소(?:하겠|할게)"])

    ctx = loader.load_context("coupang_main", "행복상점")

    assert ctx.account_name == "coupang_main" and ctx.seller_name == "행복상점" and ctx.backend == "rules"
    assert run_agent(content="배송 언제 와요", context=ctx).draft == "행복상점입니다. 쿠팡 메인 답변"
    other = loader.load_context("naver_main")
    assert run_agent(content="배송 언제 와요", context=other).draft == "저희 스토어입니다. 일반 답변"
    assert run_agent(content="고소하겠습니다", context=ctx).reason == "RISK_KEYWORD"
    assert run_agent(content="고소한 맛이에요 배송 언제 와요", context=ctx).risk_hits == []


def test_load_context__seller_name_defaults_to_the_accounts_display_name():
    make_account("coupang_sub", seller_name="행복상점 본점")
    Intent.objects.filter(name="배송문의").update(patterns=["배송"])
    KnowledgeEntry.objects.create(
        intent=Intent.objects.get(name="배송문의"), title="t", keywords=[], body="{seller_name}입니다."
    )
    assert run_agent(content="배송", context=loader.load_context("coupang_sub")).draft == "행복상점 본점입니다."
    assert run_agent(content="배송", context=loader.load_context("coupang_sub", "특가몰")).draft == "특가몰입니다."


def test_reason_labels__cover_every_reason_code():
    from inquiries.agent.context import Reason
    from inquiries.agent.labels import REASON_LABELS, reason_label

    codes = {v for k, v in vars(Reason).items() if k.isupper()}
    assert set(REASON_LABELS) == codes and reason_label("OK") == "자동 답변 가능"


def test_load_context__cached_until_cleared_or_expired(monkeypatch):
    first = loader.load_context("a")
    assert loader.load_context("a") is first

    # a change made by another process (no save signal here): cached within the TTL
    def keywords(content: str) -> set[str]:  # (the learned screen may fire too: not what is cached here)
        return {hit["term"] for hit in run_agent(content=content, context=loader.load_context("a")).risk_hits}

    RiskKeyword.objects.bulk_create([RiskKeyword(term="내용증명", category="LEGAL", variants=[])])
    assert "내용증명" not in keywords("내용증명 보냅니다")
    loader.clear_cache()
    assert "내용증명" in keywords("내용증명 보냅니다")
    RiskKeyword.objects.bulk_create([RiskKeyword(term="변호사", category="LEGAL", variants=[])])
    monkeypatch.setattr(loader, "CACHE_TTL_SECONDS", 0.0)
    assert "변호사" in keywords("변호사랑 상의할게요")


def test_load_context__a_save_in_this_process_applies_at_once():
    loader.load_context("a")
    RiskKeyword.objects.create(term="내용증명", category="LEGAL", variants=[])
    assert run_agent(content="내용증명 보냅니다", context=loader.load_context("a")).reason == "RISK_KEYWORD"


def test_load_context__guide_keywords_are_a_floor():
    RiskKeyword.objects.filter(term="클레임").update(is_active=False)
    RiskKeyword.objects.filter(term="소비자원").delete()
    ctx = loader.load_context()
    assert run_agent(content="클레임 걸게요", context=ctx).reason == "RISK_KEYWORD"
    assert run_agent(content="소비자원에 물어볼게요", context=ctx).reason == "RISK_KEYWORD"


@override_settings(CS_LLM_BASE_URL="http://127.0.0.1:9/v1", CS_LLM_MODEL="m", CS_LLM_API_KEY="sk-loader-secret")
def test_load_context__backend_and_llm_settings():
    AutomationSettings.objects.update_or_create(pk=1, defaults={"agent_backend": "llm"})
    ctx = loader.load_context()
    assert ctx.backend == "llm" and ctx.llm is not None and ctx.llm.model == "m"
    assert "sk-loader-secret" not in repr(ctx)


def test_load_context__llm_selected_but_not_configured__every_inquiry_goes_to_a_person():
    AutomationSettings.objects.update_or_create(pk=1, defaults={"agent_backend": "llm"})
    with override_settings(CS_LLM_BASE_URL="", CS_LLM_MODEL=""):
        result = run_agent(content="배송 언제 와요", context=loader.load_context())
    assert result.needs_human and result.reason == "LLM_ERROR"


def test_seed_data_through_the_database__decides_like_the_seed_context():
    """The rules path (the seed context has no trained model): the shipped version is switched off."""
    AgentModel.objects.update(is_active=False)
    load_seed_into_db()
    from_db = loader.load_context(seller_name="행복상점")
    from_seed = seed_context(seller_name="행복상점")
    rows = [json.loads(line) for line in EVAL_FILE.read_text(encoding="utf-8").splitlines()[:80]]
    for row in rows:
        a = run_agent(content=row["content"], context=from_db)
        b = run_agent(content=row["content"], context=from_seed)
        assert (a.intent, a.reason, a.draft, a.confidence) == (
            b.intent,
            b.reason,
            b.draft,
            b.confidence,
        )
