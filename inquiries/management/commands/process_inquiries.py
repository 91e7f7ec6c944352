from django.core.management.base import BaseCommand, CommandError

from inquiries.decide import decide_new


class Command(BaseCommand):
    help = "Run the CS agent and the automation policy on NEW inquiries, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="at most this many inquiries")

    def handle(self, *args, limit, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number")
        s = decide_new(limit=limit)
        self.stdout.write(
            f"decided {s.decided}: AUTO_SEND {s.auto_send} (deferred {s.deferred}), shadow candidates "
            f"{s.shadow_candidates}, HUMAN_REVIEW {s.human_review}, errors {s.errors}"
        )
        for code, count in sorted(s.by_reason.items(), key=lambda kv: -kv[1]):
            self.stdout.write(f"  {code}: {count}")
