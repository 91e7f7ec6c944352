from django.core.management.base import BaseCommand, CommandError

from markets.models import MarketAccount
from markets.orders import sync_orders


class Command(BaseCommand):
    help = "Mirror orders and shipping status from the marketplaces into market_order (the schedule runs the same code)."

    def add_arguments(self, parser):
        parser.add_argument("--account", action="append", default=[], metavar="N", help="only this account (repeatable)")

    def handle(self, *args, account, **options):
        unknown = sorted(set(account) - set(MarketAccount.objects.filter(name__in=account).values_list("name", flat=True)))
        if unknown:
            raise CommandError(f"unknown account(s): {', '.join(unknown)}")
        results = sync_orders(names=account or None)
        if not results:
            self.stdout.write("no active accounts to sync (register one with `market_account add`)")
        failed = 0
        for r in results:
            line = f"{r.account}: fetched {r.fetched}, new {r.created}, updated {r.updated}, malformed {r.malformed}"
            if r.ok:
                self.stdout.write(self.style.SUCCESS(line))
            else:
                failed += 1
                self.stdout.write(self.style.ERROR(line + " — FAILED: " + "; ".join(r.errors)))
        if failed:
            raise CommandError(f"{failed} of {len(results)} account(s) failed: "
                               + ", ".join(r.account for r in results if not r.ok)
                               + "; their watermarks were kept, nothing was lost")
