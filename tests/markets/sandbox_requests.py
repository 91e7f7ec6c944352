"""Shared by the sandbox tests: signed Coupang requests and Naver token requests (raw HTTP, no client),
and the `market_sandbox` command started in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from markets.clients.coupang import coupang_authorization
from markets.clients.naver_auth import naver_client_secret_sign

V5 = "/v2/providers/openapi/apis/api/v5/vendors"
V4 = "/v2/providers/openapi/apis/api/v4/vendors"
TODAY = datetime.now(UTC).astimezone(timezone(timedelta(hours=9))).date()


def _list_query(vendor: str, **overrides: str) -> str:
    params = {
        "vendorId": vendor,
        "answeredType": "ALL",
        "inquiryStartAt": (TODAY - timedelta(days=2)).isoformat(),
        "inquiryEndAt": TODAY.isoformat(),
        "pageNum": "1",
        "pageSize": "50",
    }
    params.update(overrides)
    return urlencode(params)


def _coupang_get(http, sandbox, account, path, query, *, authorization=None, secret=None):
    auth = authorization or coupang_authorization(account.access_key, secret or account.secret_key, "GET", path, query)
    return http.get(f"{sandbox.url}{path}?{query}", headers={"Authorization": auth}, timeout=5)


def _coupang_post(http, sandbox, account, path, payload):
    auth = coupang_authorization(account.access_key, account.secret_key, "POST", path, "")
    return http.post(
        sandbox.url + path,
        data=json.dumps(payload).encode(),
        timeout=5,
        headers={"Authorization": auth, "Content-Type": "application/json;charset=UTF-8"},
    )


def _token(http, sandbox, account, **overrides):
    timestamp = int(time.time() * 1000)
    form = {
        "client_id": account.client_id,
        "timestamp": str(timestamp),
        "grant_type": "client_credentials",
        "client_secret_sign": naver_client_secret_sign(account.client_id, account.client_secret, timestamp),
        "type": "SELF",
    }
    form.update(overrides)
    return http.post(sandbox.naver_base_url + "/v1/oauth2/token", data=form, timeout=5)


@contextmanager
def sandbox_command(*args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``manage.py market_sandbox --port 0 *args`` in a process of its own, read up to its "Press
    Ctrl+C" line (60 s at most): yields the process and what it printed; killed on the way out if it
    is still running."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "market_sandbox", "--port", "0", *args],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline() if process.stdout else ""
            if not line:
                break
            lines.append(line)
            if "Press Ctrl+C" in line:
                break
        yield process, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
