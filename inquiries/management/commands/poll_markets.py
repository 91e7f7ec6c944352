from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from inquiries.ingest import PollSummary, poll_markets
from markets.management.accounts import check_names, failed_accounts_error, write_results


def _describe(r: PollSummary) -> str:
    line = _(
        "조회 %(fetched)s건, 새 문의 %(created)s건, 다른 곳에서 답변됨 %(elsewhere)s건, 형식 오류 %(malformed)s건"
    ) % {"fetched": r.fetched, "created": r.created, "elsewhere": r.answered_elsewhere, "malformed": r.malformed}
    if r.swept:
        line += "; " + _("미답변 재수집: 조회 %(fetched)s건, 새 문의 %(created)s건") % {
            "fetched": r.sweep_fetched,
            "created": r.sweep_created,
        }
    return line


class Command(BaseCommand):
    help = _("마켓에서 새 문의를 지금 수집합니다 (스케줄도 같은 코드를 실행합니다).")

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", action="append", default=[], metavar="N", help=_("이 계정만 (여러 번 쓸 수 있음)")
        )
        parser.add_argument(
            "--sweep",
            action="store_true",
            help=_(
                "기준 시각 수집 뒤에 미답변 문의를 조회 가능한 전체 기간에서 다시 수집합니다 "
                "(늦게 나타난 문의; 미답변 재수집 스케줄과 같은 일)."
            ),
        )

    def handle(self, *args, account, sweep, **options):
        check_names(account)
        results = poll_markets(names=account or None, sweep=sweep)
        failed = write_results(
            self, results, _describe, nothing=_("수집할 활성 계정이 없습니다 (`market_account add`로 등록하세요)")
        )
        if failed:
            raise failed_accounts_error(failed, results)
