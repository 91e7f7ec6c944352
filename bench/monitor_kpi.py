#!/usr/bin/env python
"""``run_monitor()`` and ``kpi_report()`` at 100 k and at 1 M inquiry rows.

    .venv/bin/python bench/monitor_kpi.py [--small 100000] [--large 1000000] [--repeat 7]

The data (``bench/dataset.py``): eight accounts (LIVE, TEST, SHADOW; Coupang and SmartStore), 90 days of
history, realistic status mixes and one send attempt per sent inquiry, generated in bulk inside
PostgreSQL and ANALYZEd. First ``--small`` rows are generated and measured, then rows are added up to
``--large`` (still 90 days: the recent windows grow with the total, and the JSON says by how much) and
measured again. The monitor runs exactly as the schedule runs it (every enabled rule, acting): one
warm-up run (it opens the incidents the data calls for), then the median of ``--repeat`` runs.
``kpi_report(window="24h")`` likewise. The slowest statements of one monitor run are listed with
their times. The database is kept for ``bench/admin_pages.py --reuse``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import dataset  # noqa: E402


def slowest_statements(fn, n: int = 6) -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    queries = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))
    return {"statements": len(ctx.captured_queries),
            "slowest": [{"ms": round(float(q["time"]) * 1000, 2), "sql": " ".join(q["sql"].split())[:300]} for q in queries[:n]]}


def measure(repeat: int) -> dict:
    from policy.kpi import kpi_report
    from policy.monitor import run_monitor

    warm = common.timed(lambda: run_monitor(), 1)
    report = run_monitor()
    monitor = common.timed(lambda: run_monitor(), repeat)
    kpi_report(window="24h")
    kpi = common.timed(lambda: kpi_report(window="24h"), max(3, repeat // 2))
    return {
        "data": dataset.counts(),
        "monitor": {**monitor, "first_run_ms": warm["median_ms"], "rules_evaluated": report.evaluated,
                    "trips": [t["rule"] + (f" [{t['account']}]" if t.get("account") else "") for t in report.trips]},
        "monitor_statements": slowest_statements(lambda: run_monitor()),
        "kpi_24h": kpi,
        "kpi_statements": slowest_statements(lambda: kpi_report(window="24h")),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", type=int, default=100_000)
    p.add_argument("--large", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--database", default="partialauto_bench_data")
    args = p.parse_args()

    common.setup(args.database)
    from django.db import connection

    dataset.create_accounts()
    common.say(f"generating {args.small} inquiries")
    t0 = time.perf_counter()
    dataset.generate(args.small, first_external_id=1)
    gen_small = time.perf_counter() - t0
    small = measure(args.repeat)
    common.say(f"growing to {args.large} inquiries")
    t0 = time.perf_counter()
    dataset.generate(args.large - args.small, first_external_id=args.small + 1, seed=0.17)
    gen_large = time.perf_counter() - t0
    large = measure(args.repeat)
    ratio = large["monitor"]["median_ms"] / small["monitor"]["median_ms"] if small["monitor"]["median_ms"] else None
    result = {
        "bench": "monitor_kpi",
        "command": "bench/monitor_kpi.py " + " ".join(sys.argv[1:]),
        "database": connection.settings_dict["NAME"],
        "generate_s": {"small": round(gen_small, 1), "large": round(gen_large, 1)},
        "small": small,
        "large": large,
        "monitor_ms_small": small["monitor"]["median_ms"],
        "monitor_ms_large": large["monitor"]["median_ms"],
        "monitor_ratio_large_to_small": round(ratio, 2) if ratio else None,
        "kpi_ms_small": small["kpi_24h"]["median_ms"],
        "kpi_ms_large": large["kpi_24h"]["median_ms"],
        "loadavg": common.loadavg(),
    }
    common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
