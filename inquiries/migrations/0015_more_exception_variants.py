"""Two more ways of saying it, added to the keyword rows ops already have (nothing is removed): a parcel
marked delivered that the buyer cannot find ("어디에 두셨는지…"), and an exception asked for while
acknowledging the rule ("취소 불가라고 되어 있는 건 봤는데요…")."""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.agent.seed_data import VARIANTS_ADDED

    RiskKeyword = apps.get_model("policy", "RiskKeyword")
    for term, added in VARIANTS_ADDED.items():
        for keyword in RiskKeyword.objects.filter(term=term):
            variants = list(keyword.variants or [])
            missing = [v for v in added if v not in variants]
            if missing:
                keyword.variants = variants + missing
                keyword.save(update_fields=["variants"])


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0014_shipped_agent_model")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
