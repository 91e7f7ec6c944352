"""Sandbox seller accounts: the Coupang and Naver credentials the fake gateways accept, and the fixed demo ones."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

import bcrypt

from markets.clients.types import MARKET_COUPANG, MARKET_SMARTSTORE

# Fixed, clearly fake demo credentials so the demo and docs can refer to them. Sandbox only.
DEMO_COUPANG = {
    "vendor_id": "A00000001",
    "access_key": "sandbox-coupang-access-key-0001",
    "secret_key": "sandbox0coupang0secret0key0000000000001",
    "reply_by": "sandbox-cs",
}
DEMO_NAVER = {"client_id": "sandbox-naver-client-0001", "client_secret": "$2b$04$SandboxDemoSecretKey0u"}

BCRYPT_ALPHABET = "./" + string.ascii_uppercase + string.ascii_lowercase + string.digits


def generate_naver_secret(rounds: int = 4) -> str:
    """A random valid Naver-style client secret (a bcrypt salt such as ``$2b$04$`` + 22 chars)."""
    return bcrypt.gensalt(rounds=rounds).decode("ascii")


def is_valid_bcrypt_salt(value: str) -> bool:
    try:
        bcrypt.hashpw(b"probe", value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return len(value) == 29


@dataclass(frozen=True)
class CoupangAccount:
    vendor_id: str
    access_key: str
    secret_key: str
    reply_by: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "market": MARKET_COUPANG,
            "vendor_id": self.vendor_id,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "reply_by": self.reply_by[0],
            "reply_by_all": list(self.reply_by),
        }


@dataclass(frozen=True)
class NaverAccount:
    client_id: str
    client_secret: str

    def to_dict(self) -> dict[str, Any]:
        return {"market": MARKET_SMARTSTORE, "client_id": self.client_id, "client_secret": self.client_secret}
