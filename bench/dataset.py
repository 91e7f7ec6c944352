"""Bulk data for the read-side benchmarks: inquiries with 90 days of history, several accounts,
realistic status mixes, and their send attempts — generated inside PostgreSQL with
``INSERT … SELECT generate_series`` (no Python per row), then ``ANALYZE``.

Mix (per generated inquiry, drawn with a seeded ``random()``):
  status          HUMAN_REVIEW 40 %, AUTO_SEND 30 %, ANSWERED_ELSEWHERE 15 %, CLOSED 9 %, APPROVED 5.8 %, NEW 0.2 %
  decision_mode   by account: LIVE, TEST or SHADOW (see ACCOUNTS)
  send_status     AUTO_SEND/APPROVED that were sent: SENT 95 %, SEND_FAILED 3.5 % (test-mode ones in TEST
                  accounts), SEND_UNKNOWN 0.5 %, SENDING 0.2 %, NOT_SENT 0.8 %; shadow candidates and
                  the rest NOT_SENT; a few HUMAN_REVIEW rows are sends that finally failed
  created_at      over the last 90 days in insertion order (a poller stores inquiries roughly in the
                  order they are asked), with a few minutes of jitter; NEW rows: the last hour
  send attempts   one row per inquiry with send_attempts > 0, started shortly after the decision,
                  outcome matching the row (DELIVERED, FAILED_RETRYABLE, UNKNOWN, TEST_MODE, PENDING)

Inquiry events (the audit trail) are not generated: none of the measured pages or figures read them.
"""

from __future__ import annotations

import common

ACCOUNTS = [  # name, market, rollout mode, phase
    ("coupang_main", "COUPANG", "LIVE", 3),
    ("coupang_second", "COUPANG", "LIVE", 2),
    ("coupang_outlet", "COUPANG", "TEST", 1),
    ("coupang_new", "COUPANG", "SHADOW", None),
    ("smartstore_main", "SMARTSTORE", "LIVE", 3),
    ("smartstore_second", "SMARTSTORE", "TEST", 1),
    ("smartstore_new", "SMARTSTORE", "SHADOW", None),
    ("smartstore_b2b", "SMARTSTORE", "LIVE", 2),
]
INTENTS = ["배송문의", "사용법", "상품문의", "교환반품", "환불", "주문취소", "재입고", "기타"]
CONTENTS = [
    "주문한 상품 언제 배송되나요? 출고일 알려주세요.",
    "사용 방법을 잘 모르겠어요. 설명서가 없네요.",
    "이 상품 사이즈가 정사이즈인가요?",
    "교환하고 싶은데 어떻게 하나요? 색상이 달라요.",
    "환불은 언제 처리되나요? 반품 보냈습니다.",
    "주문 취소하고 싶어요. 아직 발송 전이죠?",
    "품절된 색상 재입고 예정 있나요?",
    "포장 상태가 좋지 않았어요. 확인 부탁드립니다.",
]


def create_accounts() -> list:
    from policy.services import SYSTEM, settings_update

    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    return [
        common.offline_account(name, market, index, tag="D", mode=mode, phase=phase)
        for index, (name, market, mode, phase) in enumerate(ACCOUNTS)
    ]


