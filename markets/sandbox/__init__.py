"""Sandbox marketplace: a local fake of the Coupang and Naver CS and order APIs (see ``server.py``)."""

from markets.sandbox.accounts import (
    DEMO_COUPANG,
    DEMO_NAVER,
    CoupangAccount,
    NaverAccount,
    generate_naver_secret,
)
from markets.sandbox.control import SandboxControl, SandboxControlError
from markets.sandbox.faults import Faults
from markets.sandbox.server import SandboxServer
from markets.sandbox.store import AnswerRecord, SandboxStore

__all__ = [
    "DEMO_COUPANG",
    "DEMO_NAVER",
    "AnswerRecord",
    "CoupangAccount",
    "Faults",
    "NaverAccount",
    "SandboxControl",
    "SandboxControlError",
    "SandboxServer",
    "SandboxStore",
    "generate_naver_secret",
]
