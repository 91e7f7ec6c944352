"""`manage.py market_sandbox` in a process of its own, as a new user starts it, for the new-user tests."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_sandbox(*args: str) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """(the process, its start-up banner, its URL) while it runs."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "market_sandbox", "--port", str(port), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Press Ctrl+C" in line or proc.poll() is not None:
            break
    assert "Press Ctrl+C" in "".join(lines), "".join(lines)
    try:
        yield proc, "".join(lines), f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def flags_for(banner: str, market: str) -> list[str]:
    """The `market_account add` flags the banner prints for ``market``."""
    line = next(row for row in banner.splitlines() if row.strip().startswith(market))
    return shlex.split(line.strip())[1:]
