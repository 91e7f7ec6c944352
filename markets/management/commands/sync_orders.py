from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from markets.management.accounts import check_names, failed_accounts_error, write_results
from markets.orders import sync_orders


def _describe(r) -> str:
    return _("조회 %(fetched)s건, 새 주문 %(created)s건, 갱신 %(updated)s건, 형식 오류 %(malformed)s건") % {
        "fetched": r.fetched,
        "created": r.created,
        "updated": r.updated,
        "malformed": r.malformed,
    }


class Command(BaseCommand):
    help = _("마켓의 주문과 배송 상태를 market_order로 가져옵니다 (스케줄도 같은 코드를 실행합니다).")

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", action="append", default=[], metavar="N", help=_("이 계정만 (여러 번 쓸 수 있음)")
        )

    def handle(self, *args, account, **options):
        check_names(account)
        results = sync_orders(names=account or None)
        failed = write_results(
            self, results, _describe, nothing=_("동기화할 활성 계정이 없습니다 (`market_account add`로 등록하세요)")
        )
        if failed:
            raise failed_accounts_error(failed, results)
