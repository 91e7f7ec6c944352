"""The review queue's approve flow: explicit approve and close buttons instead of "저장", one more
confirmation for an inquiry with a risk hit, and the facts and the past answer behind the draft beside it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inquiries.models import Inquiry
from tests.factories import make_account, make_inquiry

pytestmark = pytest.mark.django_db

RISK_HIT = {"term": "소비자원", "category": "REGULATOR", "where": "customer"}


@pytest.fixture
def account():
    return make_account("coupang_main")


def to_review(account, **fields) -> Inquiry:
    return make_inquiry(
        account, status="HUMAN_REVIEW", draft_answer="내일 출고 예정입니다.", intent="배송문의", **fields
    )


def url(inquiry: Inquiry) -> str:
    return reverse("admin:inquiries_reviewitem_change", args=[inquiry.pk])


def post(client, inquiry: Inquiry, **data):
    return client.post(
        url(inquiry), {"answer": "내일 출고 예정입니다. 감사합니다.", "intent_label": "", "note": "", **data}
    )


def test_approve_button__approves__no_save_button(admin_client, account):
    inquiry = to_review(account)
    html = admin_client.get(url(inquiry)).content.decode()
    assert 'id="review-approve"' in html and 'name="decision" value="approve"' in html
    assert 'name="decision" value="close"' in html
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert 'name="confirm_risk"' not in html  # no risk hit: no extra confirmation
    response = post(admin_client, inquiry, decision="approve")
    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.APPROVED and inquiry.final_answer == "내일 출고 예정입니다. 감사합니다."


def test_a_submit_without_a_button__changes_nothing(admin_client, account):
    inquiry = to_review(account)
    response = post(admin_client, inquiry)
    assert response.status_code == 200 and "버튼을 눌러 주세요" in response.content.decode()
    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.HUMAN_REVIEW


def test_risk_hit__approve_needs_the_extra_confirmation(admin_client, account):
    inquiry = to_review(account, content="답변 없으면 소비자원에 신고합니다. 배송 언제요?", risk_hits=[RISK_HIT])
    html = admin_client.get(url(inquiry)).content.decode()
    assert 'name="confirm_risk"' in html and "위험 키워드 문의" in html

    response = post(admin_client, inquiry, decision="approve")
    assert response.status_code == 200 and "확인했다면 체크하고 다시 승인하세요" in response.content.decode()
    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.HUMAN_REVIEW

    post(admin_client, inquiry, decision="approve", confirm_risk="on")
    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.APPROVED


def test_risk_hit__closing_needs_no_confirmation(admin_client, account):
    inquiry = to_review(account, risk_hits=[RISK_HIT])
    assert 'id="review-close"' in admin_client.get(url(inquiry)).content.decode()
    post(admin_client, inquiry, decision="close", note="전화로 응대")
    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.CLOSED


def test_the_past_answer_behind_the_draft_is_shown_beside_it(admin_client, account):
    past = make_inquiry(
        account,
        content="세척은 어떻게 하나요?",
        status="APPROVED",
        send_status="SENT",
        final_answer="중성세제로 손세척해 주세요. 식기세척기는 피해 주세요.",
    )
    trace = {
        "agent": {"facts": [], "trace": [{"step": "recall", "match": {"inquiry": str(past.pk), "similarity": 0.93}}]}
    }
    inquiry = to_review(account, content="세척 방법 알려주세요", decision_trace=trace)
    html = admin_client.get(url(inquiry)).content.decode()
    assert "비슷한 과거 답변" in html and "중성세제로 손세척해 주세요" in html and "0.93" in html
    assert reverse("admin:inquiries_inquiry_change", args=[past.pk]) in html
    assert "초안의 근거 사실" in html


def test_no_past_answer__says_so(admin_client, account):
    html = admin_client.get(url(to_review(account))).content.decode()
    assert "비슷한 과거 답변을 쓰지 않았습니다" in html
