#!/usr/bin/env python
"""End-to-end send throughput: a real django-q2 cluster with 2 workers answering due inquiries.

    .venv/bin/python bench/send.py [--accounts 100] [--inquiries 20000] [--limiter redis|db]
                                   [--dispatch sweep|per-inquiry] [--workers 2]

What runs:
* the sandbox marketplace in a process of its own, zero latency, its own rate limits off;
* ``--accounts`` Coupang accounts, all LIVE in phase 3 (every intent, no daily quota), business hours
  always open, rollback rules enabled;
* ``--inquiries`` inquiries spread evenly over the accounts, ingested through the real poller (so the
  ids of one account are contiguous, as after a real poll) and marked AUTO_SEND with an answer;
* ``manage.py qcluster`` with ``CS_Q_WORKERS=--workers``. ``--limiter redis`` sets ``REDIS_URL`` (our
  shared limiter and the django-q2 broker on Redis); ``--limiter db`` leaves it empty (limiter in
  ``market_rate_bucket``, ORM broker). Either way our limiter holds every vendor to 8 calls/s, so the
  limiter's ceiling is ``accounts × 8`` answers/s: 50 accounts could never show more than 400/s, which
  is why the default is 100 accounts (ceiling 800/s) — the goal is 500/s of *capacity*;
* ``--dispatch sweep``: the bench keeps a few ``send_due_task`` sweeps queued (what the schedule and
  the decision step queue); ``per-inquiry``: one ``send_inquiry_task`` per inquiry, queued up front.

Measured at the sandbox: answers accepted per second (overall, and over the middle 80 % of the
answers, which leaves out start-up and the tail), every answer checked against the database (no
inquiry answered twice, the database's SENT rows are exactly the sandbox's answered ones), and the
memory (VmRSS now / VmHWM peak, from /proc) of every cluster process, sampled during the run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=100)
    p.add_argument("--inquiries", type=int, default=20_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--limiter", choices=["redis", "db"], default="redis")
    p.add_argument("--dispatch", choices=["sweep", "per-inquiry"], default="sweep")
    p.add_argument("--sweep-limit", type=int, default=500, help="rows per send_due_task")
    p.add_argument("--deadline", type=float, default=600)
    p.add_argument("--database", default="partialauto_bench_send")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="instead of the cluster: cProfile send_due(limit=N) in this process; top entries in the JSON",
    )
    p.add_argument("--no-cprofile", action="store_true", help="with --profile: time only (CPU and statements per send)")
    args = p.parse_args()

    redis = args.limiter == "redis"
    if redis:
        common.flush_redis()
    env = common.setup(args.database, redis=redis, extra_env={"CS_Q_WORKERS": str(args.workers)})
    log_file = Path(env["CS_LOG_FILE"])
    if log_file.exists():
        log_file.unlink()

    from django.db import connection
    from django.db.models import Count
    from django_q.tasks import async_task

    from inquiries.ingest import poll_account
    from inquiries.models import Inquiry, SendAttempt
    from markets import services as market_services
    from markets.clients.ratelimit import COUPANG_RATE, NullLimiter
    from markets.connect import client_for
    from policy.models import Mode
    from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update

    sandbox = common.SandboxProcess(seed=3)
    control = sandbox.control
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    per_account = max(1, args.inquiries // args.accounts)
    common.say(f"{args.accounts} accounts × {per_account} inquiries")
    accounts = []
    for i in range(args.accounts):
        cp = control.add_coupang_account(vendor_id=f"S{40_000_000 + i}", reply_by="bench")
        account = market_services.account_create(
            name=f"coupang_{i:03d}",
            market_code="COUPANG",
            vendor_id=cp["vendor_id"],
            access_key=cp["access_key"],
            secret_key=cp["secret_key"],
            reply_by="bench",
            api_base_url=sandbox.coupang_base_url,
        )
        rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
        control.add_inquiries(
            "COUPANG_ONLINE", per_account, owner=cp["vendor_id"], answered_ratio=0.0, risk_ratio=0.0, days_back=1.0
        )
        accounts.append(account)
    for account in accounts:
        summary = poll_account(account, client=client_for(account, limiter=NullLimiter()))
        if summary.errors:
            raise SystemExit(f"ingest failed: {summary.errors}")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE market_inquiry_raw SET status = 'AUTO_SEND', decision_mode = 'LIVE', intent = '배송문의', "
            "confidence_score = 0.95, decided_at = now(), "
            "draft_answer = '안녕하세요 고객님, 문의 ' || external_id || '번 확인했습니다. 오늘 출고됩니다.', "
            "final_answer = '안녕하세요 고객님, 문의 ' || external_id || '번 확인했습니다. 오늘 출고됩니다.' "
            "WHERE status = 'NEW'"
        )
        cursor.execute("ANALYZE")
    total = Inquiry.objects.filter(status="AUTO_SEND").count()
    ids = list(Inquiry.objects.filter(status="AUTO_SEND").order_by("id").values_list("id", flat=True))

    if args.profile:
        return _profile_inline(args, total, sandbox)

    if args.dispatch == "per-inquiry":
        for pk in ids:
            async_task("policy.tasks.send_inquiry_task", pk)

    def queued() -> int:
        from django_q.brokers import get_broker

        return get_broker().queue_size() or 0

    def feed() -> None:
        # the schedule and the decision step keep sweeps coming; a few queued sweeps keep every worker busy
        if args.dispatch == "sweep":
            for _ in range(max(0, 2 * args.workers - queued())):
                async_task("policy.tasks.send_due_task", args.sweep_limit)

    feed()
    from django.db import connections

    connections.close_all()
    cluster_env = {**os.environ, **env}
    load_before = common.loadavg()
    stat_before = _cpu_times()
    started = time.monotonic()
    cluster = subprocess.Popen(
        [sys.executable, str(common.ROOT / "manage.py"), "qcluster"],
        cwd=common.ROOT,
        env=cluster_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    samples: list[tuple[float, int]] = []
    memory: dict[int, dict] = {}
    stat_first: list[int] | None = None
    sandbox_cpu0 = sandbox.cpu_seconds() or 0.0
    redis_pid = _redis_server_pid() if redis else None
    redis_cpu0 = (common.proc_cpu_seconds(redis_pid) or 0.0) if redis_pid else None
    backends: dict[int, float] = {}  # PostgreSQL backends serving the bench database: last CPU seconds seen
    try:
        while time.monotonic() - started < args.deadline:
            time.sleep(0.25)
            answered = control.stats()["answers_accepted"]
            samples.append((time.monotonic() - started, answered))
            if answered and stat_first is None:
                stat_first = _cpu_times()  # the machine's busy share is taken while answers flow
            for pid, _depth in common.descendants(cluster.pid):
                mem = common.proc_memory(pid)
                if mem:
                    seen = memory.setdefault(pid, {"VmRSS_max": 0.0, "VmHWM": 0.0})
                    seen["VmRSS_max"] = max(seen["VmRSS_max"], mem.get("VmRSS", 0.0))
                    seen["VmHWM"] = max(seen["VmHWM"], mem.get("VmHWM", 0.0))
                    seen["cpu_s"] = common.proc_cpu_seconds(pid)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                for (pid,) in cursor.fetchall():
                    cpu = common.proc_cpu_seconds(pid)
                    if cpu is not None:
                        backends[pid] = cpu
            if answered >= total:
                break
            feed()
        stat_last = _cpu_times()
        redis_cpu = (common.proc_cpu_seconds(redis_pid) or 0.0) - redis_cpu0 if redis_pid else None
    finally:
        common.stop_group(cluster, 30)
    sandbox_cpu = (sandbox.cpu_seconds() or 0.0) - sandbox_cpu0
    load_after = common.loadavg()

    ledger = control.answers()
    sandbox_stats = control.stats()
    sandbox.stop()
    keys = [(a["kind"], str(a["external_id"])) for a in ledger]
    doubles = len(keys) - len(set(keys))
    sent_keys = set(Inquiry.objects.filter(send_status="SENT").values_list("kind", "external_id"))
    by_send_status = dict(Inquiry.objects.values_list("send_status").annotate(n=Count("id")))
    attempts_per_inquiry = _attempt_histogram(SendAttempt)

    # throughput
    first = next((t for t, n in samples if n > 0), None)
    last_t, last_n = samples[-1] if samples else (0.0, 0)
    lo, hi = int(total * 0.1), int(total * 0.9)
    t_lo = next((t for t, n in samples if n >= lo), None)
    t_hi = next((t for t, n in samples if n >= hi), None)
    roles = _roles(Path(env["CS_LOG_FILE"]))
    workers = {pid: m for pid, m in memory.items() if roles.get(pid) == "worker"}
    window = (stat_first or stat_before, stat_last)
    cpu_total = sum(a - b for a, b in zip(window[1], window[0], strict=True))
    idle = (window[1][3] + window[1][4]) - (window[0][3] + window[0][4])
    result = {
        "bench": "send",
        "command": "bench/send.py " + " ".join(sys.argv[1:]),
        "database": connection.settings_dict["NAME"],
        "mode": f"real qcluster, CS_Q_WORKERS={args.workers}, dispatch={args.dispatch}",
        "limiter": ("RedisTokenBucket" if redis else "DatabaseTokenBucket") + f" at {COUPANG_RATE}/s per vendor",
        "broker": "redis" if redis else "orm",
        "accounts": args.accounts,
        "limiter_ceiling_per_s": args.accounts * COUPANG_RATE,
        "inquiries": total,
        "answers_accepted": last_n,
        "elapsed_s": round(last_t, 2),
        "first_answer_after_s": round(first, 2) if first is not None else None,
        "answers_per_s": round(last_n / (last_t - first), 1) if first is not None and last_t > first else None,
        "answers_per_s_middle_80pct": round((hi - lo) / (t_hi - t_lo), 1)
        if t_lo is not None and t_hi and t_hi > t_lo
        else None,
        "double_answers": doubles,
        "sandbox_answer_requests": sandbox_stats["answer_requests"],
        "db_sent_equals_sandbox": sent_keys == set(keys),
        "db_send_status": by_send_status,
        "send_attempts_per_inquiry": attempts_per_inquiry,
        "worker_memory_mb": {str(pid): m for pid, m in workers.items()},
        "worker_peak_rss_mb": max((m["VmHWM"] for m in workers.values()), default=None),
        "cluster_processes_memory_mb": {f"{pid} {roles.get(pid, '?')}": m for pid, m in memory.items()},
        "sandbox_cpu_s": round(sandbox_cpu, 2),
        # where the CPU of the run went (seconds): the workers, the database's backends, Redis, the sandbox
        "cpu_s_by_process": {
            "workers": round(sum(m.get("cpu_s") or 0.0 for m in workers.values()), 2),
            "postgresql_backends": round(sum(backends.values()), 2),
            "redis_server": None if redis_cpu is None else round(redis_cpu, 2),
            "sandbox": round(sandbox_cpu, 2),
        },
        "machine_cpu_busy_pct": round(100 * (1 - idle / cpu_total), 1) if cpu_total else None,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "ok": doubles == 0 and sent_keys == set(keys) and last_n == total,
    }
    common.emit(result)
    return 0 if result["ok"] else 1


def _profile_inline(args, total: int, sandbox) -> int:
    """cProfile one worker's work: send_due() in this process (no cluster, no broker)."""
    import resource

    from django.db import connection

    from policy.sending import send_due

    prof = common.Profile(not args.no_cprofile)
    queries = {"n": 0}

    by_statement: dict[str, list] = {}

    def count(execute, sql, params, many, context):
        queries["n"] += 1
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = by_statement.setdefault(" ".join(sql.split())[:100], [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - t

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with connection.execute_wrapper(count), prof:
        reports = send_due(limit=args.profile)
    elapsed = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    sent = sum(1 for r in reports if r.result == "SENT")
    sandbox.stop()
    common.emit(
        {
            "bench": "send-profile",
            "command": "bench/send.py " + " ".join(sys.argv[1:]),
            "sent": sent,
            "elapsed_s": round(elapsed, 3),
            "sends_per_s_one_process": round(sent / elapsed, 1) if elapsed else None,
            "cpu_ms_per_send": round(cpu * 1000 / sent, 2) if sent else None,
            "sql_statements_per_send": round(queries["n"] / sent, 2) if sent else None,
            "sql_wall_ms_by_statement": {
                k: {"n": n, "ms_each": round(t * 1000 / n, 3)}
                for k, (n, t) in sorted(by_statement.items(), key=lambda kv: -kv[1][1])[:15]
            },
            "profile_cumulative": prof.top(40),
            "profile_tottime": prof.top(30, sort="tottime"),
        }
    )
    return 0


def _attempt_histogram(SendAttempt) -> dict:
    from django.db.models import Count

    per = SendAttempt.objects.values("inquiry_id").annotate(n=Count("id"))
    hist: dict[int, int] = {}
    for row in per:
        hist[row["n"]] = hist.get(row["n"], 0) + 1
    return {str(k): v for k, v in sorted(hist.items())}


def _redis_server_pid() -> int | None:
    """The local redis-server's pid (its CPU is part of the run's budget), if one runs here."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and common.proc_cmdline(int(entry.name)).startswith(
            ("redis-server", "/usr/bin/redis-server")
        ):
            return int(entry.name)
    return None


def _cpu_times() -> list[int]:
    """Aggregate jiffies of the machine: user nice system idle iowait irq softirq steal."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    return [int(x) for x in fields]


_ROLE_RE = re.compile(r"(ready for work|pushing tasks|monitoring|guarding cluster)\D*(\d+)?")


def _roles(log_file: Path) -> dict[int, str]:
    """Which cluster process is a worker, the pusher, the monitor (django-q2 logs each start)."""
    roles: dict[int, str] = {}
    if not log_file.exists():
        return roles
    names = {
        "ready for work": "worker",
        "pushing tasks": "pusher",
        "monitoring": "monitor",
        "guarding cluster": "sentinel",
    }
    for line in log_file.read_text(errors="replace").splitlines():
        if "django-q" not in line and "django_q" not in line:
            continue
        for phrase, role in names.items():
            if phrase in line:
                pid = re.search(r" at (\d+)", line)
                if pid:
                    roles[int(pid.group(1))] = role
                else:
                    proc = re.search(r"django[-_]q (\d+):", line)
                    if proc:
                        roles.setdefault(int(proc.group(1)), role)
    return roles


if __name__ == "__main__":
    sys.exit(main())
