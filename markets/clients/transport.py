"""The HTTP layer's view of a call: what happened on the wire, and which failures may have reached
the marketplace."""

from __future__ import annotations

import enum
import errno
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:  # pragma: no cover
    pass
from markets.clients.parsing import load_json


class SendState(enum.StrEnum):
    NOT_SENT = "NOT_SENT"  # the request never reached the server
    UNKNOWN = "UNKNOWN"  # it may have been processed


class TransportFailure(Exception):
    """No HTTP response. ``state`` tells whether the request may have been processed."""

    def __init__(self, state: SendState, message: str):
        super().__init__(message)
        self.state = state
        self.message = message


@dataclass
class HttpResult:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return load_json(self.body)

    def json_or_none(self) -> Any:
        try:
            return load_json(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for attr in ("reason", "__cause__", "__context__"):
            nested = getattr(current, attr, None)
            if isinstance(nested, BaseException):
                stack.append(nested)
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                stack.append(arg)


def classify_transport_error(exc: requests.RequestException) -> TransportFailure:
    """Decide whether a failed request can have reached the server.

    Only failures that happen while *establishing* the connection are definitely-not-sent: connect
    timeout, connection refused, DNS failure, certificate verification. Everything after the request
    bytes may have been written — read timeout, reset/EOF while waiting for the response (urllib3
    ``ProtocolError`` / ``RemoteDisconnected``), a broken chunked body — is UNKNOWN.
    """
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransportFailure(SendState.NOT_SENT, "connect timeout (request not sent)")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return TransportFailure(SendState.UNKNOWN, "read timeout waiting for the response (outcome unknown)")
    chain = list(_exception_chain(exc))
    if any(isinstance(e, NameResolutionError) for e in chain):
        return TransportFailure(SendState.NOT_SENT, "DNS resolution failed (request not sent)")
    if any(isinstance(e, NewConnectionError) for e in chain):
        refused = any(
            isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED for e in chain
        )
        return TransportFailure(
            SendState.NOT_SENT,
            "connection refused (request not sent)" if refused else "could not connect (request not sent)",
        )
    if isinstance(exc, requests.exceptions.SSLError):
        import ssl

        if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
            return TransportFailure(SendState.NOT_SENT, "TLS certificate verification failed (request not sent)")
        return TransportFailure(SendState.UNKNOWN, "TLS error (outcome unknown)")
    if isinstance(
        exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)
    ):
        return TransportFailure(SendState.NOT_SENT, "invalid URL (request not sent)")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return TransportFailure(SendState.UNKNOWN, "connection dropped before a response arrived (outcome unknown)")
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return TransportFailure(SendState.UNKNOWN, "response body broken mid-transfer (outcome unknown)")
    return TransportFailure(SendState.UNKNOWN, f"{type(exc).__name__} during request (outcome unknown)")


BACKOFF_CAP_SECONDS = 60.0
