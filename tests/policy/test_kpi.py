"""The guide's monitoring figures (1.2, 1.3, 3.2.4, 4.1.1) and the ``kpi`` command."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from partialauto.cli import display_width
from policy.kpi import (
    automation_by_day,
    daily_failure_rates,
    failure_rates,
    kpi_report,
    quota_today,
    realtime,
    shadow_stats,
)
from policy.models import AccountRollout, Mode
from policy.quota import quota_consume
from policy.services import SYSTEM, rollout_lock
from tests.factories import make_inquiry
from tests.policy.history import attempts, live_accounts, seoul_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts():
    return live_accounts()


def test_shadow_stats__auto_send_candidates_per_day(accounts):
    coupang, _ = accounts
    for _ in range(4):
        make_inquiry(coupang, status="AUTO_SEND", decision_mode="SHADOW", created_at=seoul_day(-1, 11))
    make_inquiry(coupang, status="HUMAN_REVIEW", created_at=seoul_day(-1, 12))
    make_inquiry(coupang, status="AUTO_SEND", decision_mode="LIVE", created_at=seoul_day(-2, 9))
    make_inquiry(coupang, status="AUTO_SEND", created_at=timezone.now() - dt.timedelta(days=8))  # outside 7 days
    rows = {r["date"]: r for r in shadow_stats(days=7)}
    yesterday = rows[seoul_day(-1).date().isoformat()]
    assert (yesterday["total"], yesterday["auto_send"], yesterday["shadow_candidates"], yesterday["auto_rate"]) == (
        5,
        4,
        4,
        80.0,
    )
    assert rows[seoul_day(-2).date().isoformat()]["shadow_candidates"] == 0
    assert sum(r["total"] for r in rows.values()) == 6


def test_automation_by_day__one_entry_per_day_oldest_first(accounts):
    coupang, _ = accounts
    make_inquiry(coupang, status="AUTO_SEND", created_at=seoul_day(-3, 10))
    make_inquiry(coupang, status="CLOSED", created_at=seoul_day(-3, 11))
    days = automation_by_day(days=14)
    assert len(days) == 14 and days[-1]["day"] == timezone.localdate().isoformat()
    by_day = {d["day"]: d for d in days}
    assert by_day[seoul_day(-3).date().isoformat()]["auto_rate"] == 50.0
    assert by_day[seoul_day(-4).date().isoformat()]["auto_rate"] is None


def test_failure_rates__per_market_and_account__test_mode_excluded(accounts):
    coupang, naver = accounts
    attempts(coupang, ok=8, failed=1, unknown=1, test_mode=5)
    attempts(naver, ok=4)
    rows = {r["account"]: r for r in failure_rates(window=dt.timedelta(days=30))}
    assert rows["coupang_main"] == {
        "market": "COUPANG",
        "account": "coupang_main",
        "attempted": 10,
        "sent": 8,
        "failed": 1,
        "unknown": 1,
        "failure_rate": 10.0,
    }
    assert rows["smartstore"]["failure_rate"] == 0.0 and rows["smartstore"]["market"] == "SMARTSTORE"


def test_realtime__auto_send_in_the_window(accounts):
    coupang, _ = accounts
    attempts(coupang, ok=3, failed=1, test_mode=2)
    attempts(coupang, ok=5, at=timezone.now() - dt.timedelta(hours=3))
    [row] = realtime(window=dt.timedelta(hours=1))
    assert (row["market"], row["total"], row["sent"], row["failed"], row["test_mode"]) == ("COUPANG", 6, 3, 1, 2)
    assert row["avg_confidence"] == 0.95


def test_daily_failure_rates__real_attempts_per_seoul_day(accounts):
    coupang, naver = accounts
    attempts(coupang, ok=19, failed=1, at=seoul_day(-1, 0))  # just after midnight Seoul: that day, not the one before
    attempts(naver, failed=2, test_mode=10, at=seoul_day(-1, 23))
    series = daily_failure_rates(3)
    assert [d["day"] for d in series] == [seoul_day(o).date().isoformat() for o in (-2, -1, 0)]
    assert series[0]["attempts"] == 0 and series[0]["rate"] is None
    assert series[1]["attempts"] == 22 and series[1]["failed"] == 3 and series[1]["rate"] == pytest.approx(3 / 22)


def test_quota_today__sends_against_quota_and_consecutive_failures(accounts):
    coupang, naver = accounts
    for _ in range(3):
        quota_consume(account_id=coupang.pk, limit=10)
    attempts(coupang, ok=3, failed=1)
    AccountRollout.objects.filter(account=coupang).update(consecutive_failures=1)
    rollout_lock(account=naver, reason="maintenance", actor=SYSTEM)
    rows = {r["account"]: r for r in quota_today()}
    assert rows["coupang_main"]["quota_used"] == 3 and rows["coupang_main"]["quota"] == 10
    assert rows["coupang_main"]["sent_today"] == 3 and rows["coupang_main"]["failure_rate_24h"] == 25.0
    assert rows["coupang_main"]["consecutive_failures"] == 1 and rows["coupang_main"]["phase"] == 1
    assert rows["smartstore"]["quota"] is None and rows["smartstore"]["locked"] is True
    assert rows["smartstore"]["mode"] == Mode.SHADOW and rows["smartstore"]["lock_reason"] == "maintenance"


def test_kpi_report_and_command_json(accounts):
    coupang, _ = accounts
    attempts(coupang, ok=9, failed=1)
    report = kpi_report(window="1h")
    assert report["send_attempts"] == {"attempts": 10, "failed": 1, "failure_rate": 10.0}
    out = io.StringIO()
    call_command("kpi", "--window", "24h", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["window"] == "24h" and data["send_attempts"]["failed"] == 1
    assert {"shadow_stats_7d", "failure_rates", "realtime_auto_send", "failure_rate_by_day_7d", "quota_today"} <= set(
        data
    )
    assert data["failure_rate_by_day_7d"][-1]["rate"] == 10.0


def test_kpi_command_table(accounts):
    coupang, _ = accounts
    attempts(coupang, ok=9, failed=1, test_mode=3)
    out = io.StringIO()
    call_command("kpi", stdout=out)
    text = out.getvalue()
    for heading in ("[1.2]", "[1.3]", "[4.1.1]", "[3.2.4]"):
        assert heading in text
    assert "실제 전송 시도 10건, 실패 1건, 실패율 10.0% (테스트 모드 제외)" in text
    assert "+00:00" not in text and " KST" in text
    assert "coupang_main" in text
    # [1.3]: the account column starts at the same terminal column in the Korean header and in the row
    section = text.split("[1.3]")[1].split("[4.1.1]")[0].splitlines()
    header = next(line for line in section if "시도 문의" in line)
    row = next(line for line in section if "coupang_main" in line)
    assert display_width(header[: header.index("계정")]) == display_width(row[: row.index("coupang_main")])


def test_kpi_command_rejects_an_unknown_window():
    with pytest.raises(CommandError, match="알 수 없는 기간 '2h'"):
        call_command("kpi", "--window", "2h")


def test_kpi_queries_do_not_grow_with_history(accounts, django_assert_max_num_queries):
    coupang, naver = accounts
    attempts(coupang, ok=200, failed=20)
    attempts(naver, ok=100, at=timezone.now() - dt.timedelta(days=40))
    with django_assert_max_num_queries(30):
        kpi_report(window="30d")
