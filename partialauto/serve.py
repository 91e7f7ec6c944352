"""The production process layout on one machine, for ``demo --serve``: the web process (gunicorn with
``deploy/gunicorn.conf.py``) and the workers (``qcluster``), as ``deploy/Procfile`` runs them.

The :class:`Supervisor` starts each in a session of its own, so a terminal's Ctrl+C reaches only the
supervisor, and turns SIGTERM, SIGINT and SIGHUP into one orderly stop: SIGTERM to each process
(gunicorn and qcluster then finish what they are doing), SIGKILL to whatever is left of its process
group after the grace period. No worker cluster outlives the command that started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from types import FrameType

    # What signal.signal() takes and returns.
    SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# qcluster lets a running task finish (up to Q_CLUSTER["timeout"]); gunicorn its requests (graceful_timeout).
STOP_GRACE_SECONDS = 75.0
POLL_SECONDS = 0.5


def web_command(bind: str) -> list[str]:
    config = Path(settings.BASE_DIR) / "deploy" / "gunicorn.conf.py"
    return [sys.executable, "-m", "gunicorn", "-c", str(config), "--bind", bind]


def worker_command() -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "qcluster"]


@dataclass
class Child:
    name: str
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we cannot signal is still a member
        return True
    return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Supervisor:
    def __init__(self, *, grace_seconds: float = STOP_GRACE_SECONDS):
        self.grace_seconds = grace_seconds
        self.children: list[Child] = []
        self.stop_requested = threading.Event()
        self.received: int | None = None
        self._previous_handlers: dict[int, SignalHandler] = {}

    # -- signals ----------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        for signum in STOP_SIGNALS:
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()

    def _on_signal(self, signum: int, frame) -> None:
        self.received = signum
        self.stop_requested.set()

    # -- children ---------------------------------------------------------------------------------

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None) -> Child:
        process = subprocess.Popen(list(argv), cwd=settings.BASE_DIR, env=env, start_new_session=True)
        child = Child(name, process)
        self.children.append(child)
        return child

    def wait(self) -> Child | None:
        """Block until a stop signal (``None``) or until a child exits on its own (that child)."""
        while not self.stop_requested.wait(POLL_SECONDS):
            for child in self.children:
                if child.process.poll() is not None:
                    return child
        return None

    def stop(self) -> None:
        """SIGTERM to every child (the last started first), then SIGKILL to what is left of each group."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for child in reversed(self.children):
            try:
                child.process.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                _kill_group(child.pid)
                child.process.wait()
        for child in self.children:
            self._reap_group(child.pid, until=time.monotonic() + 2.0)

    @staticmethod
    def _reap_group(pgid: int, *, until: float) -> None:
        """The group's leader has exited; give its last members a moment, then SIGKILL the stragglers."""
        while _group_alive(pgid) and time.monotonic() < until:
            time.sleep(0.1)
        if _group_alive(pgid):
            _kill_group(pgid)
