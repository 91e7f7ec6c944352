from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partialauto.schedules import setup_schedules

STATES = {"created": gettext_lazy("만듦"), "updated": gettext_lazy("고침"), "unchanged": gettext_lazy("변경 없음")}


class Command(BaseCommand):
    help = _("django-q2 스케줄을 만들거나 고칩니다 (여러 번 실행해도 같음; 배포할 때마다 실행).")

    def handle(self, *args, **options):
        for name, state in setup_schedules():
            self.stdout.write(f"{name}: {STATES.get(state, state)}")
