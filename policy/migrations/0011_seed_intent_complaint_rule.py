from django.db import migrations

# The guide's rollback table watches sends that failed; an answer delivered and wrong is invisible to it.
# This rule watches what buyers say after automatic answers (inquiries.followups): per account and
# intent, over 7 days, with at least 10 automatic answers (phase 1's daily quota), an intent whose
# answers drew a complaint follow-up 20 % of the time or more is taken out of automation for that
# account. Why these numbers: docs/operations-guide.ko.md, "재문의로 본 고객 불만족".
RULE = dict(
    code="intent-complaint-rate",
    name="자동 답변 불만 재문의율 >= 20% (계정·의도별, 7일)",
    metric="INTENT_COMPLAINT_RATE",
    comparison=">=",
    threshold=0.2,
    window_minutes=7 * 24 * 60,
    min_sample=10,
    action="WITHDRAW_INTENT",
    severity="DAILY",
    description="자동 답변 뒤 같은 주문·구매자가 '그게 아니라요', '아직도 안 되는데요'처럼 다시 문의한 비율. "
    "넘으면 그 계정에서 그 의도만 사람이 답합니다.",
)


def seed(apps, schema_editor):
    Rule = apps.get_model("policy", "RollbackRule")
    Rule.objects.get_or_create(code=RULE["code"], defaults=RULE)


def unseed(apps, schema_editor):
    apps.get_model("policy", "RollbackRule").objects.filter(code=RULE["code"], incidents__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("policy", "0010_intent_withdrawal"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
