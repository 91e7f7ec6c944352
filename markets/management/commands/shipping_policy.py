"""Show, import and export the seller's shipping policy (one per account; the admin edits the same rows).

    shipping_policy show [--account N]
    shipping_policy import FILE [--account N] [--format json|csv]
    shipping_policy export [--account N]                             (JSON to standard output)

Field names as the model's; times HH:MM, booleans true/false, amounts integers in won. An import is all
or nothing: a file with any problem is refused with every problem listed, and nothing is written.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from markets import services
from markets.models import MarketAccount, ShippingPolicy
from markets.management.accounts import account_or_none
from partialauto import datafiles
from partialauto.datafiles import DataFileError

WON_FIELDS = ("base_fee", "free_shipping_threshold", "jeju_surcharge", "remote_surcharge", "return_fee", "exchange_fee")


class Command(BaseCommand):
    help = ("Show, import or export the shipping policy of the accounts. JSON: one object (with --account, or with "
            "an \"account\" key) or a list of objects with \"account\"; CSV: a header of field names and an account "
            "column, a row per account. Only the fields in the file are changed.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show", help="print the policy of every account (or one) and what is missing")
        show.add_argument("--account", default=None)
        load = sub.add_parser("import", help="load a JSON or CSV file (all or nothing)")
        load.add_argument("file")
        load.add_argument("--account", default=None,
                          help="the account an entry without \"account\" belongs to; other accounts are skipped")
        load.add_argument("--format", choices=datafiles.FORMATS, default=None,
                          help="default: from the file's extension, else from its first character")
        dump = sub.add_parser("export", help="print the policy as JSON the import takes back")
        dump.add_argument("--account", default=None, help="one account (an object); without it every stored policy (a list)")

    def handle(self, *args, action: str, account: str | None, **options):
        target = account_or_none(account)
        if action == "show":
            self._show(target)
        elif action == "export":
            self.stdout.write(datafiles.to_json(services.shipping_policy_export(account=target)), ending="")
        else:
            self._import(options["file"], target, options.get("format"))

    def _import(self, path: str, account: MarketAccount | None, fmt: str | None) -> None:
        try:
            raw = datafiles.read_path(path)
            result = services.shipping_policy_import(raw=raw, filename=path, fmt=fmt, account=account)
        except DataFileError as exc:
            raise CommandError(_("가져오지 않았습니다. 아무것도 바뀌지 않았습니다.") + "\n" + str(exc)) from None
        words = {"created": _("새로 만듦"), "updated": _("변경"), "unchanged": _("변경 없음")}
        for policy, status in result.saved:
            self.stdout.write(self.style.SUCCESS(f"{policy.account.name}: {words[status]}") + " — " + _state(policy))
        if result.skipped_accounts:
            self.stdout.write(_("건너뜀 (--account가 아닌 계정): %(names)s") % {"names": ", ".join(result.skipped_accounts)})

    def _show(self, account: MarketAccount | None) -> None:
        accounts = [account] if account else list(MarketAccount.objects.order_by("name"))
        if not accounts:
            self.stdout.write(_("등록된 계정이 없습니다."))
            return
        policies = {p.account_id: p for p in ShippingPolicy.objects.filter(account__in=accounts)}
        for index, acct in enumerate(accounts):
            if index:
                self.stdout.write("")
            policy = policies.get(acct.pk)
            inactive = "" if acct.is_active else _(" (사용 안 함)")
            if policy is None:
                self.stdout.write(f"{acct.name} ({acct.market_code}){inactive}: "
                                  + self.style.ERROR(_("배송 정책 없음")) + " — " + _where_to_fill(acct))
                continue
            self.stdout.write(f"{acct.name} ({acct.market_code}){inactive}: " + _state(policy, self.style))
            for field in services.SHIPPING_POLICY_FIELDS:
                self.stdout.write(f"  {services.shipping_policy_label(field)} ({field}): {_display(policy, field)}")


def _where_to_fill(account: MarketAccount) -> str:
    return _("관리자 화면의 '마켓 연동 > 배송 정책'에서 입력하거나 `shipping_policy import FILE --account %(name)s`로 "
             "가져오세요") % {"name": account.name}


def _state(policy: ShippingPolicy, style=None) -> str:
    if policy.is_complete:
        text = _("입력 완료")
        return style.SUCCESS(text) if style else text
    text = _("미입력: %(fields)s") % {"fields": ", ".join(policy.missing)}
    return (style.ERROR(text) if style else text) + " — " + _where_to_fill(policy.account)


def _display(policy: ShippingPolicy, field: str) -> str:
    value = getattr(policy, field)
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("예 (true)") if value else _("아니오 (false)")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if field == "carrier_code":
        return f"{policy.get_carrier_code_display()} ({value})"
    if field in WON_FIELDS:
        return _("%(amount)s원") % {"amount": f"{value:,}"}
    if isinstance(value, int):
        return _("%(days)s일") % {"days": value}
    return str(value)
