"""First-response time from stored timestamps: paths, groups, windows and business hours."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from policy.first_response import (
    answered_rows,
    by_day,
    first_response_report,
    histogram,
    in_hours_seconds,
    percentile,
)
from policy.hours import SEOUL, Calendar
from policy.metrics import render_metrics
from policy.services import SYSTEM, settings_update
from tests.factories import make_account, make_inquiry

pytestmark = pytest.mark.django_db

NINE_TO_SIX = Calendar(
    enabled=True, weekly={d: ((dt.time(9), dt.time(18)),) for d in range(5)}, overrides={}, observe_holidays=False
)
NOW = dt.datetime(2026, 12, 9, 12, 0, tzinfo=SEOUL)  # a Wednesday, no holiday


def answered(account, *, asked, fetched_after=dt.timedelta(seconds=0), wait, status, intent="배송문의"):
    row = make_inquiry(
        account,
        created_at=asked,
        status=status,
        intent=intent,
        send_status="SENT" if status != "ANSWERED_ELSEWHERE" else "NOT_SENT",
    )
    type(row).objects.filter(pk=row.pk).update(ingested_at=asked + fetched_after, first_answered_at=asked + wait)
    return row


def test_in_hours_seconds__a_weekend_counts_outside():
    friday_17 = dt.datetime(2026, 12, 4, 17, 0, tzinfo=SEOUL)
    monday_10 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=SEOUL)
    assert in_hours_seconds(NINE_TO_SIX, friday_17, monday_10) == 2 * 3600  # Fri 17-18, Mon 9-10
    assert in_hours_seconds(NINE_TO_SIX, monday_10, monday_10 + dt.timedelta(minutes=5)) == 300
    off = Calendar(enabled=False, weekly={}, overrides={})
    assert in_hours_seconds(off, friday_17, monday_10) == (monday_10 - friday_17).total_seconds()


def test_percentile__linear_between_ranks():
    assert percentile([], 50) is None
    assert percentile([10.0], 95) == 10.0
    assert percentile([10.0, 20.0], 50) == 15.0
    assert percentile([float(i) for i in range(1, 101)], 95) == pytest.approx(95.05)


def test_rows__wait_ours_and_hours_from_the_stored_times():
    account = make_account("coupang_main")
    asked = dt.datetime(2026, 12, 4, 17, 0, tzinfo=SEOUL)  # Friday 17:00
    answered(
        account, asked=asked, fetched_after=dt.timedelta(minutes=1), wait=dt.timedelta(hours=65), status="APPROVED"
    )
    (row,) = answered_rows(since=asked, until=asked + dt.timedelta(days=4), calendar=NINE_TO_SIX)
    assert row.path == "PERSON"
    assert row.wait == 65 * 3600
    assert row.ours == 65 * 3600 - 60  # from when we fetched it
    assert row.in_hours == 2 * 3600 and row.outside_hours == 63 * 3600  # the weekend is shown, not hidden


def test_report__per_path_account_intent_and_window():
    coupang, naver = make_account("coupang_main"), make_account("smartstore", market="SMARTSTORE")
    for seconds in (20, 30, 40, 50, 60):
        answered(coupang, asked=NOW - dt.timedelta(minutes=30), wait=dt.timedelta(seconds=seconds), status="AUTO_SEND")
    answered(naver, asked=NOW - dt.timedelta(hours=3), wait=dt.timedelta(minutes=30), status="APPROVED", intent="환불")
    answered(naver, asked=NOW - dt.timedelta(days=3), wait=dt.timedelta(hours=2), status="ANSWERED_ELSEWHERE")
    make_inquiry(coupang, created_at=NOW - dt.timedelta(minutes=10))  # not answered: not counted

    report = first_response_report(now=NOW, calendar=Calendar(enabled=False, weekly={}, overrides={}))
    hour, day, week = (report["windows"][w] for w in ("1h", "24h", "7d"))
    assert hour["all"]["count"] == 5 and hour["all"]["wait"] == {"p50": 40.0, "p90": 56.0, "p95": 58.0}
    assert day["all"]["count"] == 6 and week["all"]["count"] == 7
    paths = {g["key"]: g for g in week["by_path"]}
    assert {k: g["count"] for k, g in paths.items()} == {"AUTO": 5, "PERSON": 1, "ELSEWHERE": 1}
    assert paths["ELSEWHERE"]["wait"]["p50"] == 7200.0
    assert {g["key"]: g["count"] for g in week["by_account"]} == {"coupang_main": 5, "smartstore": 2}
    assert {g["key"]: g["count"] for g in week["by_intent"]} == {"배송문의": 6, "환불": 1}
    assert week["all"]["outside_hours"]["p95"] == 0.0  # business hours off: all of it in hours


def test_by_day_histogram_kpi_metrics_dashboard_and_readiness(admin_client):
    settings_update(actor=SYSTEM, hours="always")
    account = make_account("coupang_main")
    answered(
        account,
        asked=dt.datetime.now(SEOUL) - dt.timedelta(minutes=5),
        wait=dt.timedelta(seconds=45),
        status="AUTO_SEND",
    )
    answered(
        account,
        asked=dt.datetime.now(SEOUL) - dt.timedelta(hours=3),
        wait=dt.timedelta(minutes=20),
        status="ANSWERED_ELSEWHERE",
    )
    days = by_day(days=3)
    assert sum(d["count"] for d in days) == 2 and len(days) == 3

    (auto,) = [h for h in histogram() if h["path"] == "AUTO"]
    assert auto["count"] == 1 and auto["sum"] == 45.0
    assert dict(auto["buckets"])[30] == 0 and dict(auto["buckets"])[60] == 1

    families = {f.name: f for f in text_string_to_metric_families(render_metrics())}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for name in ("partialauto_first_response_seconds", "partialauto_first_response_24h_seconds")
        for s in families[name].samples
    }

    def sample(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert families["partialauto_first_response_seconds"].type == "histogram"
    bucket, auto = "partialauto_first_response_seconds_bucket", {"account": "coupang_main", "path": "AUTO"}
    assert sample(bucket, **auto, le="60.0") == 1 and sample(bucket, **auto, le="30.0") == 0
    assert sample("partialauto_first_response_seconds_sum", **auto) == 45.0
    assert sample("partialauto_first_response_seconds_count", account="coupang_main", path="ELSEWHERE") == 1
    assert sample("partialauto_first_response_24h_seconds", path="AUTO", part="wait", quantile="0.95") == 45.0

    out = io.StringIO()
    call_command("kpi", "--format", "json", stdout=out)
    fr = json.loads(out.getvalue())["first_response"]["windows"]
    assert fr["24h"]["all"]["count"] == 2 and fr["1h"]["all"]["count"] == 1
    out = io.StringIO()
    call_command("kpi", stdout=out)
    assert "첫 응답 시간" in out.getvalue() and "45초" in out.getvalue()

    page = admin_client.get(reverse("policy:dashboard")).content.decode()
    assert 'id="chart-first-response"' in page and "45초" in page and "20분 0초" in page

    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("readiness", stdout=out)
    assert "첫 응답 시간 (24h, 자동 답변): 1건: 중앙값 45초" in out.getvalue()
    page = admin_client.get(reverse("policy:readiness")).content.decode()
    assert 'id="pa-first-response"' in page and "45초" in page
