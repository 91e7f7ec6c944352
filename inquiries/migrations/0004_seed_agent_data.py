"""Seed the agent's starter data: intent patterns, the risk lexicon and a starter knowledge base.

Ops replace the knowledge base with their own answers in the admin; the starter entries make routine
questions answerable out of the box. Existing rows are never overwritten.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.agent.seed_data import INTENT_PATTERNS, RISK_KEYWORDS, STARTER_KNOWLEDGE_BASE

    Intent = apps.get_model("inquiries", "Intent")
    KnowledgeEntry = apps.get_model("inquiries", "KnowledgeEntry")
    RiskKeyword = apps.get_model("policy", "RiskKeyword")
    for name, patterns in INTENT_PATTERNS.items():
        intent, _ = Intent.objects.get_or_create(name=name)
        if not intent.patterns:
            intent.patterns = list(patterns)
            intent.save(update_fields=["patterns"])
    for item in RISK_KEYWORDS:
        keyword, created = RiskKeyword.objects.get_or_create(
            term=item["term"], defaults={"category": item["category"], "variants": list(item["variants"]),
                                         "notes": (item.get("notes") or "")[:200]})
        if not created and not keyword.variants:
            keyword.variants = list(item["variants"])
            keyword.save(update_fields=["variants"])
    if not KnowledgeEntry.objects.exists():
        intents = {i.name: i for i in Intent.objects.all()}
        KnowledgeEntry.objects.bulk_create(
            KnowledgeEntry(intent=intents[item["intent"]], title=item["title"][:120], keywords=list(item["keywords"]),
                           body=item["body"], priority=item.get("priority", 0))
            for item in STARTER_KNOWLEDGE_BASE
        )


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0003_review_queue"), ("policy", "0002_seed_rollout")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
