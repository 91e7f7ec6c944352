"""inquiries.agent.pipeline: the whole agent run, its result schema and its error paths."""

from __future__ import annotations

import json
import time

import pytest

from inquiries.agent import pipeline
from inquiries.agent.context import AgentContext, seed_context
from inquiries.agent.knowledge import KnowledgeEntry
from inquiries.agent.pipeline import run_agent
from inquiries.agent.result import AgentResult, finalize
from tests.inquiries.agent_context import policy_facts

SCHEMA = {
    "intent": str,
    "confidence": float,
    "draft": str,
    "risk_hits": list,
    "needs_human": bool,
    "reason": str,
    "reason_detail": str,
    "backend": str,
    "trace": list,
    "error": (str, type(None)),
    "facts": list,
    "person_hits": list,
    "model_version": (int, type(None)),
    "grounded": bool,
    "answer_kind": str,
    "order_fingerprint": str,
}


@pytest.fixture(scope="module")
def ctx() -> AgentContext:
    return seed_context(account_name="coupang_main", seller_name="행복상점").warm()


def assert_schema(result: AgentResult) -> None:
    stored = result.as_trace()
    assert set(stored) == set(SCHEMA)
    for key, kind in SCHEMA.items():
        assert isinstance(stored[key], kind), (key, stored[key])
    assert 0.0 <= result.confidence <= 1.0
    assert all(set(hit) == {"term", "category", "matched", "where"} for hit in result.risk_hits)
    assert all(set(fact) == {"source", "id", "fetched_at", "detail"} for fact in result.facts)
    json.dumps(stored, ensure_ascii=False)  # stored as the decision trace


def test_finalize_return_schema_consistency(ctx, monkeypatch):
    """The guide's Test 3: the same keys and types on the answerable, needs-human and error paths."""
    answerable = run_agent(
        content="배송 보통 며칠 걸리나요? 언제 도착하는지 궁금해요", context=ctx, facts=policy_facts()
    )
    needs_human = run_agent(content="답변 안 주면 소비자원에 신고하겠습니다", context=ctx)
    empty = run_agent(content="\x00" * 10, context=ctx)

    def broken(state, context):
        raise RuntimeError("classifier exploded")

    monkeypatch.setattr(pipeline, "STEPS", tuple((n, broken if n == "classify" else s) for n, s in pipeline.STEPS))
    error = run_agent(content="배송 언제 와요", context=ctx)

    assert not answerable.needs_human and answerable.reason == "OK" and answerable.draft
    assert needs_human.needs_human and needs_human.reason == "RISK_KEYWORD"
    assert empty.needs_human and empty.reason == "EMPTY_INPUT"
    assert error.needs_human and error.reason == "AGENT_ERROR" and "classifier exploded" in error.error
    assert error.confidence == 0.0
    for result in (answerable, needs_human, empty, error):
        assert_schema(result)
    assert answerable.error is None and needs_human.error is None


def test_finalize__on_an_empty_state__still_returns_the_schema():
    result = finalize({})
    assert_schema(result)
    assert result.needs_human and result.reason == "AGENT_ERROR"


@pytest.mark.parametrize("content", [None, "", " ", 12345, "😊" * 50, "\ud800 broken surrogate", "가\x00나\x1b[31m다"])
def test_run_agent__odd_input__never_raises(ctx, content):
    assert_schema(run_agent(content=content, context=ctx))  # type: ignore[arg-type]


def test_run_agent__broken_context__error_path_not_exception():
    result = run_agent(content="배송 언제 와요", context=None)  # type: ignore[arg-type]
    assert_schema(result)
    assert result.reason == "AGENT_ERROR" and result.error


def test_run_agent__answerable__fills_the_draft(ctx):
    result = run_agent(
        content="택배사 어디 쓰세요? 배송비는 얼마인가요", product_name="무선 청소기", context=ctx, facts=policy_facts()
    )
    assert result.intent == "배송문의" and result.reason == "OK"
    assert result.draft.startswith("안녕하세요, 고객님. 행복상점입니다.")
    assert "{" not in result.draft


def test_run_agent__risk_in_the_title__is_reported_from_the_title(ctx):
    result = run_agent(content="환불 언제 되나요", title="소비자원 신고 예정", context=ctx)
    assert result.reason == "RISK_KEYWORD"
    assert {h["where"] for h in result.risk_hits} == {"title"}


def test_run_agent__risk_word_in_the_draft__needs_a_person(ctx):
    risky_kb = [
        KnowledgeEntry(
            id="k1", intent="배송문의", title="t", keywords=["배송"], body="늦어진 만큼 보상해 드리겠습니다."
        )
    ]
    context = AgentContext(ctx.risk_terms, ctx.intent_rules, risky_kb)
    result = run_agent(content="배송 언제 와요", context=context)
    assert result.needs_human and result.reason == "RISK_KEYWORD"
    assert [h["where"] for h in result.risk_hits] == ["draft"]


def test_run_agent__product_name_is_not_draft_wording(ctx):
    # "화상 방지 장갑" in the product name must not make every answer about it a safety case …
    result = run_agent(
        content="세탁기에 빨아도 되나요? 세탁 방법 알려주세요", product_name="화상 방지 주방장갑", context=ctx
    )
    assert result.risk_hits == [] and "화상 방지 주방장갑" in result.draft
    # … while the customer's own words are always scanned.
    assert run_agent(content="장갑 끼고도 화상 입었어요", product_name="주방장갑", context=ctx).reason == "RISK_KEYWORD"


