"""Risk keywords edited in the admin: broken patterns refused, new keywords effective at once."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inquiries.agent.loader import load_context
from inquiries.agent.pipeline import run_agent
from policy.models import RiskKeyword

pytestmark = pytest.mark.django_db


def test_broken_regex_variant__refused_with_message(admin_client):
    response = admin_client.post(
        reverse("admin:policy_riskkeyword_add"),
        {"term": "환불사기", "category": "CLAIM", "variants": '["re:(사기"]', "notes": "", "is_active": "on"},
    )
    assert response.status_code == 200
    assert not RiskKeyword.objects.filter(term="환불사기").exists()


def test_new_keyword__applies_to_the_next_decision(admin_client):
    text = "환불 언제 되나요? 안 해주면 맘카페에 올릴게요"
    assert not any(h["term"] == "맘카페" for h in run_agent(content=text, context=load_context()).risk_hits)
    response = admin_client.post(
        reverse("admin:policy_riskkeyword_add"),
        {"term": "맘카페", "category": "THREAT", "variants": '["맘 카페"]', "notes": "", "is_active": "on"},
    )
    assert response.status_code == 302
    hits = run_agent(content=text, context=load_context()).risk_hits
    assert any(h["term"] == "맘카페" for h in hits)
    assert RiskKeyword.objects.get(term="맘카페").history.count() == 1
