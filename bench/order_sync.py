#!/usr/bin/env python
"""Order-sync throughput: order lines per second from the sandbox marketplace into ``market_order``.

    .venv/bin/python bench/order_sync.py [--orders 20000] [--accounts 4] [--threads N]

``--accounts`` Coupang and as many SmartStore accounts; the orders are spread over them in the sandbox's
realistic scenario mix (paid, preparing, shipped, in transit, delivered, cancelled, returned, exchanged,
stalled…), placed within the last days (inside the first sync's look-back). The sandbox's own rate
limits are off and the clients get a ``NullLimiter``: this measures our pipeline (HTTP + parsing +
personal-data scrubbing + upsert), not the marketplaces' quotas.

Timed: ``sync_orders()`` exactly as the ``sync_orders`` command and the schedule run it — accounts synced
``--threads`` at a time (default: the product's ``SYNC_THREADS``) — except that its clients get the
``NullLimiter``. Reported: the first sync of every account (every line new: the figure the goal is
about) and a second sync of the same windows (everything already stored: only ``synced_at`` moves), with
the CPU seconds this process and the sandbox used during the first sync. A Coupang line can arrive on
two streams (its order sheet and a claim), so ``fetched`` may exceed the lines stored; ``ok``: every
line the sandbox holds is stored and the second sync creates nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--accounts", type=int, default=4, help="accounts per marketplace")
    p.add_argument("--database", default="partialauto_bench_orders")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--threads", type=int, default=None, help="accounts synced at a time (default: SYNC_THREADS)")
    args = p.parse_args()

    common.setup(args.database)
    from django.db import connection

    from markets.clients.ratelimit import NullLimiter
    from markets.models import MarketOrder, OrderSyncCursor
    from markets.orders import SYNC_THREADS, sync_orders

    sandbox = common.SandboxProcess(seed=args.seed)
    control = sandbox.control
    accounts = common.sandbox_accounts(sandbox, args.accounts, vendor_base=30_000_000, app_prefix="bench-orders")
    per_account = max(1, args.orders // len(accounts))
    common.say(f"placing {per_account * len(accounts)} orders in the sandbox")
    for account, owner in accounts:
        for start in range(0, per_account, 2000):
            control.add_orders(min(2000, per_account - start), market=account.market_code, owner=owner)
    sandbox_lines = sum(len(order["lines"]) for order in control.orders())

    threads = args.threads or SYNC_THREADS

    def sync() -> tuple[int, int, int]:
        created = updated = fetched = 0
        for summary in sync_orders(threads=threads, limiter=NullLimiter()):
            if summary.errors:
                raise SystemExit(f"order sync of {summary.account} failed: {summary.errors}")
            created, updated, fetched = created + summary.created, updated + summary.updated, fetched + summary.fetched
        return created, updated, fetched

    common.say("first sync")
    sandbox_cpu_before = sandbox.cpu_seconds()
    cpu_before = time.process_time()
    with common.stopwatch() as first_time:
        created, updated, fetched = sync()
    first_s = first_time()
    cpu_first = time.process_time() - cpu_before
    sandbox_cpu_first = (sandbox.cpu_seconds() or 0) - (sandbox_cpu_before or 0)

    OrderSyncCursor.objects.update(watermark=None)  # the same windows again: nothing new
    with common.stopwatch() as second_time:
        again_created, again_updated, again_fetched = sync()
    second_s = second_time()
    stored = MarketOrder.objects.count()
    sandbox.stop()
    result = {
        "bench": "order_sync",
        "command": "bench/order_sync.py " + " ".join(sys.argv[1:]),
        "database": connection.settings_dict["NAME"],
        "accounts": len(accounts),
        "threads": threads,
        "sandbox_orders": per_account * len(accounts),
        "sandbox_lines": sandbox_lines,
        "fetched": fetched,
        "created": created,
        "updated": updated,
        "stored_lines": stored,
        "first_sync_s": round(first_s, 3),
        "orders_per_s": round(per_account * len(accounts) / first_s, 1) if first_s else None,
        "lines_per_s": round(stored / first_s, 1) if first_s else None,
        "bench_cpu_s_during_first_sync": round(cpu_first, 2),
        "sandbox_cpu_s_during_first_sync": round(sandbox_cpu_first, 2),
        "second_sync_s": round(second_s, 3),
        "second_sync": {"fetched": again_fetched, "created": again_created, "updated": again_updated},
        "second_sync_lines_per_s": round(again_fetched / second_s, 1) if second_s else None,
        "limiter": "NullLimiter (sandbox rate limits off)",
        "ok": stored == sandbox_lines and again_created == 0,
    }
    common.emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
