"""Encryption at rest for marketplace credentials (Fernet from ``cryptography``)."""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretDecryptionError(RuntimeError):
    """Stored secrets cannot be decrypted with the configured key(s)."""


DECRYPT_FAILED = (
    "Stored marketplace credentials cannot be decrypted with the configured CS_FIELD_ENCRYPTION_KEY. "
    "Set the key they were saved with (several keys may be given comma-separated), "
    "or re-enter the credentials."
)


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        raise SecretDecryptionError("CS_FIELD_ENCRYPTION_KEY is empty")
    try:
        return MultiFernet([Fernet(k.encode()) for k in parts])
    except (ValueError, TypeError) as exc:
        raise SecretDecryptionError(
            "CS_FIELD_ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes)"
        ) from exc


def encrypt_json(data: dict) -> str:
    return _fernet(settings.CS_FIELD_ENCRYPTION_KEY).encrypt(json.dumps(data).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet(settings.CS_FIELD_ENCRYPTION_KEY).decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretDecryptionError(DECRYPT_FAILED) from exc
