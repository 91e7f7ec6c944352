from django.core.management.base import BaseCommand, CommandError

from markets.ingest import poll_markets
from markets.models import MarketAccount


class Command(BaseCommand):
    help = "Fetch new inquiries from the marketplaces now (the schedule runs the same code)."

    def add_arguments(self, parser):
        parser.add_argument("--account", action="append", default=[], metavar="N", help="only this account (repeatable)")

    def handle(self, *args, account, **options):
        unknown = sorted(set(account) - set(MarketAccount.objects.filter(name__in=account).values_list("name", flat=True)))
        if unknown:
            raise CommandError(f"unknown account(s): {', '.join(unknown)}")
        results = poll_markets(names=account or None)
        if not results:
            self.stdout.write("no active accounts to poll (register one with `market_account add`)")
        failed = 0
        for r in results:
            line = (f"{r.account}: fetched {r.fetched}, new {r.created}, answered elsewhere {r.answered_elsewhere}, "
                    f"malformed {r.malformed}")
            if r.ok:
                self.stdout.write(self.style.SUCCESS(line))
            else:
                failed += 1
                self.stdout.write(self.style.ERROR(line + " — FAILED: " + "; ".join(r.errors)))
        if failed:
            raise CommandError(f"{failed} of {len(results)} account(s) failed; their watermarks were kept, nothing was lost")
