#!/usr/bin/env python
"""``pgbench -N`` on the same PostgreSQL: the reference for what this machine's database can do.

    .venv/bin/python bench/pgbench.py [--scale 10] [--clients 2] [--seconds 15]

``-N`` is pgbench's "simple update" script without the contended teller/branch updates: per
transaction one UPDATE, one SELECT and one INSERT, committed (``synchronous_commit`` as configured).
With ``--clients 2`` it uses as many connections as the send benchmark has workers.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=int, default=10)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--database", default="partialauto_bench_pgbench")
    args = p.parse_args()

    exe = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    common.create_database(args.database)
    url = urlsplit(common.PG)
    conn = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    init = subprocess.run(
        [exe, *conn, "-i", "-q", "-s", str(args.scale), args.database], capture_output=True, text=True
    )
    if init.returncode:
        raise SystemExit(f"pgbench -i failed: {init.stderr[-500:]}")
    load_before = common.loadavg()
    run = subprocess.run(
        [exe, *conn, "-N", "-c", str(args.clients), "-j", str(args.clients), "-T", str(args.seconds), args.database],
        capture_output=True,
        text=True,
    )
    if run.returncode:
        raise SystemExit(f"pgbench -N failed: {run.stderr[-500:]}")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", run.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", run.stdout)
    result = {
        "bench": "pgbench",
        "command": f"pgbench -N -c {args.clients} -j {args.clients} -T {args.seconds} (scale {args.scale})",
        "script": "bench/pgbench.py " + " ".join(sys.argv[1:]),
        "tps": float(tps.group(1)) if tps else None,
        "latency_ms": float(latency.group(1)) if latency else None,
        "clients": args.clients,
        "loadavg_before": load_before,
        "loadavg_after": common.loadavg(),
        "output": run.stdout.strip().splitlines()[-6:],
    }
    common.emit(result)
    return 0 if result["tps"] else 1


if __name__ == "__main__":
    sys.exit(main())
