from django.core.management.base import BaseCommand, CommandError

from markets.management.accounts import check_names, write_results
from markets.orders import sync_orders


class Command(BaseCommand):
    help = "Mirror orders and shipping status from the marketplaces into market_order (the schedule runs the same code)."

    def add_arguments(self, parser):
        parser.add_argument("--account", action="append", default=[], metavar="N", help="only this account (repeatable)")

    def handle(self, *args, account, **options):
        check_names(account)
        results = sync_orders(names=account or None)
        failed = write_results(self, results, lambda r: f"fetched {r.fetched}, new {r.created}, updated {r.updated}, "
                                                        f"malformed {r.malformed}",
                               nothing="no active accounts to sync (register one with `market_account add`)")
        if failed:
            raise CommandError(f"{failed} of {len(results)} account(s) failed: "
                               + ", ".join(r.account for r in results if not r.ok)
                               + "; their watermarks were kept, nothing was lost")
