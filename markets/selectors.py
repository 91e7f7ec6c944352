"""Named reads of market accounts that other apps and the commands share."""

from __future__ import annotations

from django.utils.translation import gettext as _

from markets.models import MarketAccount


class UnknownAccountError(ValueError):
    """An account name nobody registered; the message lists the names that exist."""


def account_by_name(name: str) -> MarketAccount:
    try:
        return MarketAccount.objects.get(name=name)
    except MarketAccount.DoesNotExist:
        known = ", ".join(MarketAccount.objects.order_by("name").values_list("name", flat=True)) or _("없음")
        raise UnknownAccountError(
            _("알 수 없는 계정입니다: '%(name)s'. 등록된 계정: %(known)s") % {"name": name, "known": known}
        ) from None
