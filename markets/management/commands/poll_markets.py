from django.core.management.base import BaseCommand, CommandError

from markets.ingest import poll_markets
from markets.management.accounts import check_names, write_results


class Command(BaseCommand):
    help = "Fetch new inquiries from the marketplaces now (the schedule runs the same code)."

    def add_arguments(self, parser):
        parser.add_argument("--account", action="append", default=[], metavar="N", help="only this account (repeatable)")

    def handle(self, *args, account, **options):
        check_names(account)
        results = poll_markets(names=account or None)
        failed = write_results(self, results, lambda r: f"fetched {r.fetched}, new {r.created}, answered elsewhere "
                                                        f"{r.answered_elsewhere}, malformed {r.malformed}",
                               nothing="no active accounts to poll (register one with `market_account add`)")
        if failed:
            raise CommandError(f"{failed} of {len(results)} account(s) failed; their watermarks were kept, nothing was lost")
