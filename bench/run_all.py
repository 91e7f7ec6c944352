#!/usr/bin/env python
"""Run every benchmark once, in one go, and collect one JSON document.

    .venv/bin/python bench/run_all.py [--quick]

Each script runs as its own process (each builds its own scratch database and Django settings); the
document goes to stdout and to ``bench/results/latest.json``, with the machine, the ``pgbench -N``
reference of the same run (measured first and last) and, per goal, the figure, the goal, pass/miss
and the command that produced it. ``--quick`` uses smaller sizes (a smoke run, not the reference).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

HERE = Path(__file__).resolve().parent
PY = sys.executable


def run(script: str, *args: str, timeout: float = 1800) -> dict:
    command = [PY, str(HERE / script), *args]
    shown = "python bench/" + " ".join([script, *args])
    common.say(f"running {shown}")
    start = time.monotonic()
    log_dir = HERE / "results" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / (script.replace(".py", "") + ".stderr.log"), "w") as stderr:
        proc = subprocess.run(
            command, cwd=common.ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=timeout
        )
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        result = {"error": f"no JSON (exit {proc.returncode})", "stdout_tail": proc.stdout[-2000:]}
    result["exit_code"] = proc.returncode
    result["wall_s"] = round(time.monotonic() - start, 1)
    result["run_command"] = shown
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    q = args.quick
    started = dt.datetime.now(dt.UTC)
    out: dict = {
        "started_at": started.isoformat(timespec="seconds"),
        "revision": common.git_revision(),
        "machine": common.machine(),
        "loadavg_at_start": common.loadavg(),
        "results": {},
    }
    r = out["results"]
    r["pgbench_first"] = run("pgbench.py", "--seconds", "5" if q else "15")
    r["ingest"] = run("ingest.py", "--inquiries", "4000" if q else "20000")
    r["order_sync"] = run("order_sync.py", "--orders", "4000" if q else "20000")
    r["decide"] = run("decide.py", "--inquiries", "2000" if q else "10000", "--memory-probe", "500" if q else "2000")
    r["send"] = run("send.py", "--accounts", "100", "--inquiries", "2000" if q else "10000", "--limiter", "redis")
    r["first_response"] = run("first_response.py", "--minutes", "1" if q else "3")
    r["monitor_kpi"] = run("monitor_kpi.py", *(["--small", "10000", "--large", "100000"] if q else []))
    r["admin_pages"] = run("admin_pages.py", "--reuse", *(["--rows", "100000"] if q else []))
    r["pgbench_last"] = run("pgbench.py", "--seconds", "5" if q else "15")
    out["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out["loadavg_at_end"] = common.loadavg()
    out["table"] = table(r)
    text = json.dumps(out, ensure_ascii=False, indent=2, default=str)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / ("latest-quick.json" if q else "latest.json")).write_text(text + "\n")
    (results / ("latest-quick.md" if q else "latest.md")).write_text(markdown(out))
    sys.stdout.write(text + "\n")
    return 0


def table(r: dict) -> list[dict]:
    """One row per goal: what, goal, measured, pass/miss, command."""
    rows = []

    def add(what, goal, measured, ok, command):
        rows.append(
            {
                "what": what,
                "goal": goal,
                "measured": measured,
                "result": "n/a" if ok is None else ("pass" if ok else "MISS"),
                "command": command,
            }
        )

    pg = r.get("pgbench_first", {})
    add(
        "pgbench -N (reference, start of run)",
        "-",
        f"{pg.get('tps')} tps ({pg.get('clients')} clients)",
        None,
        pg.get("command"),
    )
    ing = r.get("ingest", {})
    add(
        "ingest throughput",
        ">= 2000 inquiries/s",
        f"{ing.get('inquiries_per_s')} /s",
        _ge(ing.get("inquiries_per_s"), 2000),
        ing.get("run_command"),
    )
    osy = r.get("order_sync", {})
    add(
        "order sync",
        ">= 2000 orders/s",
        f"{osy.get('orders_per_s')} orders/s ({osy.get('lines_per_s')} lines/s)",
        _ge(osy.get("orders_per_s"), 2000),
        osy.get("run_command"),
    )
    dec = r.get("decide", {})
    add(
        f"decisions (trained model v{dec.get('model_version')}, grounded drafts + policy)",
        ">= 2000 /s",
        f"{dec.get('decisions_per_s')} /s",
        _ge(dec.get("decisions_per_s"), 2000),
        dec.get("run_command"),
    )
    probe = dec.get("worker_memory") or {}
    add(
        "worker memory deciding with the model (peak VmHWM)",
        "<= 150 MB",
        f"{probe.get('VmHWM')} MB",
        _le(probe.get("VmHWM"), 150),
        dec.get("run_command"),
    )
    snd = r.get("send", {})
    add(
        "sends end to end, 2 workers",
        ">= 500 /s",
        f"{snd.get('answers_per_s')} /s (middle 80 %: {snd.get('answers_per_s_middle_80pct')} /s)",
        _ge(snd.get("answers_per_s"), 500),
        snd.get("run_command"),
    )
    add(
        "at most once (same send run)",
        "0 double answers",
        f"{snd.get('double_answers')} double, db==sandbox: {snd.get('db_sent_equals_sandbox')}",
        snd.get("double_answers") == 0 and snd.get("db_sent_equals_sandbox") is True,
        snd.get("run_command"),
    )
    add(
        "worker memory (peak VmHWM)",
        "<= 150 MB each",
        f"{snd.get('worker_peak_rss_mb')} MB",
        None if snd.get("worker_peak_rss_mb") is None else snd.get("worker_peak_rss_mb") <= 150,
        snd.get("run_command"),
    )
    fr = r.get("first_response", {})
    waits = fr.get("wait_at_sandbox_s") or {}
    add(
        "first-response time, 500 new inquiries/min over 50 accounts (automatic answers, appear → accepted)",
        "p95 <= 60 s",
        f"p50 {waits.get('p50')} s, p95 {waits.get('p95')} s",
        _le(waits.get("p95"), 60),
        fr.get("run_command"),
    )
    mk = r.get("monitor_kpi", {})
    add(
        "monitor at 1 M rows",
        "<= 100 ms",
        f"{mk.get('monitor_ms_large')} ms",
        _le(mk.get("monitor_ms_large"), 100),
        mk.get("run_command"),
    )
    add(
        "monitor 1 M vs 100 k",
        "<= 1.5x",
        f"{mk.get('monitor_ratio_large_to_small')}x ({mk.get('monitor_ms_small')} ms at 100 k)",
        _le(mk.get("monitor_ratio_large_to_small"), 1.5),
        mk.get("run_command"),
    )
    add(
        "kpi_report(24h) at 100 k / 1 M",
        "(no goal)",
        f"{mk.get('kpi_ms_small')} ms / {mk.get('kpi_ms_large')} ms",
        None,
        mk.get("run_command"),
    )
    busy = mk.get("busy_hour") or {}
    add(
        f"monitor, {busy.get('decisions_per_hour')} AUTO_SEND decisions in the last hour",
        "<= 100 ms",
        (
            f"{mk.get('monitor_ms_busy_hour')} ms (max {mk.get('monitor_ms_busy_hour_max')} ms; "
            f"first run {busy.get('first_run_ms')} ms)"
        ),
        _le(mk.get("monitor_ms_busy_hour_max"), 100),
        mk.get("run_command"),
    )
    adm = r.get("admin_pages", {})
    for name, page in (adm.get("pages") or {}).items():
        add(
            f"admin {name}",
            "<= 300 ms",
            f"{page.get('median_ms')} ms",
            _le(page.get("median_ms"), 300),
            adm.get("run_command"),
        )
    pg2 = r.get("pgbench_last", {})
    add(
        "pgbench -N (reference, end of run)",
        "-",
        f"{pg2.get('tps')} tps ({pg2.get('clients')} clients)",
        None,
        pg2.get("command"),
    )
    return rows


def markdown(out: dict) -> str:
    """The results table as Markdown (pasted into docs/performance.md)."""
    m = out["machine"]
    lines = [
        f"Run {out['started_at']} → {out['finished_at']} (revision {out['revision']}), "
        f"{m.get('nproc')} CPUs ({m.get('cpu_model')}), {m.get('mem_total_mb')} MB RAM, "
        f"PostgreSQL {m.get('postgresql')} "
        f"(shared_buffers {m.get('pg_shared_buffers')}, synchronous_commit {m.get('pg_synchronous_commit')}), "
        f"Python {m.get('python')}, Django {m.get('django')}; load average at start {out['loadavg_at_start']}, "
        f"at end {out['loadavg_at_end']}.",
        "",
        "| what | goal | measured | result | command |",
        "|---|---|---|---|---|",
    ]
    for row in out["table"]:
        lines.append(f"| {row['what']} | {row['goal']} | {row['measured']} | {row['result']} | `{row['command']}` |")
    return "\n".join(lines) + "\n"


def _ge(value, goal):
    return None if value is None else value >= goal


def _le(value, goal):
    return None if value is None else value <= goal


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
