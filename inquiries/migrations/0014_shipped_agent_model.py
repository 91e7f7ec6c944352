"""Install the shipped agent version (inquiries/agent/data/shipped-model.npz) as version 1, active for every
account, on a database that has no version yet: a new installation decides with the trained model from its
first inquiry. A rollout manager can deactivate or replace it in the admin (AI 모델 버전); without an
active version the rules classifier decides."""

from django.db import migrations
from django.utils import timezone

SHIPPED_BY = "partialauto (shipped)"


def install(apps, schema_editor):
    from inquiries.agent.textmodel import SHIPPED_MODEL, AgentModelArtifact

    AgentModel = apps.get_model("inquiries", "AgentModel")
    if AgentModel.objects.using(schema_editor.connection.alias).exists() or not SHIPPED_MODEL.exists():
        return  # (the file is missing only while scripts/build_shipped_model.py builds it)
    blob = SHIPPED_MODEL.read_bytes()
    try:
        shipped = AgentModelArtifact.from_bytes(blob).meta.get("shipped") or {}
    except ValueError:
        return  # a file of an older format, only while scripts/build_shipped_model.py rebuilds it
    now = timezone.now()
    AgentModel.objects.using(schema_editor.connection.alias).create(
        version=1, account=None, is_active=True, created_by=SHIPPED_BY, activated_at=now, activated_by=SHIPPED_BY,
        training_data=shipped.get("training_data") or {}, metrics=shipped.get("metrics") or {},
        notes="partialauto에 포함된 기본 버전: 제공된 학습 데이터로 학습", artifact=blob)


def uninstall(apps, schema_editor):
    AgentModel = apps.get_model("inquiries", "AgentModel")
    AgentModel.objects.using(schema_editor.connection.alias).filter(version=1, created_by=SHIPPED_BY).delete()


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0013_agent_model_permission")]
    operations = [migrations.RunPython(install, uninstall)]
