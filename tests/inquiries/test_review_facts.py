"""The facts behind a draft are shown where a person reads the draft: the review queue and the inquiry page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inquiries.models import Inquiry
from markets.models import MarketOrder
from policy.decide import decide_new
from tests.factories import make_account, make_inquiry, make_shipping_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided_with_facts():
    from django.utils import timezone

    account = make_account("coupang_main")
    make_shipping_policy(account)
    MarketOrder.objects.create(
        account=account,
        market_code="COUPANG",
        order_id="31000012345678",
        line_id="853138000000005666",
        status="CANCELLED",
        raw_status="ACCEPT",
        claim_type="CANCEL",
        claim_status="CANCELED",
        product_name="스테인리스 진공 텀블러 500ml",
        synced_at=timezone.now(),
        fingerprint="x",
    )
    inquiry = make_inquiry(
        account,
        content="주문한 텀블러 배송 언제 와요?",
        order_id="31000012345678",
        order_refs={"order_ids": ["31000012345678"]},
    )
    decide_new()
    inquiry.refresh_from_db()
    return inquiry


def test_review_queue__shows_the_facts_prefilled_for_the_person(admin_client, decided_with_facts):
    inquiry = decided_with_facts
    assert inquiry.status == Inquiry.Status.HUMAN_REVIEW
    page = admin_client.get(reverse("admin:inquiries_reviewitem_change", args=[inquiry.pk])).content.decode()
    assert "초안의 근거 사실" in page and "853138000000005666" in page and "order 31000012345678: CANCELLED" in page
    assert "취소된 상태" in page  # the draft states the fact for the person to check
    assert "주문 상태상 사람 확인 필요" in page  # why a person, in the agent's words, not only the first failed gate


def test_inquiry_page__shows_the_facts_and_the_order_references(admin_client, decided_with_facts):
    page = admin_client.get(reverse("admin:inquiries_inquiry_change", args=[decided_with_facts.pk])).content.decode()
    assert "853138000000005666" in page and "31000012345678" in page and "주문 참조" in page


def test_draft_without_facts__says_so(admin_client):
    account = make_account("coupang_main")
    inquiry = make_inquiry(account, content="세탁기에 돌려도 되나요?")
    decide_new()
    page = admin_client.get(reverse("admin:inquiries_reviewitem_change", args=[inquiry.pk])).content.decode()
    assert "이 초안에는 근거 사실이 없습니다" in page
