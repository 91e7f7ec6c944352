"""The Korean admin shows no English UI text: every changelist, the change form of each model that has a
row, the dashboard and the readiness page, rendered in Korean, are scanned for the English strings ops
staff reported and for runs of English words that are not codes, names or values."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.contrib import admin
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation

from inquiries.agent.labels import risk_term_label
from inquiries.agent.steps import LEARNED_TERM
from inquiries.models import Inquiry, InquiryEvent
from markets.models import MalformedPayload, MarketAccount
from policy.controls import load_account_controls
from policy.decide import decide_one
from policy.models import AccountRollout, ChecklistItem, RiskKeyword, RollbackIncident
from policy.roles import ROLE_ROLLOUT_MANAGER
from tests.factories import make_account, make_inquiry, make_staff

pytestmark = pytest.mark.django_db

# What was seen in the Korean console; none of it may come back.
REPORTED = [
    "account locked",
    "rollback rule",
    "not in allowed list",
    "below threshold",
    "Risk keyword",
    "switch_and_mode",
    "intent_allowlist",
    "risk_keywords",
    "Acknowledged by",
    "Acknowledged at",
    "Updated at",
    "Remote ref",
    "Lease expires at",
    "Coupang_main:",
    "['",
    "Answer check failed",
    "All gates passed",
    "partial-auto switch",
    "global test mode",
    "emergency stop",
    "account mode is",
]
# Words that may stand in Korean text: codes and names of the product, units, marketplaces, formats.
ALLOWED_WORDS = {
    "partialauto",
    "coupang",
    "naver",
    "smartstore",
    "wing",
    "api",
    "id",
    "url",
    "ok",
    "json",
    "csv",
    "utc",
    "kst",
    "http",
    "https",
    "sql",
    "llm",
    "usb",
    "ipx",
    "env",
    "cs",
    "ai",
    "qna",
    "pdf",
}
OUR_APPS = {"markets", "inquiries", "policy"}
WORD_RUN = re.compile(r"\b[A-Za-z][a-z]{2,}(?:[ -][A-Za-z][a-z]+)+\b")  # two or more English words in a row
TEXT = re.compile(r">([^<>]+)<")


def visible_text(body: str) -> list[str]:
    # <pre>: the raw stored trace; <code> and `…`: commands, flags and codes, typed as they are
    body = re.sub(r"(?s)<(script|style|textarea|pre|code)\b.*?</\1>", "", body)
    body = re.sub(r"(?s)<!--.*?-->", "", body)
    texts = [html.unescape(t).strip() for t in TEXT.findall(body) if t.strip()]
    return [re.sub(r"`[^`]*`", "", t) for t in texts]


def data_values() -> list[str]:
    """Values stored as data and shown as stored: English risk keywords (they are matched in English text),
    checklist codes and the guide's titles, account names, payload errors."""
    values = [
        *RiskKeyword.objects.values_list("term", flat=True),
        *MarketAccount.objects.values_list("name", flat=True),
        *MalformedPayload.objects.values_list("error", flat=True),
    ]
    for variants in RiskKeyword.objects.values_list("variants", flat=True):
        values.extend(variants or [])
    for code, title in ChecklistItem.objects.values_list("code", "title"):
        values.extend([code, title])
    return [v.lower() for v in values if v]


def english_runs(texts: list[str], data: list[str] = ()) -> list[str]:
    found = []
    for text in texts:
        for run in WORD_RUN.findall(text):
            words = [w.lower() for w in re.split(r"[ -]", run)]
            if all(w in ALLOWED_WORDS for w in words) or any(run.lower() in value for value in data):
                continue
            found.append(run)
    return found


@pytest.fixture
def decided(populated):
    """Inquiries decided by the real engine on a locked account, so traces and reasons are real."""
    account = make_account("coupang_sub")
    rollout, _ = AccountRollout.objects.get_or_create(account=account)
    rollout.mode = "LIVE"
    rollout.locked_at = timezone.now()
    rollout.lock_reason = "롤백 규칙 '24시간 실패율 2% 이상' 발동"
    rollout.save()
    inquiry = make_inquiry(account, content="주문 취소하고 환불해 주세요. 소송하겠습니다.")
    decide_one(inquiry, controls=load_account_controls(account))
    incident = RollbackIncident.objects.first()
    incident.acknowledged_at = timezone.now() - dt.timedelta(hours=2)
    incident.save()
    return inquiry


def _pages(client, inquiry) -> dict[str, str]:
    pages = {}
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue  # Django's and django-q2's own pages carry their own catalogues
        info = (model._meta.app_label, model._meta.model_name)
        url = reverse("admin:%s_%s_changelist" % info)
        pages[url] = client.get(url)
        obj = inquiry if model is Inquiry else model._default_manager.first()
        if obj is not None:
            url = reverse("admin:%s_%s_change" % info, args=[obj.pk])
            pages[url] = client.get(url)
    for name in ("policy:dashboard", "policy:readiness"):
        url = reverse(name)
        pages[url] = client.get(url)
    out = {}
    for url, response in pages.items():
        assert response.status_code == 200, url
        out[url] = response.content.decode()
    return out


