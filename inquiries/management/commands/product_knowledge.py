"""Load or dump the seller's product facts (the admin edits the same records).

    product_knowledge import FILE [--account N] [--format json|csv]
    product_knowledge export [--account N] [--format json|csv]      (to standard output)

Without ``--account`` the knowledge is shared by every account. An import is all or nothing: a file
with any problem is refused with every problem listed, and nothing is written.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from inquiries import product_files, services
from markets.management.accounts import account_or_none
from markets.models import MarketAccount
from partialauto import datafiles
from partialauto.datafiles import DataFileError


class Command(BaseCommand):
    help = _(
        "판매자의 상품 사실을 가져오거나 내보냅니다. JSON: {product_id, name, facts: [문장, …], aliases?: [id, …]}의 "
        "목록; CSV: product_id,name,fact[,aliases], 사실마다 한 줄, aliases는 |로 구분. 다시 가져오면 그 상품의 이름과 "
        "사실(파일에 있으면 aliases도)을 바꾸고 다른 상품은 그대로 둡니다."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("import", help=_("JSON 또는 CSV 파일 가져오기 (전부 아니면 아무것도)"))
        load.add_argument("file", help=_("가져올 파일"))
        load.add_argument("--account", default=None, help=_("계정 이름; 없으면 모든 계정에 쓰는 사실"))
        load.add_argument(
            "--format", choices=datafiles.FORMATS, default=None, help=_("기본: 파일 확장자, 없으면 첫 글자로 판단")
        )
        dump = sub.add_parser("export", help=_("가져오기가 다시 받는 파일로 지식 출력"))
        dump.add_argument("--account", default=None, help=_("계정 이름; 없으면 공용 지식"))
        dump.add_argument("--format", choices=datafiles.FORMATS, default=datafiles.JSON, help=_("파일 형식"))

    def handle(self, *args, action: str, account: str | None, format: str | None, **options):
        target = account_or_none(account)
        if action == "export":
            text = product_files.product_knowledge_export(account=target, fmt=format or datafiles.JSON)
            self.stdout.write(text, ending="")
            if text.strip() in ("[]", "product_id,name,fact,aliases"):
                self.stderr.write(_("내보낼 상품 지식이 없습니다 (%(scope)s).") % {"scope": _scope(target)})
            return
        try:
            raw = datafiles.read_path(options["file"])
            result = services.product_knowledge_import(raw=raw, filename=options["file"], fmt=format, account=target)
        except DataFileError as exc:
            raise CommandError(_("가져오지 않았습니다. 아무것도 바뀌지 않았습니다.") + "\n" + str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "상품 지식을 가져왔습니다 (%(scope)s): 상품 %(created)s개 추가, "
                    "%(updated)s개 변경, %(unchanged)s개 그대로 · "
                    "사실 %(facts)s개 (새로 %(added)s, 삭제 %(removed)s)"
                )
                % {
                    "scope": _scope(target),
                    "created": result.created,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                    "facts": result.facts_written,
                    "added": result.facts_added,
                    "removed": result.facts_removed,
                }
            )
        )


def _scope(account: MarketAccount | None) -> str:
    return _("계정 %(name)s") % {"name": account.name} if account else _("모든 계정 공용")
