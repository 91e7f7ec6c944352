"""A demand that the seller bear a cost beyond the order (a campsite's cancellation penalty, a fee paid
elsewhere) is a CLAIM, said without 보상 or 배상: "위약금을 판매자가 부담하라", "그 비용 물어내세요". Added to
the keyword rows ops already have (nothing is removed)."""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.agent.seed_data import VARIANTS_ADDED_3

    RiskKeyword = apps.get_model("policy", "RiskKeyword")
    for term, added in VARIANTS_ADDED_3.items():
        for keyword in RiskKeyword.objects.filter(term=term):
            variants = list(keyword.variants or [])
            missing = [v for v in added if v not in variants]
            if missing:
                keyword.variants = variants + missing
                keyword.save(update_fields=["variants"])


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0018_health_and_split_delivery_variants")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
