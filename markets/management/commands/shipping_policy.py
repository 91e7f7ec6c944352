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
from markets.management.accounts import account_or_none
from markets.models import MarketAccount, ShippingPolicy
from partialauto import datafiles
from partialauto.datafiles import DataFileError

WON_FIELDS = ("base_fee", "free_shipping_threshold", "jeju_surcharge", "remote_surcharge", "return_fee", "exchange_fee")


class Command(BaseCommand):
    help = _(
        '계정의 배송 정책을 보거나 가져오거나 내보냅니다. JSON: 객체 하나(--account와 함께, 또는 "account" 키 포함) '
        '또는 "account"가 있는 객체 목록; CSV: 필드 이름 머리줄과 account 열, 계정마다 한 줄. 파일에 있는 필드만 '
        "바뀝니다."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show", help=_("모든 계정(또는 한 계정)의 정책과 빠진 항목 출력"))
        show.add_argument("--account", default=None, help=_("이 계정만"))
        load = sub.add_parser("import", help=_("JSON 또는 CSV 파일 가져오기 (전부 아니면 아무것도)"))
        load.add_argument("file", help=_("가져올 파일"))
        load.add_argument("--account", default=None, help=_('"account"가 없는 항목의 계정; 다른 계정의 항목은 건너뜀'))
        load.add_argument(
            "--format", choices=datafiles.FORMATS, default=None, help=_("기본: 파일 확장자, 없으면 첫 글자로 판단")
        )
        dump = sub.add_parser("export", help=_("가져오기가 다시 받는 JSON으로 정책 출력"))
        dump.add_argument("--account", default=None, help=_("한 계정 (객체 하나); 없으면 저장된 모든 정책 (목록)"))

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
            self.stdout.write(
                _("건너뜀 (--account가 아닌 계정): %(names)s") % {"names": ", ".join(result.skipped_accounts)}
            )

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
                self.stdout.write(
                    f"{acct.name} ({acct.market_code}){inactive}: "
                    + self.style.ERROR(_("배송 정책 없음"))
                    + " — "
                    + _where_to_fill(acct)
                )
                continue
            self.stdout.write(f"{acct.name} ({acct.market_code}){inactive}: " + _state(policy, self.style))
            for field in services.SHIPPING_POLICY_FIELDS:
                self.stdout.write(f"  {services.shipping_policy_label(field)} ({field}): {_display(policy, field)}")


def _where_to_fill(account: MarketAccount) -> str:
    return _(
        "관리자 화면의 '마켓 연동 > 배송 정책'에서 입력하거나 `shipping_policy import FILE --account %(name)s`로 "
        "가져오세요"
    ) % {"name": account.name}


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
