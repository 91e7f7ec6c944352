"""django-q2 under Korean names: its catalogue has no Korean, and its models name the admin sidebar's entries."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_q.apps import DjangoQConfig

# model name -> (singular, plural), as the admin sidebar and pages show them
TASK_QUEUE_MODEL_NAMES = {
    "task": (_("작업"), _("작업")),
    "success": (_("성공한 작업"), _("성공한 작업")),
    "failure": (_("실패한 작업"), _("실패한 작업")),
    "schedule": (_("예약 작업"), _("예약 작업")),
    "ormq": (_("대기 중인 작업"), _("대기 중인 작업")),
}


class TaskQueueConfig(DjangoQConfig):
    """django-q2 itself; only the names people read change (no table, label or migration does)."""

    def ready(self) -> None:
        super().ready()
        for model in self.get_models():
            names = TASK_QUEUE_MODEL_NAMES.get(model._meta.model_name)
            if names:
                model._meta.verbose_name, model._meta.verbose_name_plural = names
