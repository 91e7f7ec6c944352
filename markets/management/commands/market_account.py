from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from markets import services
from markets.models import MarketAccount
from partialauto import cli


class Command(BaseCommand):
    help = _("마켓 계정을 등록하고 목록을 봅니다. 비밀값은 암호화해 저장하고 출력하지 않습니다.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help=_("계정 등록"))
        add.add_argument("--name", required=True)
        add.add_argument("--market", required=True, help=_("COUPANG 또는 SMARTSTORE"))
        add.add_argument("--vendor-id", default="")
        add.add_argument("--access-key", default="")
        add.add_argument("--secret-key", default="")
        add.add_argument("--reply-by", default="")
        add.add_argument("--client-id", default="")
        add.add_argument("--client-secret", default="")
        add.add_argument("--api-base-url", default="", help=_("샌드박스나 프록시를 쓸 때만"))
        add.add_argument("--seller-name", default="")
        add.add_argument("--inactive", action="store_true")
        sub.add_parser("list", help=_("계정 목록 (비밀값은 출력하지 않음)"))

    def handle(self, *args, action, **o):
        if action == "add":
            try:
                account = services.account_create(
                    name=o["name"],
                    market_code=o["market"],
                    vendor_id=o["vendor_id"],
                    access_key=o["access_key"],
                    secret_key=o["secret_key"],
                    reply_by=o["reply_by"],
                    client_id=o["client_id"],
                    client_secret=o["client_secret"],
                    api_base_url=o["api_base_url"],
                    is_active=not o["inactive"],
                    seller_name=o["seller_name"],
                )
            except services.AccountError as exc:
                raise CommandError(str(exc)) from exc
            except Exception as exc:  # model validation (bad name, bad URL)
                from django.core.exceptions import ValidationError

                if isinstance(exc, ValidationError):
                    raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
                raise
            self.stdout.write(
                self.style.SUCCESS(
                    _("%(name)s 등록 (%(market)s, id %(id)s); 인증정보는 암호화해 저장했습니다")
                    % {"name": account.name, "market": account.market_code, "id": account.id}
                )
            )
            return
        rows = MarketAccount.objects.select_related("rollout").order_by("name")
        headers = [_("이름"), _("마켓"), _("사용"), _("모드"), _("인증정보"), _("API 주소"), "id"]
        lines = cli.table(headers, [self._row(a) for a in rows])
        self.stdout.write("\n".join(lines))

    @staticmethod
    def _row(a: MarketAccount) -> list:
        rollout = getattr(a, "rollout", None)  # every account gets one when it is added
        return [
            a.name,
            a.market_code,
            _("예") if a.is_active else _("아니오"),
            rollout.get_mode_display() if rollout is not None else "-",
            _("저장됨") if a.has_credentials else _("없음"),
            a.api_base_url or _("마켓 기본 주소"),
            a.id,
        ]
