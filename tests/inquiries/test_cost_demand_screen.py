"""Demands that the seller pay a cost beyond the order are CLAIM risks even without 보상/배상; questions
about who pays the return shipping stay routine."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from inquiries.agent.loader import clear_cache, load_context
from inquiries.agent.seed_data import VARIANTS_ADDED_3

pytestmark = pytest.mark.django_db

DEMANDS = [
    "[판매자이관] 고객문의: 여행 전 미도착 시 숙소 위약금은 판매자가 부담하라고 함. 도착일 안내 요청",
    "늦게 와서 펜션 예약 취소했는데 위약금 3만원 물어주세요",
    "이거 때문에 퀵비 2만원 들었어요. 그 비용 물어내세요",
    "사장님이 부담하셔야죠 왕복 택배비는",
]
ROUTINE = [
    "반품 배송비는 제가 부담해야 하나요?",
    "단순 변심이면 왕복 배송비 부담인가요?",
    "주문 취소하면 위약금 같은 거 있나요?",
    "교환하면 배송비는 누가 부담하나요",
]


def _claims(text: str) -> bool:
    clear_cache()
    return "CLAIM" in {h.category for h in load_context(None).scanner.scan(text)}


@pytest.mark.parametrize("text", DEMANDS)
def test_a_cost_demand_is_a_claim(text):
    assert _claims(text)


@pytest.mark.parametrize("text", ROUTINE)
def test_asking_who_pays_is_not(text):
    assert not _claims(text)


def test_the_variants_reach_keyword_rows_made_before_them():
    from policy.models import RiskKeyword

    migration = importlib.import_module("inquiries.migrations.0019_cost_demand_variants")
    for term, added in VARIANTS_ADDED_3.items():
        row = RiskKeyword.objects.get(term=term)
        row.variants = [v for v in row.variants if v not in added] + ["ops-own-variant"]
        row.save(update_fields=["variants"])
    assert not _claims(DEMANDS[0])  # the rows as an older installation has them
    migration.seed(apps, None)
    migration.seed(apps, None)  # twice: nothing is added twice
    for term, added in VARIANTS_ADDED_3.items():
        variants = RiskKeyword.objects.get(term=term).variants
        assert "ops-own-variant" in variants and all(variants.count(v) == 1 for v in added)
    assert _claims(DEMANDS[0])
