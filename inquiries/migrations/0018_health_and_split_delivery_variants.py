"""Two more ways of saying it, added to the keyword rows ops already have (nothing is removed): a question
tied to the buyer's own, their child's or their pet's health condition ("임신 7개월인데", "투석 중이신
아버지", "아토피 있는 아기") is SAFETY, and splitting one order over several addresses, or having it arrive
on a chosen day or in a time window, is a custom order only a person may grant."""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.agent.seed_data import VARIANTS_ADDED_2

    RiskKeyword = apps.get_model("policy", "RiskKeyword")
    for term, added in VARIANTS_ADDED_2.items():
        for keyword in RiskKeyword.objects.filter(term=term):
            variants = list(keyword.variants or [])
            missing = [v for v in added if v not in variants]
            if missing:
                keyword.variants = variants + missing
                keyword.save(update_fields=["variants"])


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0017_follow_up")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
