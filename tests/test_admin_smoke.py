"""Every admin page opens for a superuser; a non-staff user is refused; no page shows a secret."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from inquiries.models import Inquiry, KnowledgeEntry
from inquiries.services import product_knowledge_replace
from markets.models import MalformedPayload, PollCursor
from policy.models import (
    BusinessDayOverride,
    DailyQuotaUsage,
    Notification,
    NotificationChannel,
    RollbackIncident,
    RollbackRule,
    RolloutEvent,
)
from tests.factories import SECRET_VALUES, make_account, make_inquiry, make_shipping_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated(db):
    import datetime as dt

    from inquiries import events
    from inquiries.models import Intent, SendAttempt

    coupang = make_account("coupang_main")
    store = make_account("smartstore", market="SMARTSTORE")
    inquiry = make_inquiry(
        coupang,
        status="AUTO_SEND",
        intent="배송문의",
        confidence_score=0.93,
        decision_trace={"policy": {"gates": [{"gate": "risk_keywords", "passed": True, "detail": "none"}]}},
        buyer_name_masked="홍길동",
    )
    make_inquiry(store, status="HUMAN_REVIEW")
    events.record(inquiry, "DECIDED", actor_label="system:agent", to_status="AUTO_SEND")
    import uuid

    SendAttempt.objects.create(
        inquiry=inquiry,
        account=coupang,
        market_code="COUPANG",
        attempt_no=1,
        claim_token=uuid.uuid4(),
        outcome="DELIVERED",
        http_status=200,
    )
    KnowledgeEntry.objects.create(intent=Intent.objects.get(name="배송문의"), title="배송 기간", body="안녕하세요")
    PollCursor.objects.create(account=coupang, kind="COUPANG_ONLINE")
    MalformedPayload.objects.create(account=coupang, kind="COUPANG_ONLINE", payload="{", error="bad json")
    BusinessDayOverride.objects.create(date=dt.date(2026, 12, 31), is_open=False, note="종무식")
    channel = NotificationChannel.objects.create(
        kind="WEBHOOK", target="https://hooks.example.test/services/T000/SECRETPATH"
    )
    incident = RollbackIncident.objects.create(
        rule=RollbackRule.objects.first(), account=coupang, scope_key=str(coupang.pk), figures={"failures": 3}
    )
    Notification.objects.create(incident=incident, channel=channel)
    RolloutEvent.objects.create(actor_label="ops", action="LOCK", account=coupang, reason="test")
    DailyQuotaUsage.objects.create(account=coupang, day=dt.date.today(), used=3)
    make_shipping_policy(coupang)
    product_knowledge_replace(
        account=None,
        product_id="7120034501",
        name="무선 이어폰",
        aliases=["85012345001"],
        facts=["충전 단자는 USB-C입니다.", "방수 등급은 IPX4입니다."],
    )
    return coupang


def _pages():
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        yield model, model_admin, info


def test_every_admin_page_opens_and_shows_no_secret(admin_client, populated):
    opened = 0
    for model, model_admin, info in _pages():
        url = reverse("admin:%s_%s_changelist" % info)
        response = admin_client.get(url)
        assert response.status_code == 200, url
        bodies = [response.content.decode()]
        response = admin_client.get(reverse("admin:%s_%s_add" % info))
        assert response.status_code in (200, 403), (info, response.status_code)
        bodies.append(response.content.decode())
        obj = model._default_manager.first()
        if obj is not None:
            response = admin_client.get(reverse("admin:%s_%s_change" % info, args=[obj.pk]))
            assert response.status_code == 200, (info, response.status_code)
            bodies.append(response.content.decode())
            if hasattr(model_admin, "history_view"):
                response = admin_client.get(reverse("admin:%s_%s_history" % info, args=[obj.pk]))
                assert response.status_code == 200
                bodies.append(response.content.decode())
        for body in bodies:
            for secret in SECRET_VALUES.values():
                assert secret not in body, f"secret shown on {info}"
            assert "SECRETPATH" not in body
        opened += 1
    assert opened >= 20


def test_inquiry_page__shows_trace_and_events_in_korean(admin_client, populated):
    inquiry = Inquiry.objects.filter(status="AUTO_SEND").first()
    body = admin_client.get(reverse("admin:inquiries_inquiry_change", args=[inquiry.pk])).content.decode()
    assert "risk_keywords" in body and "게이트" in body
    assert "system:agent" in body
    assert "홍길동" not in body and "홍**" in body


def test_non_staff_user__refused(client, django_user_model, populated):
    user = django_user_model.objects.create_user("buyer", password="pw-123456-long")
    client.force_login(user)
    for _model, _admin, info in _pages():
        response = client.get(reverse("admin:%s_%s_changelist" % info))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_anonymous__redirected_to_login(client):
    response = client.get(reverse("admin:inquiries_inquiry_changelist"))
    assert response.status_code == 302
