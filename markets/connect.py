"""Build a marketplace client for a stored account (the one place that decrypts credentials)."""

from __future__ import annotations

import threading

from django.conf import settings

from markets.models import MarketAccount
from partialauto.crypto import SecretDecryptionError


def client_for(account: MarketAccount, *, limiter=None):
    from markets.clients.base import get_client
    from markets.clients.types import ClientConfig

    creds = account.get_credentials()
    config = ClientConfig(
        market_code=account.market_code,
        api_base_url=account.api_base_url or "",
        vendor_id=account.vendor_id,
        access_key=creds.get("access_key", ""),
        secret_key=creds.get("secret_key", ""),
        reply_by=account.reply_by,
        client_id=account.client_id,
        client_secret=creds.get("client_secret", ""),
        account_key=account.name,
        connect_timeout=settings.CS_MARKET_CONNECT_TIMEOUT,
        read_timeout=settings.CS_MARKET_READ_TIMEOUT,
    )
    if limiter is None:
        from markets.clients.ratelimit import get_limiter

        limiter = get_limiter()
    return get_client(config, limiter=limiter)


def check_account_connection(account: MarketAccount) -> tuple[bool, str]:
    try:
        client = client_for(account)
    except SecretDecryptionError as exc:
        return False, str(exc)
    try:
        return client.check_connection()
    except Exception as exc:  # a connection check reports, it never raises into the admin
        return False, f"{type(exc).__name__}: {exc}"


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()  # a send sweep calls from several threads


def cached_client_for(account: MarketAccount):
    """One client (and HTTP session, and Naver token) per account and credentials version per process."""
    key = (account.pk, account.credentials_updated_at, account.api_base_url, account.updated_at)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            for stale in [k for k in _clients if k[0] == account.pk]:
                _clients.pop(stale, None)
            client = _clients[key] = client_for(account)
        return client


def clear_client_cache() -> None:
    with _clients_lock:
        _clients.clear()