def test_run_agent__no_knowledge_entry__low_confidence_and_a_person(ctx):
    context = AgentContext(ctx.risk_terms, ctx.intent_rules, [])
    result = run_agent(content="배송 언제 와요", context=context)
    assert result.needs_human and result.reason == "NO_KB_MATCH" and result.confidence < 0.5


def test_run_agent__unclassifiable__a_person(ctx):
    result = run_agent(content="ㅎㅎㅎ", context=ctx)
    assert result.needs_human and result.confidence < 0.5


def test_run_agent__too_long__a_person_but_the_whole_text_is_scanned(ctx):
    long_routine = "배송 언제 와요. " * 600
    assert run_agent(content=long_routine, context=ctx).reason == "INPUT_TOO_LONG"
    threat_at_the_end = "배송 언제 와요. " * 2000 + "소비자원에 신고합니다"
    assert run_agent(content=threat_at_the_end, context=ctx).reason == "RISK_KEYWORD"


def test_run_agent__product_specific_entry_is_used(ctx):
    entries = [
        *ctx.knowledge,
        KnowledgeEntry(
            id="p",
            intent="사용법",
            title="전용",
            keywords=["세탁"],
            body="이 상품 전용 세탁 안내입니다.",
            product_id="P-1",
        ),
    ]
    context = AgentContext(ctx.risk_terms, ctx.intent_rules, entries)
    assert (
        run_agent(content="세탁 어떻게 해요", product_id="P-1", context=context).draft
        == "이 상품 전용 세탁 안내입니다."
    )
    assert (
        run_agent(content="세탁 어떻게 해요", product_id="P-2", context=context).draft
        != "이 상품 전용 세탁 안내입니다."
    )


def test_trace__records_every_step_without_customer_text(ctx):
    result = run_agent(content="교환하고 싶어요 사이즈가 작아요 010-9999-8888", context=ctx)
    steps = [record["step"] for record in result.trace]
    assert steps == [
        "normalize",
        "model",
        "risk_customer",
        "screen_person",
        "classify",
        "recall",
        "ground",
        "draft",
        "risk_draft",
        "score",
        "finalize",
    ]
    assert "사이즈가 작아요" not in json.dumps(result.trace, ensure_ascii=False)


def test_contexts_for_different_accounts__share_compiled_matchers(ctx):
    other = ctx.for_account("naver_main", "다른상점")
    assert other.scanner is ctx.scanner and other.classifier is ctx.classifier and other.kb is ctx.kb


def test_speed__the_rules_pipeline_is_fast(ctx):
    # A smoke bound far below what it does (~2–3k decisions/s), to catch pathological regexes.
    texts = ["배송 언제 와요?", "사이즈 교환하고 싶어요", "환불 언제 되나요", "세탁기 돌려도 되나요"] * 100
    started = time.perf_counter()
    for text in texts:
        run_agent(content=text, context=ctx)
    assert len(texts) / (time.perf_counter() - started) > 200


def test_recall__a_near_duplicate_about_the_same_product_gets_the_answer_a_person_sent(ctx):
    """The recall step with the inquiry's product known: the person's answer for that product is reused,
    one written for another product is not."""
    import dataclasses
    import datetime as dt

    from inquiries.agent.facts import InquiryFacts, ProductFact, ProductFacts
    from inquiries.agent.past_answers import PastAnswer, past_answer_index

    question = "이 텀블러 식기세척기에 넣어도 되나요?"
    answer = "본체는 식기세척기 사용이 가능하고 뚜껑 패킹은 손세척을 권장드립니다."
    product = ProductFacts("P-100", "스테인리스 텀블러", (ProductFact("1", "용량 500ml"),))
    now = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)
    alone = run_agent(content=question, context=ctx, facts=InquiryFacts(now=now, product=product))
    assert alone.reason == "NO_FACTS"  # no product fact answers it: a person
    entry = PastAnswer("41", None, ("P-100",), alone.intent, question, answer, "2026-11-30T01:00:00+00:00")
    context = dataclasses.replace(ctx, past_answers=past_answer_index([entry]))

    same = run_agent(content=question, context=context, facts=InquiryFacts(now=now, product=product))
    other = run_agent(
        content=question,
        context=context,
        facts=InquiryFacts(now=now, product=dataclasses.replace(product, product_id="P-200")),
    )

    assert_schema(same)
    assert_schema(other)
    assert same.error is None and same.answer_kind == "past_answer" and same.draft.startswith(answer[:20])
    assert [f["source"] for f in same.facts][:1] == ["past_answer"]
    assert other.error is None and other.answer_kind != "past_answer"


def test_risk_draft__the_sellers_own_fact_sentences_are_not_the_drafts_wording(ctx):
    """A manual's warning quoted from a product fact is no incident; a buyer describing one still is."""
    import datetime as dt

    from inquiries.agent.facts import InquiryFacts, ProductFact, ProductFacts

    product = ProductFacts(
        "P-7",
        "진공 텀블러",
        (
            ProductFact(
                "1", "끓는 물을 바로 부어도 되지만, 넘치거나 화상을 입지 않도록 입구에서 2cm 아래까지만 채웁니다."
            ),
            ProductFact("2", "용량은 500ml입니다."),
        ),
    )
    facts = InquiryFacts(now=dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC), product=product)
    asked = run_agent(content="끓는 물을 바로 넣어도 되나요?", context=ctx, facts=facts)
    assert asked.answer_kind == "product_facts" and "화상을 입지 않도록" in asked.draft
    assert asked.risk_hits == [] and asked.reason != "RISK_KEYWORD"
    hurt = run_agent(content="끓는 물 부었다가 화상을 입었어요", context=ctx, facts=facts)
    assert hurt.reason == "RISK_KEYWORD" and {h["where"] for h in hurt.risk_hits} == {"customer"}