def test_korean_admin_pages__show_no_english_ui_text(admin_client, decided):
    with override_settings(LANGUAGE_CODE="ko-kr"), translation.override("ko"):
        pages = _pages(admin_client, decided)
    data = data_values()
    problems = {}
    for url, body in pages.items():
        texts = visible_text(body)
        joined = "\n".join(texts)
        seen = [s for s in REPORTED if s in joined] + english_runs(texts, data)
        if seen:
            problems[url] = sorted(set(seen))
    assert not problems, "\n".join(f"{url}: {seen}" for url, seen in problems.items())


def test_permission_denied__korean_403_page(client, django_user_model):
    client.force_login(make_staff(django_user_model, "no-roles"))
    with override_settings(DEBUG=False), translation.override("ko"):
        response = client.get(reverse("admin:policy_automationsettings_changelist"))
    body = response.content.decode()
    assert response.status_code == 403
    assert "권한이 없습니다" in body and "롤아웃 관리자" in body and "Forbidden" not in body


def test_unlock_and_lock_messages__account_as_stored_and_mode_in_korean(client, django_user_model):
    client.force_login(make_staff(django_user_model, "manager", ROLE_ROLLOUT_MANAGER))
    rollout = AccountRollout.objects.get(account=make_account("coupang_sub"))
    url = reverse("admin:policy_accountrollout_changelist")
    with translation.override("ko"):
        response = client.post(
            url,
            {
                "action": "unlock_accounts",
                "_selected_action": [rollout.pk],
                "confirm": "1",
                "mode": "LIVE",
                "phase": "",
                "reason": "1단계 시작",
                "confirm_live": "on",
            },
            follow=True,
        )
        unlocked = [str(m) for m in response.context["messages"]]
        response = client.post(
            url,
            {"action": "lock_accounts", "_selected_action": [rollout.pk], "confirm": "1", "reason": "점검"},
            follow=True,
        )
        locked = [str(m) for m in response.context["messages"]]
    assert "coupang_sub: 실전송 모드로 해금했습니다." in unlocked
    assert "coupang_sub: 잠갔습니다." in locked


def test_lock_state__a_word_and_colour_not_an_emoji(admin_client):
    account = make_account("coupang_sub")
    AccountRollout.objects.filter(account=account).update(
        locked_at=timezone.now(), lock_reason="연속 실패", locked_by="monitor"
    )
    with translation.override("ko"):
        pages = [
            admin_client.get(reverse("policy:dashboard")).content.decode(),
            admin_client.get(reverse("admin:policy_accountrollout_changelist")).content.decode(),
            admin_client.post(
                reverse("admin:policy_accountrollout_changelist"),
                {"action": "lock_accounts", "_selected_action": [account.rollout.pk]},
            ).content.decode(),
        ]
    for body in pages:
        assert "🔒" not in body and "✅" not in body and "❌" not in body
        assert "잠김" in body and "#ba2121" in body
    assert '<tspan class="verdict verdict-fail" fill="#ba2121" font-weight="bold">✗ 잠김</tspan>' in pages[0]


def test_inquiry_history__times_in_seoul_when_stored_in_utc(admin_client):
    at = dt.datetime(2026, 3, 2, 16, 47, 13, tzinfo=dt.UTC)  # 2026-03-03 01:47:13 in Seoul
    account = make_account("coupang_main")
    inquiry = make_inquiry(account, content="배송 언제 오나요?", created_at=at)
    decide_one(inquiry, controls=load_account_controls(account))
    trace = Inquiry.objects.get(pk=inquiry.pk).decision_trace
    trace["policy"]["evaluated_at"] = at.isoformat()
    Inquiry.objects.filter(pk=inquiry.pk).update(decided_at=at, decision_trace=trace)
    InquiryEvent.objects.filter(inquiry=inquiry).update(at=at, data={"at": at.isoformat()})
    with translation.override("ko"):
        body = admin_client.get(reverse("admin:inquiries_inquiry_change", args=[inquiry.pk])).content.decode()
    assert "16:47" not in body and "+00:00" not in body
    assert "2026-03-03 01:47:13" in body  # the event in the history list
    assert "2026-03-03T01:47:13+09:00" in body  # the decision trace


def test_risk_hit_of_the_learned_screen__shown_in_korean(admin_client):
    account = make_account("coupang_main")
    inquiry = make_inquiry(account, content="문의")
    Inquiry.objects.filter(pk=inquiry.pk).update(
        risk_hits=[{"term": LEARNED_TERM, "category": "MODEL", "where": "customer"}]
    )
    with translation.override("ko"):
        body = admin_client.get(reverse("admin:inquiries_inquiry_change", args=[inquiry.pk])).content.decode()
    assert "학습된 위험 판별" in body and LEARNED_TERM not in body.split("<pre")[0]
    assert risk_term_label("판매 중지") == "판매 중지"
