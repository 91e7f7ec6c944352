"""Seed the risk keywords of the newer categories (payment disputes, off-platform deals and phishing,
lost or misdelivered parcels, implied legal threats, hotline numbers, English and romanised words,
creators' videos, plain-words health incidents, data deletion) and the "needs a person" screen's
keywords. Rows ops already have (same term) are left as they are."""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.agent.seed_data import MORE_RISK_KEYWORDS, PERSON_KEYWORDS

    RiskKeyword = apps.get_model("policy", "RiskKeyword")
    for item in MORE_RISK_KEYWORDS + PERSON_KEYWORDS:
        RiskKeyword.objects.get_or_create(
            term=item["term"], defaults={"category": item["category"], "variants": list(item["variants"]),
                                         "notes": (item.get("notes") or "")[:200]})


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0010_agent_models"), ("policy", "0005_more_screens")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
