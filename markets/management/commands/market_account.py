from django.core.management.base import BaseCommand, CommandError

from markets import services
from markets.models import MarketAccount


class Command(BaseCommand):
    help = "Register and list market accounts. Secrets are stored encrypted and never printed."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register an account")
        add.add_argument("--name", required=True)
        add.add_argument("--market", required=True, help="COUPANG or SMARTSTORE")
        add.add_argument("--vendor-id", default="")
        add.add_argument("--access-key", default="")
        add.add_argument("--secret-key", default="")
        add.add_argument("--reply-by", default="")
        add.add_argument("--client-id", default="")
        add.add_argument("--client-secret", default="")
        add.add_argument("--api-base-url", default="", help="only for the sandbox or a proxy")
        add.add_argument("--seller-name", default="")
        add.add_argument("--inactive", action="store_true")
        sub.add_parser("list", help="list accounts (never their secrets)")

    def handle(self, *args, action, **o):
        if action == "add":
            try:
                account = services.account_create(
                    name=o["name"], market_code=o["market"], vendor_id=o["vendor_id"], access_key=o["access_key"],
                    secret_key=o["secret_key"], reply_by=o["reply_by"], client_id=o["client_id"],
                    client_secret=o["client_secret"], api_base_url=o["api_base_url"], is_active=not o["inactive"],
                    seller_name=o["seller_name"],
                )
            except services.AccountError as exc:
                raise CommandError(str(exc)) from exc
            except Exception as exc:  # model validation (bad name, bad URL)
                from django.core.exceptions import ValidationError

                if isinstance(exc, ValidationError):
                    raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
                raise
            self.stdout.write(self.style.SUCCESS(f"registered {account.name} ({account.market_code}, id {account.id}); "
                                                 "credentials stored encrypted"))
            return
        rows = MarketAccount.objects.select_related("rollout").order_by("name")
        self.stdout.write(f"{'name':<18} {'market':<11} {'active':<7} {'mode':<7} {'credentials':<12} {'api':<30} id")
        for a in rows:
            mode = getattr(getattr(a, "rollout", None), "mode", "SHADOW")
            self.stdout.write(f"{a.name:<18} {a.market_code:<11} {str(a.is_active):<7} {mode:<7} "
                              f"{'stored' if a.has_credentials else 'missing':<12} {a.api_base_url or 'marketplace':<30} {a.id}")
