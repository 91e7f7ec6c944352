"""The starter knowledge base's general guidance ("see the detail page / the manual") states no fact:
mark those entries so that they alone never make an answer that is sent automatically."""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.agent.seed_data import STARTER_KNOWLEDGE_BASE

    KnowledgeEntry = apps.get_model("inquiries", "KnowledgeEntry")
    for item in STARTER_KNOWLEDGE_BASE:
        if item.get("states_facts", True) is False:
            KnowledgeEntry.objects.filter(title=item["title"][:120], intent__name=item["intent"]).update(states_facts=False)


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0007_grounding")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
