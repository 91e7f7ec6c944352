"""inquiries.agent.seed_data: the starter data is usable as shipped."""

from __future__ import annotations

import re
from collections import Counter

from inquiries.agent.classify import INTENTS
from inquiries.agent.context import seed_context
from inquiries.agent.knowledge import PLACEHOLDER_DEFAULTS, render
from inquiries.agent.patterns import validate_pattern
from inquiries.agent.seed_data import INTENT_PATTERNS, RISK_KEYWORDS, STARTER_KNOWLEDGE_BASE

POLICY_MAX_ANSWER_CHARS = 1000  # policy/engine.py answer check


def test_every_pattern_and_keyword_is_valid():
    sources = [p for patterns in INTENT_PATTERNS.values() for p in patterns]
    sources += [v for k in RISK_KEYWORDS for v in k["variants"]]
    sources += [kw for e in STARTER_KNOWLEDGE_BASE for kw in e["keywords"]]
    assert [s for s in sources if validate_pattern(s)] == []


def test_two_to_five_answers_per_intent():
    counts = Counter(e["intent"] for e in STARTER_KNOWLEDGE_BASE)
    assert set(counts) == set(INTENTS)
    assert all(2 <= n <= 5 for n in counts.values()), counts


def test_answers_use_only_known_placeholders_and_fit_the_marketplace_limit():
    for e in STARTER_KNOWLEDGE_BASE:
        assert set(re.findall(r"\{(\w+)\}", e["body"])) <= set(PLACEHOLDER_DEFAULTS), e["title"]
        text, unknown = render(e["body"], {"seller_name": "행복상점", "product_name": "가" * 80})
        assert not unknown and len(text) <= POLICY_MAX_ANSWER_CHARS, e["title"]
        assert text.startswith("안녕하세요, 고객님. 행복상점입니다.")


def test_answers_never_trip_the_draft_risk_scan():
    # Every draft is scanned too: a starter answer containing a risk word would send every inquiry of
    # its intent to a person.
    scanner = seed_context().scanner
    for e in STARTER_KNOWLEDGE_BASE:
        text, _unknown = render(e["body"], {})
        assert scanner.scan(text, where="draft") == [], e["title"]
