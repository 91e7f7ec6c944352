from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from inquiries.sending import send_due


class Command(BaseCommand):
    help = "Send what is due now, through the same claim/lease path as the workers."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100)

    def handle(self, *args, limit, **options):
        if limit < 1:
            raise CommandError("--limit must be a positive number")
        reports = send_due(limit=limit)
        counts = Counter(r.result for r in reports)
        self.stdout.write(f"processed {len(reports)}: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing due"))
