"""Shared setup for the benchmark scripts in ``bench/`` (not tests: they print JSON, they assert nothing).

Every script builds its own scratch PostgreSQL database (name prefix ``partialauto_bench``), points
``DATABASE_URL`` at it, migrates, and prints one JSON document on stdout. ``bench/run_all.py`` runs
them one after another as separate processes (each needs its own Django settings) and collects the
documents into ``bench/results/latest.json``.

Environment:
  BENCH_PG       base URL of the PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
  BENCH_REDIS    Redis URL used when a script runs with the Redis limiter/broker
                 (default redis://127.0.0.1:6379/13 — a database of its own: the bench flushes it)
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
PREFIX = "partialauto_bench"
# Databases that belong to people or other tools: never dropped, never written.
PROTECTED = {"postgres", "test", "template0", "template1", "partialauto_dev"}


def check_name(name: str) -> str:
    if name in PROTECTED or name.startswith("partialauto_faultrun") or not name.startswith(PREFIX):
        raise SystemExit(f"refusing to use database {name!r}: bench databases must start with {PREFIX!r}")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"bad database name {name!r}")
    return name


def db_url(name: str) -> str:
    return f"{PG}/{check_name(name)}"


def create_database(name: str) -> None:
    """Drop and create a scratch database."""
    import psycopg

    check_name(name)
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def bench_env(name: str, *, redis: bool = False, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment of a bench run (also given to the worker processes it starts)."""
    log_dir = Path(tempfile.gettempdir()) / "partialauto-bench"
    log_dir.mkdir(exist_ok=True)
    env = {
        "DATABASE_URL": db_url(name),
        "DJANGO_SETTINGS_MODULE": "partialauto.settings",
        "CS_LOG_FILE": str(log_dir / f"{name}.log"),
        "CS_LOG_LEVEL_STDERR": "CRITICAL",
        "REDIS_URL": REDIS if redis else "",
    }
    env.update(extra or {})
    return env


def setup(
    name: str, *, create: bool = True, redis: bool = False, extra_env: dict[str, str] | None = None
) -> dict[str, str]:
    """Create (unless ``create=False``) and migrate the scratch database, then ``django.setup()``."""
    env = bench_env(name, redis=redis, extra=extra_env)
    if create:
        create_database(name)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    if create:
        call_command("migrate", verbosity=0)
    return env


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS).flushdb()


@contextmanager
def stopwatch():
    """``with stopwatch() as t: ...`` then ``t()`` is the elapsed seconds."""
    start = time.perf_counter()
    result = {"end": None}
    yield lambda: (result["end"] or time.perf_counter()) - start
    result["end"] = time.perf_counter()


def timed(fn, repeat: int) -> dict:
    """Run ``fn`` ``repeat`` times; milliseconds: median, min, max, every run."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": round(statistics.median(runs), 2),
        "min_ms": round(min(runs), 2),
        "max_ms": round(max(runs), 2),
        "runs_ms": [round(r, 2) for r in runs],
    }


class Profile:
    """Optional cProfile around the measured part: ``with prof: ...`` then ``prof.top(20)``."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._prof = None

    def __enter__(self):
        if self.enabled:
            import cProfile

            self._prof = self._prof or cProfile.Profile()
            self._prof.enable()
        return self

    def __exit__(self, *exc):
        if self._prof is not None:
            self._prof.disable()
            dump = os.environ.get("BENCH_PROFILE_DUMP")
            if dump:
                self._prof.dump_stats(dump)

    def top(self, n: int = 25, sort: str = "cumulative") -> list[str] | None:
        if self._prof is None:
            return None
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(self._prof, stream=out).sort_stats(sort).print_stats(n)
        lines = [line.rstrip() for line in out.getvalue().splitlines()]
        start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
        return [line for line in lines[start:] if line.strip()]


def proc_memory(pid: int) -> dict | None:
    """VmRSS and VmHWM (peak) of a process in MB, from /proc."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)
    return values


def stop_group(proc: subprocess.Popen, grace: float) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started: SIGTERM to
    the group, then SIGKILL if it has not ended after ``grace`` seconds."""
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, depth) of every process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, stack = [], [(pid, 0)]
    while stack:
        current, depth = stack.pop()
        for child in children.get(current, []):
            out.append((child, depth + 1))
            stack.append((child, depth + 1))
    return out


def proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def machine() -> dict:
    info = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["mem_total_mb"] = round(int(line.split()[1]) / 1024)
        info["cpu_model"] = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    except OSError:
        pass
    try:
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            for setting in ("shared_buffers", "work_mem", "synchronous_commit", "max_connections"):
                info[f"pg_{setting}"] = conn.execute(f"SHOW {setting}").fetchone()[0]
    except Exception as exc:  # the bench still reports what it can
        info["postgresql"] = f"unavailable: {exc}"
    try:
        import django

        info["django"] = django.get_version()
    except ImportError:
        pass
    return info


