"""What the account-level commands share: naming accounts on the command line and reporting per account."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.core.management.base import BaseCommand, CommandError

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
        raise CommandError(f"unknown account(s): {', '.join(unknown)}")


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
            command.stdout.write(command.style.ERROR(line + " — FAILED: " + "; ".join(r.errors)))
    return failed
