"""The learning loop, end to end: people correct intents and edit drafts in the review queue, their answers
reach the marketplace, ``train_agent`` runs, and the same questions asked again are classified and drafted
as the people did."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from inquiries import review
from inquiries.agent import training
from inquiries.agent.loader import clear_cache
from inquiries.models import AgentModel, Inquiry
from policy.decide import decide_new
from policy.models import Mode
from policy.sending import send_due
from policy.services import SYSTEM, rollout_unlock

# What buyers asked, and what the seller's people said it was and answered.
ASKED = [
    (
        "텀블러 뚜껑 안쪽 고무링은 어떻게 빼서 씻어요?",
        "사용법",
        "뚜껑 안쪽 실리콘 링은 가장자리를 손톱으로 살짝 들어 올리면 빠집니다. 씻은 뒤 완전히 말려서 다시 끼워 주세요.",
    ),
    (
        "무드등 선물하려는데 포장 박스 예쁘게 되어 있나요?",
        "기타",
        "무드등은 흰색 선물 상자에 담겨 발송되며, 가격표나 영수증은 넣지 않습니다.",
    ),
    (
        "캠핑의자 등받이 높이 몇 센치예요? 키 큰 편이라서요",
        "상품문의",
        "의자 등받이는 앉는 면에서 62cm 높이이고, 좌면 높이는 바닥에서 38cm입니다.",
    ),
]


def ask(live, texts) -> list[Inquiry]:
    store = live.sandbox.store
    asked_at = timezone.now().isoformat()
    ids = [
        store.add_inquiry(
            "COUPANG_ONLINE", owner=live.coupang.vendor_id, content=text, created_at=asked_at, orderIds=None
        )
        for text in texts
    ]
    call_command("poll_markets", "--account", "coupang_main", stdout=io.StringIO())
    decide_new()
    return [Inquiry.objects.get(account=live.coupang, kind="COUPANG_ONLINE", external_id=i) for i in ids]


@pytest.fixture
def reviewer(django_user_model):
    from django.contrib.auth.models import Group

    from policy.roles import ROLE_CS_AGENT, ensure_roles

    ensure_roles()
    user = django_user_model.objects.create_user("cs-agent", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_CS_AGENT))
    return user


def test_people_correct_and_answer__after_training_the_agent_does_as_they_did(live, reviewer, monkeypatch):
    # Shadow mode: the agent decides, people answer (their approved answers are sent all the same).
    rollout_unlock(account=live.coupang, mode=Mode.SHADOW, phase=None, actor=SYSTEM, reason="learning loop test")
    first = ask(live, [text for text, _intent, _answer in ASKED])
    for row, (_text, intent, answer) in zip(first, ASKED, strict=True):
        assert row.draft_answer != answer  # nobody told the agent yet
        review.inquiry_approve(inquiry=row, user=reviewer, answer=answer, intent=intent)
    assert {r.result for r in send_due()} == {"SENT"}
    for row, (_text, intent, answer) in zip(first, ASKED, strict=True):
        row.refresh_from_db()
        assert (row.status, row.send_status, row.labelled_intent, row.final_answer) == (
            "APPROVED",
            "SENT",
            intent,
            answer,
        )
        assert [a.text for a in live.answers(row)] == [answer]

    # A smaller shipped set keeps the test quick; the seller's labels are what it is about.
    subset = training.shipped_examples()[:400]
    monkeypatch.setattr(training, "shipped_examples", lambda: subset)
    out = io.StringIO()
    call_command("train_agent", "--activate", "--notes", "after the first reviews", stdout=out)
    assert "+ 판매자 라벨 3건" in out.getvalue()
    trained = AgentModel.objects.get(is_active=True, account__isnull=True)
    assert trained.version == 2 and trained.training_data["seller_labels"] == 3  # after the shipped version 1
    clear_cache()

    again = ask(live, [text for text, _intent, _answer in ASKED])
    for row, (_text, intent, answer) in zip(again, ASKED, strict=True):
        assert row.intent == intent, (row.content, row.intent)
        assert row.draft_answer == answer
        facts = row.decision_trace["agent"]["facts"]
        assert [f["source"] for f in facts] == ["past_answer"] and facts[0]["id"] == str(
            first[ASKED.index(next(a for a in ASKED if a[1] == intent))].pk
        )
        assert row.decision_trace["agent"]["model_version"] == trained.version
