"""Load or dump the seller's product facts (the admin edits the same records).

    product_knowledge import FILE [--account N] [--format json|csv]
    product_knowledge export [--account N] [--format json|csv]      (to standard output)

Without ``--account`` the knowledge is shared by every account. An import is all or nothing: a file
with any problem is refused with every problem listed, and nothing is written.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from inquiries import services
from markets.models import MarketAccount
from markets.management.accounts import account_or_none
from partialauto import datafiles
from partialauto.datafiles import DataFileError


class Command(BaseCommand):
    help = ("Import or export the seller's product facts. JSON: a list of {product_id, name, facts: [sentence, …], "
            "aliases?: [id, …]}; CSV: product_id,name,fact[,aliases] with a row per fact and aliases separated by |. "
            "Re-importing replaces a product's name and facts (and aliases, when the file has them); other products "
            "are left alone.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("import", help="load a JSON or CSV file (all or nothing)")
        load.add_argument("file")
        load.add_argument("--account", default=None, help="account name; without it the facts apply to every account")
        load.add_argument("--format", choices=datafiles.FORMATS, default=None,
                          help="default: from the file's extension, else from its first character")
        dump = sub.add_parser("export", help="print the knowledge as a file the import takes back")
        dump.add_argument("--account", default=None, help="account name; without it the shared knowledge")
        dump.add_argument("--format", choices=datafiles.FORMATS, default=datafiles.JSON)

    def handle(self, *args, action: str, account: str | None, format: str | None, **options):
        target = account_or_none(account)
        if action == "export":
            text = services.product_knowledge_export(account=target, fmt=format)
            self.stdout.write(text, ending="")
            if text.strip() in ("[]", "product_id,name,fact,aliases"):
                self.stderr.write(_("내보낼 상품 지식이 없습니다 (%(scope)s).") % {"scope": _scope(target)})
            return
        try:
            raw = datafiles.read_path(options["file"])
            result = services.product_knowledge_import(raw=raw, filename=options["file"], fmt=format, account=target)
        except DataFileError as exc:
            raise CommandError(_("가져오지 않았습니다. 아무것도 바뀌지 않았습니다.") + "\n" + str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            _("상품 지식을 가져왔습니다 (%(scope)s): 상품 %(created)s개 추가, %(updated)s개 변경, %(unchanged)s개 그대로 · "
              "사실 %(facts)s개 (새로 %(added)s, 삭제 %(removed)s)")
            % {"scope": _scope(target), "created": result.created, "updated": result.updated,
               "unchanged": result.unchanged, "facts": result.facts_written, "added": result.facts_added,
               "removed": result.facts_removed}))


def _scope(account: MarketAccount | None) -> str:
    return _("계정 %(name)s") % {"name": account.name} if account else _("모든 계정 공용")
