"""Registering accounts in the admin: write-only secrets, validation, and the "test connection" action."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from markets.models import MarketAccount
from markets.sandbox import SandboxServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox():
    server = SandboxServer(seed=3).start()
    try:
        yield server
    finally:
        server.stop()


def test_admin_add__secrets_encrypted_never_shown_and_connection_ok(admin_client, sandbox):
    cp = sandbox.store.register_coupang_account(vendor_id="A00055555", reply_by="cs")
    response = admin_client.post(
        reverse("admin:markets_marketaccount_add"),
        {
            "name": "coupang_main",
            "market_code": "COUPANG",
            "is_active": "on",
            "seller_name": "행복상점",
            "api_base_url": sandbox.coupang_base_url,
            "vendor_id": cp.vendor_id,
            "reply_by": "cs",
            "client_id": "",
            "access_key": cp.access_key,
            "secret_key": cp.secret_key,
            "client_secret": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = MarketAccount.objects.get(name="coupang_main")
    assert account.get_credentials() == {"access_key": cp.access_key, "secret_key": cp.secret_key}
    assert cp.secret_key not in account.credentials_encrypted
    page = admin_client.get(reverse("admin:markets_marketaccount_change", args=[account.pk])).content.decode()
    assert cp.secret_key not in page and cp.access_key not in page and "저장됨" in page
    # an edit with empty secret inputs keeps the stored credentials
    admin_client.post(
        reverse("admin:markets_marketaccount_change", args=[account.pk]),
        {
            "name": "coupang_main",
            "market_code": "COUPANG",
            "is_active": "on",
            "seller_name": "행복상점 본점",
            "api_base_url": sandbox.coupang_base_url,
            "vendor_id": cp.vendor_id,
            "reply_by": "cs",
            "client_id": "",
            "access_key": "",
            "secret_key": "",
            "client_secret": "",
        },
    )
    account.refresh_from_db()
    assert account.seller_name == "행복상점 본점" and account.get_credentials()["secret_key"] == cp.secret_key
    response = admin_client.post(
        reverse("admin:markets_marketaccount_changelist"),
        {"action": "test_connection", "_selected_action": [account.pk]},
        follow=True,
    )
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(m.startswith("coupang_main:") for m in messages)
    assert not any(cp.secret_key in m for m in messages)
    assert sandbox.store.requests_total >= 1


def test_admin_add__missing_secret_refused(admin_client):
    response = admin_client.post(
        reverse("admin:markets_marketaccount_add"),
        {
            "name": "smartstore",
            "market_code": "SMARTSTORE",
            "is_active": "on",
            "client_id": "app",
            "client_secret": "",
        },
    )
    assert response.status_code == 200
    assert not MarketAccount.objects.filter(name="smartstore").exists()
    assert "인증정보가 필요합니다" in response.content.decode()


def test_test_connection__wrong_secret_reports_failure(admin_client, sandbox):
    from tests.factories import make_account

    cp = sandbox.store.register_coupang_account(vendor_id="A00066666", reply_by="cs")
    account = make_account(
        "coupang_bad",
        vendor_id=cp.vendor_id,
        access_key=cp.access_key,
        secret_key="wrong" * 8,
        api_base_url=sandbox.coupang_base_url,
    )
    response = admin_client.post(
        reverse("admin:markets_marketaccount_changelist"),
        {"action": "test_connection", "_selected_action": [account.pk]},
        follow=True,
    )
    messages = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert messages and messages[0][0] == "error" and "wrong" * 8 not in messages[0][1]
