"""Writes for market accounts: registration, credentials, connection checks."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from markets.models import SECRET_FIELDS, MarketAccount, MarketCode


class AccountError(ValueError):
    pass


def _validate(market_code: str, values: dict[str, str], *, vendor_id: str, client_id: str) -> None:
    if market_code not in MarketCode.values:
        raise AccountError(f"unknown market '{market_code}' (use {' or '.join(MarketCode.values)})")
    if market_code == MarketCode.COUPANG and not vendor_id:
        raise AccountError("a Coupang account needs --vendor-id")
    if market_code == MarketCode.SMARTSTORE and not client_id:
        raise AccountError("a SmartStore account needs --client-id")


@transaction.atomic
def account_create(
    *, name: str, market_code: str, vendor_id: str = "", access_key: str = "", secret_key: str = "",
    reply_by: str = "", client_id: str = "", client_secret: str = "", api_base_url: str = "",
    is_active: bool = True, seller_name: str = "",
) -> MarketAccount:
    market_code = market_code.upper()
    _validate(market_code, {}, vendor_id=vendor_id, client_id=client_id)
    if MarketAccount.objects.filter(name=name).exists():
        raise AccountError(f"an account named '{name}' already exists")
    account = MarketAccount(
        name=name, market_code=market_code, vendor_id=vendor_id, reply_by=reply_by, client_id=client_id,
        api_base_url=api_base_url, is_active=is_active, seller_name=seller_name,
    )
    secrets = {"access_key": access_key, "secret_key": secret_key, "client_secret": client_secret}
    missing = [f for f in SECRET_FIELDS[MarketCode(market_code)] if not secrets.get(f)]
    if missing:
        raise AccountError("missing credentials: " + ", ".join("--" + m.replace("_", "-") for m in missing))
    account.set_credentials({k: v for k, v in secrets.items() if k in SECRET_FIELDS[MarketCode(market_code)]})
    account.credentials_updated_at = timezone.now()
    account.full_clean()
    account.save()
    from policy.services import rollout_for

    rollout_for(account)
    return account


@transaction.atomic
def account_set_credentials(*, account: MarketAccount, values: dict[str, str]) -> MarketAccount:
    allowed = SECRET_FIELDS[MarketCode(account.market_code)]
    cleaned = {k: v for k, v in values.items() if k in allowed and v}
    if cleaned:
        account.set_credentials(cleaned)
        account.credentials_updated_at = timezone.now()
        account.save(update_fields=["credentials_encrypted", "credentials_updated_at", "updated_at"])
    return account
