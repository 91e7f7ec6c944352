"""The "경찰~" risk keyword learns where nobody threatens anyone (a parcel sent to a police station, a
family member who is an officer): the exclusions are added to the row ops have, nothing is removed."""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.agent.seed_data import POLICE_NOT_A_THREAT

    RiskKeyword = apps.get_model("policy", "RiskKeyword")
    for keyword in RiskKeyword.objects.filter(term="경찰~"):
        variants = list(keyword.variants or [])
        missing = [v for v in POLICE_NOT_A_THREAT if v not in variants]
        if missing:
            keyword.variants = variants + missing
            keyword.save(update_fields=["variants"])


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0011_more_screens")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
