from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from inquiries.sending import reconcile


class Command(BaseCommand):
    help = ("Settle SEND_UNKNOWN rows and SENDING rows whose lease is older than --stale-after seconds "
            "(default: the lease length) by asking the marketplace. Never sends an answer.")

    def add_arguments(self, parser):
        parser.add_argument("--stale-after", type=float, default=None, metavar="SECONDS")

    def handle(self, *args, stale_after, **options):
        if stale_after is not None and stale_after < 0:
            raise CommandError("--stale-after must be zero or more seconds")
        reports = reconcile(stale_after=stale_after, include_waiting=True)
        counts = Counter(r.result for r in reports)
        self.stdout.write(f"reconciled {len(reports)}: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to settle"))
        for r in reports:
            self.stdout.write(f"  inquiry {r.inquiry_id}: {r.result} — {r.detail}")
