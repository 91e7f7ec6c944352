"""The guide's SQL (sections 1.2, 1.3, 3.2.1, 3.2.4, 4.1.1, 4.2.3) runs verbatim on our schema.

The statements are copied here byte for byte; when the guide is present beside the checkout the test
also proves they still match it.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import make_account, make_inquiry

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SQL_1_2 = """-- 최근 7일간 Shadow Mode 통과 통계
SELECT
    DATE(created_at) as date,
    COUNT(*) as total_inquiries,
    SUM(CASE WHEN status = 'AUTO_SEND' THEN 1 ELSE 0 END) as auto_send_count,
    SUM(CASE WHEN status = 'AUTO_SEND' THEN 1 ELSE 0 END)::float / COUNT(*) * 100 as auto_rate
FROM market_inquiry_raw
WHERE created_at >= NOW() - INTERVAL '7 days'
GROUP BY DATE(created_at)
ORDER BY date DESC;"""

SQL_1_3 = """-- 최근 30일간 전송 실패율 (Shadow Mode에서의 실패 기록)
SELECT
    market_code,
    COUNT(*) as total_attempts,
    SUM(CASE WHEN send_status = 'SEND_FAILED' THEN 1 ELSE 0 END) as failed_count,
    SUM(CASE WHEN send_status = 'SEND_FAILED' THEN 1 ELSE 0 END)::float / COUNT(*) * 100 as failure_rate
FROM market_inquiry_raw
WHERE send_attempts > 0
  AND created_at >= NOW() - INTERVAL '30 days'
GROUP BY market_code;"""

SQL_3_2_1 = """-- 쿠팡 메인 계정 ID 찾기
SELECT id, name, market_code
FROM market_account
WHERE market_code = 'COUPANG'
  AND is_active = true;"""

SQL_3_2_4 = """-- 일일 전송 제한 확인 (설정 필요 시)
SELECT
    DATE(created_at) as date,
    account_id,
    COUNT(*) as count
FROM market_inquiry_raw
WHERE send_status = 'SENT'
  AND created_at >= NOW() - INTERVAL '1 day'
GROUP BY DATE(created_at), account_id
HAVING COUNT(*) > 10;"""

SQL_4_1_1 = """-- 실시간 AUTO_SEND 현황 (최근 1시간)
SELECT
    market_code,
    COUNT(*) as total,
    SUM(CASE WHEN send_status = 'SENT' THEN 1 ELSE 0 END) as sent,
    SUM(CASE WHEN send_status = 'SEND_FAILED' THEN 1 ELSE 0 END) as failed,
    AVG(confidence_score) as avg_confidence
FROM market_inquiry_raw
WHERE status = 'AUTO_SEND'
  AND created_at >= NOW() - INTERVAL '1 hour'
GROUP BY market_code;"""

SQL_4_2_3 = """-- 롤백 후 추가 실패 없는지 확인
SELECT *
FROM market_inquiry_raw
WHERE send_status = 'SEND_FAILED'
  AND created_at >= NOW() - INTERVAL '10 minutes'
