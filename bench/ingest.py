#!/usr/bin/env python
"""Ingest throughput: inquiries per second from the sandbox marketplace into ``market_inquiry_raw``.

    .venv/bin/python bench/ingest.py [--inquiries 20000] [--accounts 4] [--threads N] [--profile]

``--accounts`` Coupang and as many SmartStore accounts; the inquiries are spread over them and over
both inquiry kinds of each market, asked within the last day (inside the first poll's look-back), 20 %
already answered on the marketplace. The sandbox's own rate limits are off and the clients get a
``NullLimiter``: this measures our pipeline (HTTP + parsing + upsert), not the marketplaces' quotas —
with the shared limiter a Coupang account is bounded by 8 calls/s × 50 items per page.

Timed: ``poll_markets()`` exactly as the ``poll_markets`` command and the schedule run it — accounts
polled ``--threads`` at a time (default: the product's ``POLL_THREADS``), each account's pages read
ahead of the writes in a thread of their own — except that its clients get the ``NullLimiter``.

Reported: the first poll of every account (everything new: the figure the goal is about), a fetch-only
pass of the same windows (one account after the other: how fast HTTP + parsing alone goes) and a
second poll of the same windows (everything already stored: the steady state of the overlapping
windows), with the CPU seconds this process (all its threads) and the sandbox used during the first
poll. ``--profile`` profiles every thread of the first poll and sums them: the threads overlap, so the
times add up to more than the wall-clock time (``BENCH_PROFILE_DUMP=FILE`` also writes the summed
stats for ``pstats``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


class ThreadsProfile:
    """cProfile of the calling thread and of every thread started inside the block, summed."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._profiles: list = []

    def __enter__(self):
        if self.enabled:
            import cProfile
            import threading

            profiles = self._profiles
            self._run = original = threading.Thread.run

            def run(thread):
                prof = cProfile.Profile()
                profiles.append(prof)
                prof.enable()
                try:
                    original(thread)
                finally:
                    prof.disable()

            threading.Thread.run = run
            self._main = cProfile.Profile()
            profiles.append(self._main)
            self._main.enable()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            import os
            import threading

            self._main.disable()
            threading.Thread.run = self._run
            dump = os.environ.get("BENCH_PROFILE_DUMP")
            if dump:
                self._stats().dump_stats(dump)

    def _stats(self, stream=None):
        import pstats

        stats = pstats.Stats(self._profiles[0], stream=stream)
        for prof in self._profiles[1:]:
            stats.add(prof)
        return stats

    def top(self, n: int, sort: str = "cumulative") -> list[str] | None:
        if not self._profiles:
            return None
        import io

        out = io.StringIO()
        self._stats(out).sort_stats(sort).print_stats(n)
        lines = [line.rstrip() for line in out.getvalue().splitlines()]
        start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
        return [line for line in lines[start:] if line.strip()]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inquiries", type=int, default=20_000)
    p.add_argument("--accounts", type=int, default=4, help="accounts per marketplace")
    p.add_argument("--database", default="partialauto_bench_ingest")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--threads", type=int, default=None, help="accounts polled at a time (default: POLL_THREADS)")
    p.add_argument("--profile", action="store_true", help="cProfile the first poll; top entries in the JSON")
    args = p.parse_args()

    common.setup(args.database)
    from django.db import connection
    from django.utils import timezone

    from inquiries.ingest import POLL_THREADS, poll_markets
    from inquiries.models import Inquiry, InquiryEvent
    from markets.clients.ratelimit import NullLimiter
    from markets.connect import client_for
    from markets.models import PollCursor

    sandbox = common.SandboxProcess(seed=args.seed)
    control = sandbox.control
    accounts = common.sandbox_accounts(sandbox, args.accounts, vendor_base=20_000_000, app_prefix="bench-app")
    per_kind = max(1, args.inquiries // (len(accounts) * 2))
    common.say(f"generating {per_kind * len(accounts) * 2} inquiries in the sandbox")
    for account, owner in accounts:
        for kind in account.kinds:
            control.add_inquiries(kind, per_kind, owner=owner, answered_ratio=0.2, risk_ratio=0.05, days_back=1.0)
    expected = per_kind * len(accounts) * 2

    clients = {account.pk: client_for(account, limiter=NullLimiter()) for account, _ in accounts}
    now = timezone.now()

    # fetch only: the same windows the first poll will ask for (reads are idempotent)
    from inquiries.ingest import FIRST_POLL_LOOKBACK

    fetched = 0
    with common.stopwatch() as fetch_time:
        for account, _owner in accounts:
            for kind in account.kinds:
                fetched += sum(1 for _ in clients[account.pk].list_inquiries(kind, now - FIRST_POLL_LOOKBACK, now))
    fetch_s = fetch_time()
    sandbox_cpu_before = sandbox.cpu_seconds()

    threads = args.threads or POLL_THREADS

    def poll() -> int:
        created = 0
        for summary in poll_markets(threads=threads, limiter=NullLimiter()):
            if summary.errors:
                raise SystemExit(f"poll of {summary.account} failed: {summary.errors}")
            created += summary.created
        return created

    common.say("first poll")
    prof = ThreadsProfile(args.profile)
    cpu_before = time.process_time()
    with common.stopwatch() as first_time, prof:
        created = poll()
    first_s = first_time()
    cpu_first = time.process_time() - cpu_before
    sandbox_cpu_first = (sandbox.cpu_seconds() or 0) - (sandbox_cpu_before or 0)

    # second poll of the same windows: nothing new, everything looked up
    PollCursor.objects.update(watermark=None)
    with common.stopwatch() as second_time:
        again = poll()
    second_s = second_time()

    stored = Inquiry.objects.count()
    ingested_events = InquiryEvent.objects.filter(type="INGESTED").count()
    sandbox.stop()
    result = {
        "bench": "ingest",
        "command": "bench/ingest.py " + " ".join(sys.argv[1:]),
        "database": connection.settings_dict["NAME"],
        "accounts": len(accounts),
        "threads": threads,
        "sandbox_inquiries": expected,
        "fetched": fetched,
        "created": created,
        "stored_rows": stored,
        "ingested_events": ingested_events,
        "second_poll_created": again,
        "first_poll_s": round(first_s, 3),
        "inquiries_per_s": round(created / first_s, 1) if first_s else None,
        "fetch_only_s": round(fetch_s, 3),
        "fetch_only_items_per_s": round(fetched / fetch_s, 1) if fetch_s else None,
        "sandbox_cpu_s_during_first_poll": round(sandbox_cpu_first, 2),
        "bench_cpu_s_during_first_poll": round(cpu_first, 2),
        "second_poll_s": round(second_s, 3),
        "second_poll_items_per_s": round(fetched / second_s, 1) if second_s else None,
        "limiter": "NullLimiter (sandbox rate limits off)",
        "sandbox": "separate process",
        "profile_first_poll": prof.top(30),
        "profile_first_poll_tottime": prof.top(30, sort="tottime"),
        "ok": created == expected == stored and again == 0 and ingested_events == stored,
    }
    common.emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
