"""``/metrics``: the Prometheus text format, the figures, and who may read them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from policy.metrics import Exposition, render_metrics
from policy.models import AccountRollout, AutomationSettings, NotificationChannel
from policy.monitor import run_monitor
from policy.quota import quota_consume
from policy.services import SYSTEM, emergency_stop
from tests.factories import SECRET_VALUES, make_inquiry
from tests.policy.history import attempts, live_accounts, rollout_running_since

pytestmark = pytest.mark.django_db

TOKEN = "s3cr3t-scrape-token-0123456789"
SAMPLE = re.compile(r'^[a-z_][a-z0-9_]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$')


@pytest.fixture
def state():
    coupang, naver = live_accounts()
    rollout_running_since(days=30)
    attempts(coupang, ok=7, failed=3, test_mode=2)
    attempts(naver, ok=5)
    attempts(naver, failed=9, at=timezone.now() - dt.timedelta(hours=30))  # older than 24 h
    make_inquiry(coupang, status="HUMAN_REVIEW")
    for _ in range(4):
        quota_consume(account_id=coupang.pk, limit=10)
    AccountRollout.objects.filter(account=coupang).update(consecutive_failures=3)
    NotificationChannel.objects.create(kind="WEBHOOK", target="https://hooks.example.test/services/T1/B2/SECRETPATH")
    run_monitor()  # locks coupang_main
    return coupang, naver


def samples(text: str) -> dict[str, float]:
    result = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, value = line.rsplit(" ", 1)
        result[name] = float(value)
    return result


def test_format_is_prometheus_text(state):
    text = render_metrics()
    assert text.endswith("\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}  # the reference parser accepts it
    assert {"partialauto_open_incidents", "partialauto_account_mode", "partialauto_failure_rate_24h"} <= set(families)
    assert {f.type for f in families.values()} == {"gauge", "histogram"}
    for line in text.splitlines():
        if not line.startswith("#"):
            assert SAMPLE.match(line), line


def test_figures(state):
    s = samples(render_metrics())
    assert s['partialauto_send_attempts_24h{account="coupang_main",outcome="DELIVERED"}'] == 7
    assert s['partialauto_send_attempts_24h{account="coupang_main",outcome="FAILED_RETRYABLE"}'] == 3
    assert s['partialauto_send_attempts_24h{account="coupang_main",outcome="TEST_MODE"}'] == 2
    assert 'partialauto_send_attempts_24h{account="smartstore",outcome="FAILED_RETRYABLE"}' not in s
    assert s['partialauto_failure_rate_24h{account="coupang_main"}'] == 0.3  # test mode is not a failure
    assert s['partialauto_failure_rate_24h{account="smartstore"}'] == 0.0
    assert s['partialauto_quota_used{account="coupang_main"}'] == 4
    assert s['partialauto_quota_limit{account="coupang_main"}'] == 10
    assert s['partialauto_quota_limit{account="smartstore"}'] == float("inf")
    assert s['partialauto_account_locked{account="coupang_main"}'] == 1
    assert s['partialauto_account_locked{account="smartstore"}'] == 0
    assert s['partialauto_account_mode{account="coupang_main",mode="SHADOW"}'] == 1
    assert s['partialauto_account_mode{account="smartstore",mode="LIVE"}'] == 1
    assert s['partialauto_inquiries_total{status="HUMAN_REVIEW"}'] == 1
    assert s['partialauto_inquiries_total{status="AUTO_SEND"}'] == 17
    assert s["partialauto_open_incidents"] == 1
    assert s["partialauto_emergency_stop"] == 0 and s["partialauto_test_mode"] == 0
    assert s["partialauto_partial_auto_enabled"] == 1
    last = AutomationSettings.get_solo().last_monitor_run_at
    assert s["partialauto_monitor_last_run_timestamp_seconds"] == pytest.approx(last.timestamp())


def test_switches_follow_the_emergency_stop(state):
    emergency_stop(reason="drill", actor=SYSTEM)
    s = samples(render_metrics())
    assert s["partialauto_emergency_stop"] == 1 and s["partialauto_test_mode"] == 1


@override_settings(CS_ENV_TEST_MODE=True)
def test_environment_override_is_what_is_reported(state):
    assert samples(render_metrics())["partialauto_test_mode"] == 1


def test_never_a_secret(state, admin_client):
    body = admin_client.get("/metrics").content.decode()
    for secret in (*SECRET_VALUES.values(), "SECRETPATH", "hooks.example.test"):
        assert secret not in body


def test_label_values_are_escaped():
    out = Exposition()
    out.gauge("partialauto_x", "x", [({"account": 'a"b\\c\nd'}, 1)])
    [family] = list(text_string_to_metric_families(out.text()))
    assert family.samples[0].labels == {"account": 'a"b\\c\nd'}


def test_no_credentials__401(client):
    response = client.get(reverse("metrics"))
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")


def test_staff_session__200(admin_client):
    response = admin_client.get(reverse("metrics"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert samples(response.content.decode())["partialauto_open_incidents"] == 0


def test_logged_in_but_not_staff__403(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("customer", password="pw-123456"))
    assert client.get(reverse("metrics")).status_code == 403


@override_settings(CS_METRICS_TOKEN=TOKEN)
def test_bearer_token(client):
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 403
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401


@override_settings(CS_METRICS_TOKEN="")
def test_no_token_configured__bearer_never_accepted(client):
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer anything").status_code == 403


def test_post_is_not_allowed(admin_client):
    assert admin_client.post(reverse("metrics")).status_code == 405


def test_queries_do_not_grow_with_history(state, admin_client, django_assert_max_num_queries):
    attempts(state[1], ok=300)
    # 31: the gauges (the follow-up figures are two reads: the answers, the follow-ups), plus the
    # first-response histogram, the business-hours calendar and one window of rows
    with django_assert_max_num_queries(31):
        admin_client.get(reverse("metrics"))