ORDER BY created_at DESC;"""

GUIDE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "partial-auto-rollout-guide.ko.md"


def _guide_sql_blocks() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    # 3.2.4 ends with a `# …` comment that is not SQL.
    return [re.sub(r";\s*#[^\n]*", ";", b).strip() for b in blocks]


@pytest.mark.skipif(not GUIDE.exists(), reason="the guide is not beside this checkout")
def test_embedded_sql_is_the_guides_sql_verbatim():
    assert _guide_sql_blocks() == [SQL_1_2, SQL_1_3, SQL_3_2_1, SQL_3_2_4, SQL_4_1_1, SQL_4_2_3]


def _run(sql: str) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(sql)
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


@pytest.fixture
def history():
    """Realistic rows: two Coupang accounts, one SmartStore, an inactive one, a spread of states."""
    now = timezone.now()
    main = make_account("coupang_main")
    sub = make_account("coupang_sub")
    store = make_account("smartstore", market="SMARTSTORE")
    make_account("coupang_old", is_active=False)
    rows = []
    # 12 SENT auto answers for coupang_main in the last hour (so 3.2.4's HAVING > 10 fires), all on one
    # UTC day (3.2.4 groups by DATE(created_at) in the session's UTC): shortly after midnight UTC they
    # are packed between midnight and now instead of spread over the last 50 minutes.
    utc_midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = max(now - timedelta(minutes=50), utc_midnight + timedelta(seconds=1))
    step = min(timedelta(minutes=1), (now - first) / 13)
    for i in range(12):
        rows.append(
            make_inquiry(
                main,
                created_at=first + step * i,
                status="AUTO_SEND",
                send_status="SENT",
                send_attempts=1,
                confidence_score=0.95,
                intent="배송문의",
            )
        )
    # 2 failed auto sends for coupang_main in the last 5 minutes
    for i in range(2):
        rows.append(
            make_inquiry(
                main,
                created_at=now - timedelta(minutes=3 + i),
                status="AUTO_SEND",
                send_status="SEND_FAILED",
                send_attempts=2,
                confidence_score=0.91,
                last_send_error="HTTP 500",
            )
        )
    # coupang_sub: 3 sent yesterday-ish (within 30 days), 1 failed 20 days ago
    for i in range(3):
        rows.append(
            make_inquiry(
                sub,
                created_at=now - timedelta(days=2, minutes=i),
                status="AUTO_SEND",
                send_status="SENT",
                send_attempts=1,
                confidence_score=0.93,
            )
        )
    rows.append(
        make_inquiry(
            sub, created_at=now - timedelta(days=20), status="APPROVED", send_status="SEND_FAILED", send_attempts=3
        )
    )
    # smartstore: human review and shadow candidates within 7 days, never sent
    for i in range(4):
        rows.append(
            make_inquiry(
                store, created_at=now - timedelta(days=1, hours=i), status="HUMAN_REVIEW", confidence_score=0.4
            )
        )
    rows.append(
        make_inquiry(
            store,
            created_at=now - timedelta(days=1, hours=5),
            status="AUTO_SEND",
            confidence_score=0.97,
            decision_mode="SHADOW",
        )
    )
    # smartstore: 1 sent 30 minutes ago
    rows.append(
        make_inquiry(
            store,
            created_at=now - timedelta(minutes=30),
            status="AUTO_SEND",
            send_status="SENT",
            send_attempts=1,
            confidence_score=0.99,
        )
    )
    # old rows outside every window
    rows.append(
        make_inquiry(
            main, created_at=now - timedelta(days=45), status="AUTO_SEND", send_status="SEND_FAILED", send_attempts=1
        )
    )
    return {"main": main, "sub": sub, "store": store, "now": now, "rows": rows}


def test_1_2_shadow_statistics(history):
    result = _run(SQL_1_2)
    assert sum(r["total_inquiries"] for r in result) == 23  # all but the 20- and 45-day-old rows
    assert sum(r["auto_send_count"] for r in result) == 12 + 2 + 3 + 1 + 1
    for r in result:
        assert r["auto_rate"] == pytest.approx(r["auto_send_count"] / r["total_inquiries"] * 100)
    assert [r["date"] for r in result] == sorted((r["date"] for r in result), reverse=True)


def test_1_3_failure_rate_per_market(history):
    result = {r["market_code"]: r for r in _run(SQL_1_3)}
    assert set(result) == {"COUPANG", "SMARTSTORE"}
    assert result["COUPANG"]["total_attempts"] == 12 + 2 + 3 + 1
    assert result["COUPANG"]["failed_count"] == 3
    assert result["COUPANG"]["failure_rate"] == pytest.approx(3 / 18 * 100)
    assert result["SMARTSTORE"]["total_attempts"] == 1
    assert result["SMARTSTORE"]["failed_count"] == 0


def test_3_2_1_active_coupang_accounts(history):
    result = _run(SQL_3_2_1)
    assert sorted(r["name"] for r in result) == ["coupang_main", "coupang_sub"]
    assert {r["market_code"] for r in result} == {"COUPANG"}
    assert {r["id"] for r in result} == {history["main"].id, history["sub"].id}


def test_3_2_4_daily_quota_check(history):
    result = _run(SQL_3_2_4)
    assert len(result) == 1  # the 12 sends are on one UTC day
    assert result[0]["account_id"] == history["main"].id
    assert result[0]["count"] == 12


def test_4_1_1_realtime_kpi(history):
    result = {r["market_code"]: r for r in _run(SQL_4_1_1)}
    assert result["COUPANG"]["total"] == 14
    assert result["COUPANG"]["sent"] == 12
    assert result["COUPANG"]["failed"] == 2
    assert result["COUPANG"]["avg_confidence"] == pytest.approx((12 * 0.95 + 2 * 0.91) / 14)
    assert result["SMARTSTORE"]["total"] == 1 and result["SMARTSTORE"]["sent"] == 1


def test_4_2_3_failures_after_rollback(history):
    result = _run(SQL_4_2_3)
    assert len(result) == 2
    assert all(r["send_status"] == "SEND_FAILED" for r in result)
    assert result[0]["created_at"] >= result[1]["created_at"]
    assert {"content", "intent", "draft_answer", "final_answer", "last_send_error"} <= set(result[0])
