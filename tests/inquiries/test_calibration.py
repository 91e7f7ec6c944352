"""Calibration: AI drafts compared with what people actually sent, per intent."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from inquiries.calibration import agreement_by_intent, similarity
from inquiries.ingest_store import upsert
from inquiries.review import inquiry_approve
from policy.roles import ROLE_CS_AGENT
from tests.factories import make_account, make_inquiry

pytestmark = pytest.mark.django_db
DRAFT = "안녕하세요, 고객님. 주문하신 상품은 영업일 기준 1~2일 안에 출고됩니다."


def test_similarity():
    assert similarity(DRAFT, DRAFT + "  ") == 1.0
    assert similarity(DRAFT, "") is None
    assert similarity(DRAFT, "환불은 3일 안에 처리됩니다.") < 0.5


@pytest.fixture
def agent(django_user_model):
    user = django_user_model.objects.create_user("agent", is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_CS_AGENT))
    return django_user_model.objects.get(pk=user.pk)


def test_review__records_agreement(agent):
    account = make_account()
    same = make_inquiry(account, status="HUMAN_REVIEW", intent="배송문의", draft_answer=DRAFT)
    changed = make_inquiry(account, status="HUMAN_REVIEW", intent="배송문의", draft_answer=DRAFT)
    inquiry_approve(inquiry=same, user=agent, answer=DRAFT)
    inquiry_approve(inquiry=changed, user=agent, answer="고객님, 오늘 오후에 출고 예정입니다. 송장은 문자로 드릴게요.")
    same.refresh_from_db()
    changed.refresh_from_db()
    assert same.draft_agreement == 1.0 and same.human_edited is False
    assert changed.draft_agreement < 0.8 and changed.human_edited is True
    stats = agreement_by_intent()["배송문의"]
    assert (stats.compared, stats.agreed, stats.rate) == (2, 1, 0.5)


def test_shadow__answer_written_on_the_marketplace_is_compared():
    from datetime import timedelta

    from django.utils import timezone

    from markets.clients.types import RemoteInquiry

    account = make_account()
    inquiry = make_inquiry(
        account,
        status="AUTO_SEND",
        decision_mode="SHADOW",
        intent="사용법",
        draft_answer=DRAFT,
        external_id="900",
        kind="COUPANG_ONLINE",
    )
    remote = RemoteInquiry(
        kind="COUPANG_ONLINE",
        external_id="900",
        created_at=timezone.now() - timedelta(hours=1),
        title="",
        content="언제 와요?",
        product_id=None,
        product_name=None,
        order_id=None,
        answered=True,
        answer_text=DRAFT.replace("1~2일", "2일"),
        reply_context={},
        buyer_name_masked=None,
        raw={},
    )
    upsert(account, [remote])
    inquiry.refresh_from_db()
    assert inquiry.status == "ANSWERED_ELSEWHERE" and inquiry.external_answer.startswith("안녕하세요")
    assert inquiry.draft_agreement >= 0.8
    assert agreement_by_intent()["사용법"].agreed == 1


def test_intent_admin__shows_agreement(admin_client, agent):
    account = make_account()
    inquiry = make_inquiry(account, status="HUMAN_REVIEW", intent="배송문의", draft_answer=DRAFT)
    inquiry_approve(inquiry=inquiry, user=agent, answer=DRAFT)
    body = admin_client.get(reverse("admin:inquiries_intent_changelist")).content.decode()
    assert "100% (1/1)" in body and "표본 부족" in body
