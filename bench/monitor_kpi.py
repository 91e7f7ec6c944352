#!/usr/bin/env python
"""``run_monitor()`` and ``kpi_report()`` at 100 k and at 1 M inquiry rows.

    .venv/bin/python bench/monitor_kpi.py [--small 100000] [--large 1000000] [--repeat 7] [--hourly-decisions 50000]

The data (``bench/dataset.py``): eight accounts (LIVE, TEST, SHADOW; Coupang and SmartStore), 90 days of
history, realistic status mixes and one send attempt per sent inquiry, generated in bulk inside
PostgreSQL and ANALYZEd. First ``--small`` rows are generated and measured, then rows are added up to
``--large`` (still 90 days: the recent windows grow with the total, and the JSON says by how much) and
measured again. The monitor runs exactly as the schedule runs it (every enabled rule, acting): one
warm-up run (it opens the incidents the data calls for), then the median of ``--repeat`` runs.
``kpi_report(window="24h")`` likewise. The slowest statements of one monitor run are listed with
their times. The database is kept for ``bench/admin_pages.py --reuse``.

Then a busy hour (``--hourly-decisions``, 0 to skip): that many AUTO_SEND decisions, decided over the
last hour, are added to the large set, and new decisions keep arriving at the same rate (each batch
decided over the real time since the previous one). Timed: the first run (it rescans the whole hour
with the risk matcher: what the first run ever and a change of the risk keywords cost), one run while
that rescan still covers the newest decisions (the agents may still use the old keyword list), the run
that ends the rescan, then ``--repeat`` runs of the steady state, ``--run-every`` seconds apart (the
schedule runs every 60 s; the decisions of the last minutes, which a run reads again, are the same at
any spacing, only the batch between two runs is smaller). To get to the steady state without waiting
the five and a half minutes the rescan keeps watching for late decisions, the bench moves the scan's
marks back by that much. The busy hour's texts are all different, so the matcher's figures are not
flattered by its normalisation cache.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import dataset


def slowest_statements(fn, n: int = 6) -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    queries = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))
    return {
        "statements": len(ctx.captured_queries),
        "slowest": [
            {"ms": round(float(q["time"]) * 1000, 2), "sql": " ".join(q["sql"].split())[:300]} for q in queries[:n]
        ],
    }


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
        "monitor": {
            **monitor,
            "first_run_ms": warm["median_ms"],
            "rules_evaluated": report.evaluated,
            "trips": [t["rule"] + (f" [{t['account']}]" if t.get("account") else "") for t in report.trips],
        },
        "monitor_statements": slowest_statements(lambda: run_monitor()),
        "kpi_24h": kpi,
        "kpi_statements": slowest_statements(lambda: kpi_report(window="24h")),
    }


def add_decisions(count: int, *, within: str, first_external_id: int) -> int:
    dataset.generate(count, first_external_id=first_external_id, decided_within=within, seed=0.5)
    return first_external_id + count


class Arrivals:
    """New AUTO_SEND decisions at the busy hour's rate, decided over the real time since the last batch."""

    def __init__(self, per_hour: int, next_id: int) -> None:
        self.per_second = per_hour / 3600
        self.next_id = next_id
        self.last = time.monotonic()
        self.added: list[int] = []

    def add(self) -> None:
        now = time.monotonic()
        seconds, self.last = now - self.last, now
        count = max(round(seconds * self.per_second), 1)
        self.next_id = add_decisions(count, within=f"{seconds:.3f} seconds", first_external_id=self.next_id)
        self.added.append(count)


def measure_busy_hour(per_hour: int, repeat: int, run_every: float, first_external_id: int) -> dict:
    from django.utils import timezone

    from policy.models import RiskScanState
    from policy.monitor import run_monitor
    from policy.risk_scan import SETTLE

    arrivals = Arrivals(per_hour, add_decisions(per_hour, within="60 minutes", first_external_id=first_external_id))
    data = dataset.counts()
    RiskScanState.objects.all().delete()  # the first run ever, or the first after the risk keywords changed
    first = common.timed(lambda: run_monitor(), 1)
    arrivals.add()
    rescanning = common.timed(lambda: run_monitor(), 1)
    # As if the first run had been SETTLE and more ago: the rescan is complete, decisions are read from
    # their own records from now on. The next run ends the rescan (it forgets what it rescanned).
    RiskScanState.objects.filter(pk=1).update(rescan_until=timezone.now() - SETTLE - dt.timedelta(minutes=1))
    arrivals.add()
    ending = common.timed(lambda: run_monitor(), 1)
    arrivals.added.clear()
    runs = []
    for _ in range(repeat):
        time.sleep(max(0.0, run_every - (time.monotonic() - arrivals.last)))
        arrivals.add()
        runs.append(common.timed(lambda: run_monitor(), 1)["median_ms"])
    arrivals.add()
    statements = slowest_statements(lambda: run_monitor())
    report = run_monitor(dry_run=True)
    return {
        "decisions_per_hour": per_hour,
        "run_every_s": run_every,
        "new_decisions_per_run": arrivals.added[:-1],
        "data": data,
        "auto_send_decided_last_hour": _auto_send_last_hour(),
        "first_run_ms": first["median_ms"],
        "run_while_rescanning_ms": rescanning["median_ms"],
        "run_ending_the_rescan_ms": ending["median_ms"],
        "steady": {
            "median_ms": round(statistics.median(runs), 2),
            "min_ms": min(runs),
            "max_ms": max(runs),
            "runs_ms": runs,
        },
        "trips": [t["rule"] + (f" [{t['account']}]" if t.get("account") else "") for t in report.trips],
        "statements": statements,
    }


def _auto_send_last_hour() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM market_inquiry_raw WHERE status = 'AUTO_SEND' "
            "AND decided_at >= now() - interval '1 hour'"
        )
        return cursor.fetchone()[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", type=int, default=100_000)
    p.add_argument("--large", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--database", default="partialauto_bench_data")
    p.add_argument("--hourly-decisions", type=int, default=50_000)
    p.add_argument(
        "--run-every",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds between the busy hour's measured runs (the schedule: 60)",
    )
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
    busy = None
    if args.hourly_decisions > 0:
        common.say(f"a busy hour: {args.hourly_decisions} AUTO_SEND decisions in the last hour")
        busy = measure_busy_hour(args.hourly_decisions, args.repeat, args.run_every, first_external_id=args.large + 1)
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
        "busy_hour": busy,
        "monitor_ms_busy_hour": busy["steady"]["median_ms"] if busy else None,
        "monitor_ms_busy_hour_max": busy["steady"]["max_ms"] if busy else None,
        "loadavg": common.loadavg(),
    }
    common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
