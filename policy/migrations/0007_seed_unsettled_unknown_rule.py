from django.db import migrations

# Unknown outcomes are not failures (the guide's rules count confirmed ones); this rule watches the ones
# reconciliation cannot settle. Seeded on with a conservative default; editable in the admin.
RULE = dict(
    code="unknown-unsettled", name="결과 불명 60분 넘게 미정산 3건 이상 (계정별)",
    metric="UNSETTLED_UNKNOWN", comparison=">=", threshold=3, window_minutes=60, min_sample=3,
    action="LOCK_ACCOUNT", severity="IMMEDIATE",
    description="전송 결과 불명 건을 정산이 마켓에서 확인하지 못한 채 60분이 지나면 셉니다. 결과 불명 자체는 실패로 세지 않습니다.",
)


def seed(apps, schema_editor):
    Rule = apps.get_model("policy", "RollbackRule")
    Rule.objects.get_or_create(code=RULE["code"], defaults=RULE)


def unseed(apps, schema_editor):
    apps.get_model("policy", "RollbackRule").objects.filter(code=RULE["code"], incidents__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("policy", "0006_unsettled_unknown_rule_and_risk_scan"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
