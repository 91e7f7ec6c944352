#!/usr/bin/env python
"""First-response time under load: new inquiries appear at the sandbox at a steady rate, a real django-q2
cluster polls, decides and answers them through the chained pipeline, and the wait of every automatic
answer is measured from the moment the inquiry appeared to the moment the sandbox accepted the answer.

    .venv/bin/python bench/first_response.py [--accounts 50] [--per-minute 500] [--minutes 3]
                                             [--workers 3] [--limiter db|redis]

What runs:
* the sandbox marketplace in a process of its own **with its rate limits on** (Coupang 10 calls/s per
  vendor, Naver 10 calls/s per application and API; a call over the limit gets a 429 that the bench
  counts): half the accounts Coupang, half SmartStore, all LIVE in phase 3, business hours always open,
  each with its shipping policy (the agent answers shipping questions from it);
* ``manage.py qcluster`` with ``--workers`` workers and the schedules of ``setup_schedules``: the poll
  loop (each account every 30 s, its default), the decide and send steps it chains, and the schedules
  as the net. The bench queues the first poll loop itself instead of waiting 30 s for the scheduler's
  first pass;
* after every account's first poll, ``--per-minute`` inquiries a minute for ``--minutes`` minutes,
  spread evenly over the accounts and the time (each created "now" at the sandbox: the marketplace's
  own timestamp), routine shipping questions in five wordings.

Printed (JSON): the waits of the automatic answers (p50/p90/p95/p99/max, from appearing to accepted), the
same figures as partialauto recorded them (``policy.first_response``) and the part that was ours (from
the poll that fetched it), how many were answered automatically, by a person or not at all by the end,
the 429s the sandbox gave, double answers (must be 0), and the machine's load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

QUESTIONS = [
    "오늘 주문하면 언제 받을 수 있을까요?",
    "지금 주문하면 언제 도착하나요?",
    "배송은 보통 며칠 걸리나요?",
    "오늘 주문하면 언제 출발하나요?",
    "주문하면 며칠 만에 받을 수 있어요?",
]


def _pct(values: list[float], p: float) -> float | None:
    from policy.first_response import percentile

    v = percentile(sorted(values), p)
    return None if v is None else round(v, 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=50)
    p.add_argument("--per-minute", type=int, default=500)
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--limiter", choices=["redis", "db"], default="db")
    p.add_argument("--drain", type=float, default=120, help="seconds to wait for the last answers")
    p.add_argument("--database", default="partialauto_bench_first_response")
    args = p.parse_args()

    redis = args.limiter == "redis"
    if redis:
        common.flush_redis()
    env = common.setup(args.database, redis=redis, extra_env={"CS_Q_WORKERS": str(args.workers)})

    from django.db import connections
    from django.utils import timezone
    from django_q.tasks import async_task

    from inquiries.models import Inquiry
    from markets import services as market_services
    from markets.models import PollCursor
    from partialauto.queue import POLL_LOOP
    from partialauto.schedules import setup_schedules
    from policy.first_response import answered_rows, first_response_report
    from policy.hours import load_calendar
    from policy.models import Mode
    from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update
    from tests.factories import make_shipping_policy

    sandbox = common.SandboxProcess(seed=18)
    control = sandbox.control
    control.set_faults(coupang_rps=10, naver_rps=10, naver_burst=10)  # the marketplaces' limits, enforced
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    owners: list[tuple[str, str]] = []  # (kind, owner) per account
    for i in range(args.accounts):
        if i % 2 == 0:
            cp = control.add_coupang_account(vendor_id=f"F{50_000_000 + i}", reply_by="bench")
            account = market_services.account_create(
                name=f"coupang_{i:03d}",
                market_code="COUPANG",
                vendor_id=cp["vendor_id"],
                access_key=cp["access_key"],
                secret_key=cp["secret_key"],
                reply_by="bench",
                api_base_url=sandbox.coupang_base_url,
            )
            owners.append(("COUPANG_ONLINE", cp["vendor_id"]))
        else:
            nv = control.add_naver_account(client_id=f"bench-fr-{i:03d}")
            account = market_services.account_create(
                name=f"naver_{i:03d}",
                market_code="SMARTSTORE",
                client_id=nv["client_id"],
                client_secret=nv["client_secret"],
                api_base_url=sandbox.naver_base_url,
            )
            owners.append(("NAVER_QNA" if i % 4 == 1 else "NAVER_INQUIRY", nv["client_id"]))
        make_shipping_policy(account)
        rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    setup_schedules()
    async_task(POLL_LOOP)
    connections.close_all()

    cluster = subprocess.Popen(
        [sys.executable, str(common.ROOT / "manage.py"), "qcluster"],
        cwd=common.ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    appeared: dict[tuple[str, str], dt.datetime] = {}
    total = int(args.per_minute * args.minutes)
    load_before = common.loadavg()
    try:
        started = time.monotonic()
        kinds = {"COUPANG": 2, "SMARTSTORE": 2}
        expected = sum(kinds["COUPANG" if k.startswith("COUPANG") else "SMARTSTORE"] for k, _o in owners)
        while PollCursor.objects.filter(last_success_at__isnull=False).count() < expected:
            if time.monotonic() - started > 180:
                raise SystemExit("the first polls did not finish in 3 minutes")
            time.sleep(0.5)
        common.say(f"first polls done after {time.monotonic() - started:.1f}s; feeding {total} inquiries")
        interval = 60.0 / args.per_minute
        feed_start = time.monotonic()
        for n in range(total):
            due = feed_start + n * interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            kind, owner = owners[n % len(owners)]
            at = timezone.now()
            (external_id,) = control.add_inquiries(
                kind, items=[{"created_at": at.isoformat(), "content": QUESTIONS[n % len(QUESTIONS)]}], owner=owner
            )
            appeared[(kind, str(external_id))] = at
        feed_seconds = time.monotonic() - feed_start
        common.say(f"fed {total} in {feed_seconds:.1f}s; draining")
        drain_until = time.monotonic() + args.drain
        while time.monotonic() < drain_until:
            open_rows = (
                Inquiry.objects.filter(status="NEW").count()
                + Inquiry.objects.filter(
                    status="AUTO_SEND", send_status__in=["NOT_SENT", "SENDING", "SEND_UNKNOWN"]
                ).count()
            )
            if Inquiry.objects.count() >= total and open_rows == 0:
                break
            time.sleep(1)
    finally:
        common.stop_group(cluster, 30)
    load_after = common.loadavg()

    ledger = control.answers()
    stats = control.stats()
    sandbox.stop()
    accepted = {(a["kind"], str(a["external_id"])): dt.datetime.fromisoformat(a["at"]) for a in ledger}
    keys = [(a["kind"], str(a["external_id"])) for a in ledger]
    waits = [(accepted[k] - appeared[k]).total_seconds() for k in accepted if k in appeared]
    now = timezone.now()
    recorded = [
        r
        for r in answered_rows(since=now - dt.timedelta(hours=2), until=now, calendar=load_calendar())
        if r.path == "AUTO"
    ]
    statuses: dict[str, int] = {}
    for status in Inquiry.objects.values_list("status", flat=True):
        statuses[status] = statuses.get(status, 0) + 1
    report_24h = first_response_report(now=now)["windows"]["24h"]["all"]
    result = {
        "accounts": args.accounts,
        "per_minute": args.per_minute,
        "minutes": args.minutes,
        "workers": args.workers,
        "limiter": args.limiter,
        "fed": len(appeared),
        "feed_seconds": round(feed_seconds, 1),
        "status": statuses,
        "answered_automatically": len(waits),
        "double_answers": len(keys) - len(set(keys)),
        "wait_at_sandbox_s": {f"p{p}": _pct(waits, p) for p in (50, 90, 95, 99, 100)},
        "wait_recorded_s": {f"p{p}": _pct([r.wait for r in recorded], p) for p in (50, 90, 95, 99, 100)},
        "ours_recorded_s": {f"p{p}": _pct([r.ours for r in recorded], p) for p in (50, 95)},
        "kpi_24h_all": report_24h,
        "sandbox_requests": stats["requests_total"],
        "sandbox_by_status": stats["by_status"],  # "429": calls over the marketplaces' limits
        "load_before": load_before,
        "load_after": load_after,
        "machine": common.machine(),
    }
    common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
