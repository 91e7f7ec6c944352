import datetime

from django.db import migrations

# The guide's three phases (3.2.3, 3.2.4, 3.3, 3.4).
PHASES = [
    (1, "1단계", False, ["배송문의", "사용법"], 10, "쿠팡 메인부터: 배송문의·사용법만, 일일 10건"),
    (2, "2단계", False, ["배송문의", "사용법", "상품문의"], 30, "상품문의 추가, 일일 30건"),
    (3, "3단계", True, [], None, "전면 해금: 모든 의도, 한도 없음"),
]

# The guide's rollback table 4.1.2. Thresholds: counts, or ratios in [0, 1].
RULES = [
    dict(code="risk-keyword-auto-send", name='"법적", "소비자원", "클레임" 키워드 건이 AUTO_SEND로 탐지됨',
         metric="RISK_AUTO_SEND", comparison=">=", threshold=1, window_minutes=60, min_sample=0,
         action="GLOBAL_TEST_MODE", severity="IMMEDIATE",
         description="위험 키워드가 있는 문의가 자동 전송 판정을 받으면 즉시 전역 테스트 모드로 전환"),
    dict(code="consecutive-failures", name="동일 계정에서 연속 3건 실패",
         metric="CONSECUTIVE_FAILURES", comparison=">=", threshold=3, window_minutes=24 * 60, min_sample=3,
         action="LOCK_ACCOUNT", severity="IMMEDIATE", description="해당 계정 해금 해제"),
    dict(code="failed-per-hour", name="1시간 내 SEND_FAILED > 5건",
         metric="FAILED_COUNT", comparison=">", threshold=5, window_minutes=60, min_sample=0,
         action="GLOBAL_TEST_MODE", severity="IMMEDIATE", description="전역 테스트 모드로 긴급 롤백"),
    dict(code="account-failure-rate-24h", name="24시간 내 실패율 >= 2% (계정별)",
         metric="ACCOUNT_FAILURE_RATE", comparison=">=", threshold=0.02, window_minutes=24 * 60, min_sample=50,
         action="LOCK_ACCOUNT", severity="DAILY", description="문제 계정만 해금 해제"),
    dict(code="global-failure-rate-24h", name="24시간 내 실패율 >= 5% (전체)",
         metric="GLOBAL_FAILURE_RATE", comparison=">=", threshold=0.05, window_minutes=24 * 60, min_sample=20,
         action="GLOBAL_TEST_MODE", severity="DAILY", description="전역 테스트 모드로 전체 차단"),
    dict(code="failure-rate-7d-streak", name="7일 연속 실패율 >= 3%",
         metric="DAILY_FAILURE_RATE_STREAK", comparison=">=", threshold=0.03, window_minutes=24 * 60,
         streak_days=7, min_sample=10, action="SHADOW_MODE", severity="WEEKLY",
         description="섀도 모드로 복귀 (ENABLE_CS_PARTIAL_AUTO=false)"),
]

# The guide's 5.2 final approval checklist.
CHECKLIST = [
    ("production-ready-tests", "모든 Production-Ready 테스트 통과", False),
    ("phases-1-4-done", "Phase 1-4 모두 완료", False),
    ("seven-days-under-5pct", "7일 연속 실패율 < 5%", True),
    ("ops-training", "운영팀 교육 완료", False),
    ("rollback-doc-shared", "롤백 절차 문서 공유", False),
    ("monitoring-dashboard", "모니터링 대시보드 설정 완료", True),
]

# The guide's own words, plus the legal terms every later list builds on.
RISK_KEYWORDS = [
    ("법적", "LEGAL", ["법적조치", "법적 대응", "법적으로 대응"]),
    ("소비자원", "REGULATOR", ["소보원", "한국소비자원", "소비자보호원"]),
    ("클레임", "CLAIM", ["크레임"]),
]


def seed(apps, schema_editor):
    Intent = apps.get_model("inquiries", "Intent")
    Settings = apps.get_model("policy", "AutomationSettings")
    Hours = apps.get_model("policy", "BusinessHoursRange")
    Phase = apps.get_model("policy", "RolloutPhase")
    Rule = apps.get_model("policy", "RollbackRule")
    Item = apps.get_model("policy", "ChecklistItem")
    Keyword = apps.get_model("policy", "RiskKeyword")

    Settings.objects.get_or_create(pk=1)
    if not Hours.objects.exists():
        for weekday in range(5):
            Hours.objects.create(weekday=weekday, start=datetime.time(9), end=datetime.time(18))
    for number, name, all_intents, intents, quota, description in PHASES:
        phase, _ = Phase.objects.update_or_create(
            number=number,
            defaults={"name": name, "all_intents": all_intents, "daily_quota": quota, "description": description},
        )
        phase.allowed_intents.set(Intent.objects.filter(name__in=intents))
    for rule in RULES:
        Rule.objects.update_or_create(code=rule["code"], defaults=rule)
    for order, (code, title, automatic) in enumerate(CHECKLIST):
        Item.objects.update_or_create(code=code, defaults={"title": title, "is_automatic": automatic, "sort_order": order})
    for term, category, variants in RISK_KEYWORDS:
        Keyword.objects.update_or_create(term=term, defaults={"category": category, "variants": variants})


class Migration(migrations.Migration):
    dependencies = [("policy", "0001_initial"), ("inquiries", "0002_seed_intents")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