def offline_account(name: str, market: str, index: int, *, tag: str, mode: str, phase: int | None):
    """An account that never reaches a marketplace (its base URL is a closed port), in ``mode`` and
    ``phase``: for benchmarks that only decide or read. ``tag`` keeps its ids apart from other scripts'."""
    from markets import services as market_services
    from policy.models import Mode
    from policy.services import SYSTEM, get_phase, rollout_unlock

    if market == "COUPANG":
        account = market_services.account_create(
            name=name,
            market_code=market,
            vendor_id=f"{tag}{index:08d}",
            access_key="ak",
            secret_key="sk",
            reply_by="bench",
            api_base_url="http://127.0.0.1:9",
        )
    else:
        account = market_services.account_create(
            name=name,
            market_code=market,
            client_id=f"{tag}-{index}",
            client_secret="$2a$04$abcdefghijklmnopqrstuv",
            api_base_url="http://127.0.0.1:9/external",
        )
    if mode != Mode.SHADOW:
        rollout_unlock(account=account, mode=mode, phase=get_phase(phase), actor=SYSTEM)
    return account


def generated_items(
    kind: str,
    count: int,
    *,
    seed: int,
    start_id: int,
    days_back: float = 1.0,
    answered_ratio: float = 0.0,
    risk_ratio: float = 0.05,
) -> list:
    """Realistic marketplace items (the sandbox's generator, parsed by the real parsers), without HTTP."""
    import random

    from markets.clients.coupang_parsing import parse_coupang_callcenter_item, parse_coupang_online_item
    from markets.clients.naver_parsing import parse_naver_inquiry_item, parse_naver_qna_item
    from markets.sandbox import generator

    rng = random.Random(seed)
    out = []
    for n in range(count):
        at = generator.random_created_at(rng, days_back=days_back)
        answered = rng.random() < answered_ratio
        i = start_id + n
        if kind == "COUPANG_ONLINE":
            item = parse_coupang_online_item(
                generator.coupang_online_item(
                    rng, inquiry_id=i, created_at=at, answered=answered, comment_id=i + 10**9, risk_ratio=risk_ratio
                )
            )
        elif kind == "COUPANG_CALLCENTER":
            item = parse_coupang_callcenter_item(
                generator.coupang_callcenter_item(
                    rng,
                    inquiry_id=i,
                    created_at=at,
                    answered=answered,
                    answer_ids=(i + 10**9, i + 2 * 10**9),
                    risk_ratio=risk_ratio,
                )
            )
        elif kind == "NAVER_QNA":
            item = parse_naver_qna_item(
                generator.naver_qna_item(rng, question_id=i, created_at=at, answered=answered, risk_ratio=risk_ratio)
            )
        else:
            item = parse_naver_inquiry_item(
                generator.naver_inquiry_item(
                    rng, inquiry_no=i, created_at=at, answered=answered, comment_no=i + 10**9, risk_ratio=risk_ratio
                )
            )
        out.append(item)
    return out


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


_SANDBOX_MAIN = """
import sys, threading
sys.path.insert(0, {root!r})
from markets.sandbox import SandboxServer
server = SandboxServer(port=0, seed={seed}).start()
server.store.set_faults(coupang_rps=0, naver_rps=0, latency_ms=0)
print(server.port, flush=True)
sys.stdin.read()  # serve until the parent closes our stdin (or dies)
server.stop()
"""


from markets.sandbox.server import SandboxURLs  # noqa: E402  (no Django needed to import it)


def sandbox_accounts(sandbox, per_market: int, *, vendor_base: int, app_prefix: str) -> list[tuple]:
    """``per_market`` Coupang and as many SmartStore accounts, each registered at the sandbox and in our
    database pointing at it: (MarketAccount, the sandbox owner id), alternating Coupang and SmartStore."""
    from markets import services as market_services

    control, accounts = sandbox.control, []
    for i in range(per_market):
        cp = control.add_coupang_account(vendor_id=f"B{vendor_base + i}", reply_by="bench")
        accounts.append(
            (
                market_services.account_create(
                    name=f"coupang_{i}",
                    market_code="COUPANG",
                    vendor_id=cp["vendor_id"],
                    access_key=cp["access_key"],
                    secret_key=cp["secret_key"],
                    reply_by="bench",
                    api_base_url=sandbox.coupang_base_url,
                ),
                cp["vendor_id"],
            )
        )
        nv = control.add_naver_account(client_id=f"{app_prefix}-{i}")
        accounts.append(
            (
                market_services.account_create(
                    name=f"naver_{i}",
                    market_code="SMARTSTORE",
                    client_id=nv["client_id"],
                    client_secret=nv["client_secret"],
                    api_base_url=sandbox.naver_base_url,
                ),
                nv["client_id"],
            )
        )
    return accounts


class SandboxProcess(SandboxURLs):
    """The sandbox marketplace in a process of its own, driven through its control API.

    The marketplace is a remote system in production: in its own process its CPU does not compete with
    the code under test for one interpreter lock (it still shares the machine's cores, and is counted).
    Rate limits off, no latency, no faults.
    """

    def __init__(self, seed: int = 1):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SANDBOX_MAIN.format(root=str(ROOT), seed=seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            self.proc.kill()
            raise RuntimeError(f"sandbox did not start: {line!r}")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"
        from markets.sandbox.control import SandboxControl

        self.control = SandboxControl(self.url, timeout=120)

    def cpu_seconds(self) -> float | None:
        return proc_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except Exception:
                self.proc.kill()


def emit(result: dict) -> None:
    """Print the script's JSON document (stdout carries nothing else)."""
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except Exception:
        return "unknown"