def generate(rows: int, *, seed: float = 0.42, first_external_id: int = 1, decided_within: str | None = None) -> int:
    """Insert ``rows`` inquiries (and their send attempts) spread over the last 90 days; returns the
    number of send attempts inserted. The accounts must exist (``create_accounts``).

    ``decided_within`` (a PostgreSQL interval, e.g. ``'60 minutes'``): instead, every row is an AUTO_SEND
    decision, the rows decided one after the other over that interval, ending now (a busy shop's last
    hour, in the physical order a live system writes it)."""
    from django.db import connection

    from inquiries.models import Inquiry
    from markets.models import MarketAccount

    accounts = list(MarketAccount.objects.order_by("name").values_list("id", "market_code", "name"))
    modes = {name: mode for name, _m, mode, _p in ACCOUNTS}
    ids = "ARRAY[" + ",".join(f"'{a[0]}'::uuid" for a in accounts) + "]"
    markets = "ARRAY[" + ",".join(f"'{a[1]}'" for a in accounts) + "]"
    acc_modes = "ARRAY[" + ",".join(f"'{modes.get(a[2], 'LIVE')}'" for a in accounts) + "]"
    n = len(accounts)
    intents = "ARRAY[" + ",".join(f"'{i}'" for i in INTENTS) + "]"
    contents = "ARRAY[" + ",".join("'" + c.replace("'", "''") + "'" for c in CONTENTS) + "]"
    # Per row: g (serial), a (account slot, 1-based), r1..r4 (random draws), t (created_at; decided 2 minutes later).
    created = f"""CASE WHEN r1 >= 0.998 THEN now() - r2 * interval '1 hour'
                    ELSE now() - (1.0 - (g - {first_external_id})::float / {rows}) * interval '90 days'
                         - interval '10 minutes' * r2 END"""
    if decided_within:  # in the order they were decided, as a live system writes them (and their sends)
        created = (
            f"now() - interval '2 minutes' - (1.0 - (g - {first_external_id} + r2)::float / {rows})"
            f" * interval '{decided_within}'"
        )
    base = f"""
        SELECT g, a, r1, r2, r3, r4, {created} AS t
        FROM (SELECT g, 1 + mod(g, {n}) AS a, random() AS r1, random() AS r2, random() AS r3, random() AS r4
              FROM generate_series({first_external_id}, {first_external_id + rows - 1}) AS g) AS raw
    """
    status = (
        "'AUTO_SEND'"
        if decided_within
        else """CASE WHEN b.r1 < 0.40 THEN 'HUMAN_REVIEW' WHEN b.r1 < 0.70 THEN 'AUTO_SEND'
                     WHEN b.r1 < 0.85 THEN 'ANSWERED_ELSEWHERE' WHEN b.r1 < 0.94 THEN 'CLOSED'
                     WHEN b.r1 < 0.998 THEN 'APPROVED' ELSE 'NEW' END"""
    )
    expressions = {
        "account_id": f"({ids})[b.a]",
        "market_code": f"({markets})[b.a]",
        "kind": f"CASE WHEN ({markets})[b.a] = 'COUPANG' THEN (CASE WHEN b.r4 < 0.8 THEN 'COUPANG_ONLINE' "
        f"ELSE 'COUPANG_CALLCENTER' END) "
        f"ELSE (CASE WHEN b.r4 < 0.6 THEN 'NAVER_QNA' ELSE 'NAVER_INQUIRY' END) END",
        "external_id": "b.g::text",
        "created_at": "b.t",
        "ingested_at": "now()",
        "updated_at": "now()",
        "title": "''",
        # a busy hour's texts are all different (the risk matcher's normalisation cache does not help)
        "content": f"({contents})[1 + mod(b.g, {len(CONTENTS)})]"
        + (" || ' 주문번호 ' || b.g" if decided_within else ""),
        "status": "s.status",
        "intent": f"CASE WHEN s.status = 'NEW' THEN '' ELSE ({intents})[1 + mod(b.g / 7, {len(INTENTS)})] END",
        "confidence_score": (
            "CASE WHEN s.status = 'NEW' THEN NULL ELSE round((0.5 + b.r3 * 0.5)::numeric, 3)::float END"
        ),
        "draft_answer": (
            "CASE WHEN s.status = 'NEW' THEN '' ELSE "
            "'안녕하세요 고객님, 문의 주셔서 감사합니다. 확인 후 안내드리겠습니다.' END"
        ),
        "final_answer": (
            "CASE WHEN s.status IN ('AUTO_SEND', 'APPROVED') THEN "
            "'안녕하세요 고객님, 문의 주셔서 감사합니다. 확인 후 안내드리겠습니다.' "
            "ELSE '' END"
        ),
        "decision_reason": "CASE WHEN s.status = 'NEW' THEN '' ELSE 'bench' END",
        "decision_mode": f"CASE WHEN s.status = 'NEW' THEN '' ELSE ({acc_modes})[b.a] END",
        "decided_at": "CASE WHEN s.status = 'NEW' THEN NULL ELSE b.t + interval '2 minutes' END",
        "send_status": "s.send_status",
        "send_attempts": (
            "CASE WHEN s.send_status IN ('SENT', 'SEND_FAILED', 'SEND_UNKNOWN', 'SENDING') THEN 1 ELSE 0 END"
        ),
        "is_test_mode": f"(s.send_status = 'SEND_FAILED' AND ({acc_modes})[b.a] = 'TEST')",
        "last_send_error": f"CASE WHEN s.send_status = 'SEND_FAILED' AND ({acc_modes})[b.a] = 'TEST' "
        f"THEN '[TEST_MODE] Real API send blocked' "
        f"WHEN s.send_status = 'SEND_FAILED' THEN 'FAILED_RETRYABLE: HTTP 503' ELSE '' END",
        "claim_token": "CASE WHEN s.send_status = 'SENDING' THEN gen_random_uuid() ELSE NULL END",
        "claimed_at": "CASE WHEN s.send_status = 'SENDING' THEN now() - b.r3 * interval '1 minute' ELSE NULL END",
        "lease_expires_at": "CASE WHEN s.send_status = 'SENDING' THEN now() + interval '1 minute' ELSE NULL END",
        "sent_at": "CASE WHEN s.send_status = 'SENT' THEN b.t + interval '3 minutes' ELSE NULL END",
    }
    # send_status per decision (TEST accounts' sends end SEND_FAILED with the test-mode mark; SHADOW: not sent)
    send_status = f"""CASE
        WHEN st.status IN ('AUTO_SEND', 'APPROVED') AND ({acc_modes})[b.a] = 'SHADOW' \
AND st.status = 'AUTO_SEND' THEN 'NOT_SENT'
        WHEN st.status IN ('AUTO_SEND', 'APPROVED') AND ({acc_modes})[b.a] = 'TEST' THEN 'SEND_FAILED'
        WHEN st.status IN ('AUTO_SEND', 'APPROVED') THEN (CASE WHEN b.r3 < 0.95 THEN 'SENT' \
WHEN b.r3 < 0.985 THEN 'SEND_FAILED'
                                                             WHEN b.r3 < 0.99 THEN 'SEND_UNKNOWN' \
WHEN b.r3 < 0.992 THEN 'SENDING'
                                                             ELSE 'NOT_SENT' END)
        WHEN st.status = 'HUMAN_REVIEW' AND b.r3 < 0.02 THEN 'SEND_FAILED'
        ELSE 'NOT_SENT' END"""
    fields = [f for f in Inquiry._meta.concrete_fields if not f.primary_key]
    columns, values, params = [], [], []
    for f in fields:
        columns.append(connection.ops.quote_name(f.column))
        if f.column in expressions:
            values.append(expressions[f.column])
        else:
            default = f.get_default()
            if default is None and f.null:
                values.append("NULL")
            else:
                values.append("%s")
                params.append(f.get_db_prep_save(default, connection))
    table = connection.ops.quote_name(Inquiry._meta.db_table)
    sql = f"""
        INSERT INTO {table} ({", ".join(columns)})
        SELECT {", ".join(values)}
        FROM ({base}) AS b
        CROSS JOIN LATERAL (SELECT {status} AS status) AS st
        CROSS JOIN LATERAL (SELECT st.status AS status, {send_status} AS send_status) AS s
    """
    attempts_sql = """
        INSERT INTO market_send_attempt (inquiry_id, account_id, market_code, attempt_no, claim_token, outcome,
                                         http_status, error, is_test_mode, started_at, finished_at)
        SELECT id, account_id, market_code, 1, gen_random_uuid(),
               CASE send_status WHEN 'SENT' THEN 'DELIVERED' WHEN 'SEND_UNKNOWN' THEN 'UNKNOWN' \
WHEN 'SENDING' THEN 'PENDING'
                    ELSE (CASE WHEN is_test_mode THEN 'TEST_MODE' ELSE 'FAILED_RETRYABLE' END) END,
               CASE send_status WHEN 'SENT' THEN 200 WHEN 'SEND_FAILED' THEN \
(CASE WHEN is_test_mode THEN NULL ELSE 503 END) ELSE NULL END,
               '', is_test_mode, COALESCE(claimed_at, decided_at + interval '1 minute'),
               CASE WHEN send_status = 'SENDING' THEN NULL ELSE COALESCE(sent_at, decided_at + interval '1 minute') END
        FROM market_inquiry_raw
        WHERE send_attempts > 0 AND id > %s
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM market_inquiry_raw")
        last_id = cursor.fetchone()[0]
        cursor.execute("SELECT setseed(%s)", [seed])
        cursor.execute(sql, params)
        cursor.execute(attempts_sql, [last_id])
        attempts = cursor.rowcount
        cursor.execute("ANALYZE")
    return attempts


def counts() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT (SELECT count(*) FROM market_inquiry_raw),
                   (SELECT count(*) FROM market_send_attempt),
                   (SELECT count(*) FROM market_inquiry_raw WHERE created_at >= now() - interval '1 hour'),
                   (SELECT count(*) FROM market_inquiry_raw WHERE created_at >= now() - interval '24 hours'),
                   (SELECT count(*) FROM market_send_attempt WHERE started_at >= now() - interval '24 hours'),
                   (SELECT count(*) FROM market_send_attempt WHERE started_at >= now() - interval '7 days'),
                   (SELECT pg_size_pretty(pg_total_relation_size('market_inquiry_raw')))
        """)
        row = cursor.fetchone()
    return {
        "inquiries": row[0],
        "send_attempts": row[1],
        "inquiries_last_hour": row[2],
        "inquiries_last_24h": row[3],
        "attempts_last_24h": row[4],
        "attempts_last_7d": row[5],
        "inquiry_table_size": row[6],
    }
