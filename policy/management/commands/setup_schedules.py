from django.core.management.base import BaseCommand

from partialauto.schedules import setup_schedules


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules (idempotent; run on every deploy)."

    def handle(self, *args, **options):
        for name, state in setup_schedules():
            self.stdout.write(f"{name}: {state}")
