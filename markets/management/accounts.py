"""What the account-level commands share: naming accounts on the command line and reporting per account."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from markets.models import MarketAccount
from markets.selectors import UnknownAccountError, account_by_name


def account_or_none(name: str | None) -> MarketAccount | None:
    """``--account N``: that account, none when not given; an unknown name is refused."""
    if name is None:
        return None
    try:
        return account_by_name(name)
    except UnknownAccountError as exc:
        raise CommandError(str(exc)) from None


def check_names(names: Sequence[str]) -> None:
    """Repeated ``--account N``: every name must be an account."""
    unknown = sorted(set(names) - set(MarketAccount.objects.filter(name__in=names).values_list("name", flat=True)))
    if unknown:
        raise CommandError(_("알 수 없는 계정입니다: %(names)s") % {"names": ", ".join(unknown)})


def failures(results: Sequence) -> str:
    """Each failed account and why, for the command's closing error: ``name (error; …), …``."""
    return ", ".join(f"{r.account} ({'; '.join(r.errors)[:300] or _('알 수 없는 오류')})" for r in results if not r.ok)


def failed_accounts_error(failed: int, results: Sequence) -> CommandError:
    """The closing error of a per-account command: how many failed, each named with why, and that nothing was lost."""
    return CommandError(
        _(
            "계정 %(total)d개 중 %(failed)d개 실패: %(failures)s; 이 계정들의 수집 기준 시각은 그대로이므로 "
            "잃어버린 것은 없습니다"
        )
        % {"total": len(results), "failed": failed, "failures": failures(results)}
    )


def write_results(command: BaseCommand, results: Sequence, describe: Callable[[object], str], *, nothing: str) -> int:
    """One line per account's summary (``account``, ``ok``, ``errors``); returns how many failed."""
    if not results:
        command.stdout.write(nothing)
    failed = 0
    for r in results:
        line = f"{r.account}: {describe(r)}"
        if r.ok:
            command.stdout.write(command.style.SUCCESS(line))
        else:
            failed += 1
            command.stdout.write(
                command.style.ERROR(line + " — " + _("실패: %(errors)s") % {"errors": "; ".join(r.errors)})
            )
    return failed
