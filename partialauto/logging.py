"""Logging helpers: a filter that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    # Authorization headers, bearer tokens, CEA signatures, client secrets in query strings or JSON.
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)([^\"',\s][^\"',]*)"),
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._\-~+/=]+)"),
    re.compile(r"(?i)(signature=)([0-9a-f]{16,})"),
    re.compile(
        r"(?i)((?:client_secret(?:_sign)?|secret_key|access_key|api_key|password|token)[\"']?\s*[:=]\s*[\"']?)([^\"'&,\s]+)"
    ),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites the formatted message so tokens and keys never reach a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
