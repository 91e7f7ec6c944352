"""`make serve` (`demo --serve`) as a person runs it, on its own SQLite file: the admin comes up styled
with DEBUG off, and SIGTERM (a service manager, `kill`, a closed terminal's SIGHUP) stops the web
process, the worker cluster and the sandbox — no process of it is left running. Then the supervisor
behind it, with small stand-in processes: stubborn ones are killed, a child that dies ends the wait."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from partialauto.serve import Supervisor
from tests.markets.sandbox_process import ROOT, free_port

START_TIMEOUT = 240  # the whole demo story runs first
STOP_TIMEOUT = 120


def _proc_stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], fields[19]


def _descendants(root: int) -> dict[int, str]:
    """Every process below ``root``: pid → start time (to tell a reused pid apart)."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            parents[int(entry)] = (stat[0], stat[2])
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, started) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = started
                frontier.append(pid)
    return found


def _running(pid: int, started: str) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[2] == started and stat[1] != "Z"  # a zombie has already ended


def _still_running(processes: dict[int, str]) -> list[int]:
    return [pid for pid, started in processes.items() if _running(pid, started)]


def _kill_all(processes: dict[int, str]) -> None:
    for pid, started in processes.items():
        if _running(pid, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _wait_for(condition, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"demo --serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout} s:\n{log.read_text()[-4000:]}")


def _admin_up(url: str) -> bool:
    try:
        return requests.get(f"{url}/admin/login/", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.slow
def test_serve__styled_admin_then_sigterm_leaves_no_process_behind(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DJANGO_DEBUG": "false",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "CS_LOG_FILE": str(tmp_path / "api.log"),
        "CS_LOCAL_KEYS_FILE": str(tmp_path / "keys.json"),
        "CS_Q_WORKERS": "1",
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "demo", "--serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(lambda: _admin_up(url), START_TIMEOUT, "the admin did not come up", proc, log)
        # the worker cluster is up too: its leader, the sentinel and its processes
        _wait_for(
            lambda: sum("qcluster" in _cmdline(pid) for pid in _descendants(proc.pid)) >= 4,
            60,
            "the qcluster did not start",
            proc,
            log,
        )

        # styled: the login page's stylesheet is served (hashed name, DEBUG off)
        login = requests.get(f"{url}/admin/login/", timeout=10).text
        css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login).group(1)
        response = requests.get(url + css, timeout=10)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/css")

        children = _descendants(proc.pid)
        assert any("gunicorn" in _cmdline(pid) for pid in children), children
        proc.send_signal(signal.SIGTERM)
        proc.wait(STOP_TIMEOUT)
    finally:
        if proc.poll() is None:  # the test failed before the stop: take the whole tree down
            _kill_all(_descendants(proc.pid))
            proc.kill()
            proc.wait()

    deadline = time.monotonic() + 5  # orphans' exits are reaped by init, not by us
    while (left := _still_running(children)) and time.monotonic() < deadline:
        time.sleep(0.2)
    report = [(pid, _cmdline(pid)) for pid in left]
    _kill_all({pid: children[pid] for pid in left})  # do not leave them to the next test either
    assert not left, f"still running after SIGTERM: {report}"
    assert proc.returncode == 0, log.read_text()[-4000:]
    assert not _admin_up(url)


# --- the supervisor with stand-in processes ---------------------------------------------------------

# A stand-in for gunicorn or qcluster: it starts a process of its own that ignores SIGTERM, then sleeps;
# "stubborn" ignores SIGTERM itself too.
FAMILY = """
import signal, subprocess, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c",
                  "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
time.sleep(120)
"""


def _ignores_sigterm(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    return bool(ignored & (1 << (signal.SIGTERM - 1)))


def _start_family(supervisor: Supervisor, name: str, mode: str) -> tuple[int, int]:
    """Start the stand-in; return (its pid, its child's pid) once every SIGTERM handler is in place."""
    leader = supervisor.start(name, [sys.executable, "-c", FAMILY, mode]).pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kids = [pid for pid in _descendants(leader) if _ignores_sigterm(pid)]
        if kids and (mode != "stubborn" or _ignores_sigterm(leader)):
            return leader, kids[0]
        time.sleep(0.05)
    raise AssertionError("the stand-in process did not start its child")


def _gone(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is None or stat[1] == "Z"


def test_supervisor_stop__kills_a_group_member_that_outlives_its_leader_and_a_leader_that_ignores_sigterm():
    supervisor = Supervisor(grace_seconds=1.0)
    polite, polite_grandchild = _start_family(supervisor, "web", "polite")
    stubborn, stubborn_grandchild = _start_family(supervisor, "workers", "stubborn")

    started = time.monotonic()
    supervisor.stop()

    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while not all(map(_gone, (polite, polite_grandchild, stubborn, stubborn_grandchild))):
        assert time.monotonic() < deadline, [(pid, _proc_stat(pid)) for pid in (polite_grandchild, stubborn_grandchild)]
        time.sleep(0.1)
    assert supervisor.children[0].process.returncode == -signal.SIGTERM  # asked politely first
    assert supervisor.children[1].process.returncode == -signal.SIGKILL


def test_supervisor_wait__returns_the_child_that_exited_on_its_own():
    supervisor = Supervisor(grace_seconds=5.0)
    supervisor.start("web", [sys.executable, "-c", "import time; time.sleep(120)"])
    crashing = supervisor.start("workers", [sys.executable, "-c", "import sys; sys.exit(3)"])
    try:
        assert supervisor.wait() is crashing
        assert crashing.process.returncode == 3
    finally:
        supervisor.stop()
    assert all(child.process.returncode is not None for child in supervisor.children)


def test_supervisor_wait__a_stop_signal_ends_the_wait():
    before = signal.getsignal(signal.SIGTERM)
    supervisor = Supervisor(grace_seconds=5.0)
    supervisor.install_signal_handlers()
    try:
        supervisor.start("web", [sys.executable, "-c", "import time; time.sleep(120)"])
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
        assert supervisor.wait() is None
        assert supervisor.received == signal.SIGTERM
    finally:
        supervisor.stop()
        supervisor.restore_signal_handlers()
    assert signal.getsignal(signal.SIGTERM) == before
