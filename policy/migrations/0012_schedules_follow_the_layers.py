"""The schedules' tasks moved with the code: polling to ``inquiries.tasks``, deciding, sending and
reconciling to ``policy.tasks``. Rename what an installation already has, so its schedules keep
running before anyone runs ``setup_schedules`` again."""

from django.db import migrations

MOVED = {
    "markets.tasks.poll_markets_task": "inquiries.tasks.poll_markets_task",
    "markets.tasks.sweep_markets_task": "inquiries.tasks.sweep_markets_task",
    "inquiries.tasks.process_inquiries_task": "policy.tasks.process_inquiries_task",
    "inquiries.tasks.send_due_task": "policy.tasks.send_due_task",
    "inquiries.tasks.send_inquiry_task": "policy.tasks.send_inquiry_task",
    "inquiries.tasks.reconcile_task": "policy.tasks.reconcile_task",
}


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new in MOVED.items():
        Schedule.objects.filter(func=old).update(func=new)


def backwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new in MOVED.items():
        Schedule.objects.filter(func=new).update(func=old)


class Migration(migrations.Migration):
    dependencies = [
        ("policy", "0011_seed_intent_complaint_rule"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
