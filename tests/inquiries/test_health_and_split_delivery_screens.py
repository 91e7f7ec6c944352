"""The keyword screens catch a question tied to the buyer's own health condition (SAFETY) and a request to
split one order over several addresses or to have it arrive on a chosen day or in a time window
(CUSTOM_ORDER), with no incident word and no classic keyword — and leave their innocent neighbours alone.
The same variants reach a database that had the keyword rows already (migration 0017)."""

from __future__ import annotations

import pytest

from inquiries.agent.context import seed_context
from inquiries.agent.loader import clear_cache, load_context
from inquiries.agent.seed_data import VARIANTS_ADDED_2

HEALTH = [
    "투석 받는 아버지가 드실 건데 칼륨 함량 나와 있나요?",
    "임신 7개월인데 이 성분 제가 써도 되나요",
    "아기가 아토피라 엉덩이 닦아도 될지 궁금해요",
    "페이스메이커 있는 사람도 이어폰 써도 되나요",
    "허리디스크 수술 받고 두 달 됐는데 의자 높이 괜찮을까요",
    "우리 냥이가 신부전 진단 받았는데 이 모래 써도 될까요",
]
NOT_HEALTH = [
    "임신 축하 선물로 보내려는데 포장 되나요?",
    "임신한 친구 출산선물로 보내려는데 박스 크기가 어느정도에요?",
    "이건 선물용이라 가격표 빼주세요",
    "땀이 많이 나는데 통풍 잘 되나요?",
    "신장 175에 72kg이면 L 맞을까요",
]
SPLIT_OR_DATE = [
    "2대 주문했는데 하나는 저희집, 하나는 부모님댁으로 따로 보내주실수 있나요?",
    "쌀 두 포대 중 한 포대는 시골 부모님 댁 주소로 따로 보내주세요",
    "배송지를 두 군데로 할 수 있나요?",
    "아버지 생신이 20일이라 19일 도착으로 맞춰서 발송 부탁드려요",
    "금요일에 딱 받게 보내주실 수 있나요?",
    "이사를 25일에 해서 그 이후에 출고해 주세요",
    "저녁 7시 이후에 배달되게 해주실 수 있나요",
]
ROUTINE_SHIPPING = [
    "묶어서 보내주실 수 있나요? 따로 받아도 상관은 없어요",
    "하나는 멀쩡한데 하나는 바느질이 엉망이에요",
    "송장이 두 개 떠요 하나는 배송완료고 하나는 아직 준비중인데 나눠서 보내신건가요?",
    "20일까지 도착 가능할까요?",
    "오후 1시인데 오늘 출고 될까요?",
    "주소 여러개로 각각 주문하면 되나요?",
]


@pytest.fixture(scope="module")
def context():
    return seed_context().warm()


@pytest.mark.parametrize("text", HEALTH)
def test_a_health_condition_question_is_a_safety_risk(context, text):
    assert "SAFETY" in {h.category for h in context.scanner.scan(text)}


@pytest.mark.parametrize("text", NOT_HEALTH)
def test_innocent_neighbours_are_no_safety_risk(context, text):
    assert "SAFETY" not in {h.category for h in context.scanner.scan(text)}


@pytest.mark.parametrize("text", SPLIT_OR_DATE)
def test_split_addresses_a_chosen_day_or_time_need_a_person(context, text):
    assert "CUSTOM_ORDER" in {h.category for h in context.person_scanner.scan(text)}


@pytest.mark.parametrize("text", ROUTINE_SHIPPING)
def test_routine_shipping_questions_are_no_custom_order(context, text):
    assert "CUSTOM_ORDER" not in {h.category for h in context.person_scanner.scan(text)}


@pytest.mark.django_db
def test_the_variants_reach_keyword_rows_made_before_them():
    import importlib

    from django.apps import apps

    from policy.models import RiskKeyword

    # A database seeded before migration 0017: its rows lack the variants; the migration's function adds
    # them once, without touching what ops wrote.
    migration = importlib.import_module("inquiries.migrations.0018_health_and_split_delivery_variants")
    for term, added in VARIANTS_ADDED_2.items():
        row = RiskKeyword.objects.get(term=term)
        row.variants = [v for v in row.variants if v not in added] + ["ops-own-variant"]
        row.save(update_fields=["variants"])
    migration.seed(apps, None)
    migration.seed(apps, None)  # twice: nothing is added twice
    for term, added in VARIANTS_ADDED_2.items():
        variants = RiskKeyword.objects.get(term=term).variants
        assert "ops-own-variant" in variants
        assert all(variants.count(v) == 1 for v in added)
    clear_cache()
    ctx = load_context(None)
    assert "SAFETY" in {h.category for h in ctx.scanner.scan(HEALTH[0])}
    assert "CUSTOM_ORDER" in {h.category for h in ctx.person_scanner.scan(SPLIT_OR_DATE[0])}
