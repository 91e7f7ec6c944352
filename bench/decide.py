#!/usr/bin/env python
"""Decisions per second: the CS agent + the deterministic policy on NEW inquiries, as a new installation
decides them: with the shipped trained model active (migration 0014), 3,000 questions already answered
on the marketplace (the past-answer index), the example shipping policy on
every account, the example product knowledge, and a mirrored order for every order an inquiry names.

    .venv/bin/python bench/decide.py [--inquiries 10000] [--processes 2] [--profile]

Inquiries come from the sandbox's generator through the real parsers and the real ingestion upsert
(5 % with a risk keyword), spread over four accounts in different rollout states: a Coupang account
LIVE in phase 3 (all intents, no quota), a SmartStore account LIVE in phase 2 (three intents, 30 a day:
the quota gate runs), one in TEST and one in SHADOW mode. Business hours: always open.

What is timed: ``--processes`` worker processes (default 2, the django-q cluster's default worker
count, ``CS_Q_WORKERS``) each call ``decide_new()`` at the same moment, exactly as a worker runs
``process_inquiries_task`` or an operator runs ``process_inquiries``: claiming batches, running the
agent and the policy, writing the decisions and their events, and queueing a send sweep (ORM broker)
after every batch with a sendable decision. Each process has its own database connection; they share
the machine's cores with PostgreSQL. The clock starts when all of them are ready (forked, Django
loaded, not yet connected) and stops when the last one has finished. Not timed: generating and
ingesting the inquiries, importing the seller facts and mirroring the orders.

Checked after the run (``ok``): every inquiry decided, none left NEW, no errors, and exactly one
DECIDED event per inquiry. ``db_cpu_s`` is the CPU time of the PostgreSQL backends serving the
processes (read from /proc: the server runs on this machine). ``--profile`` profiles every process
and merges the statistics (cumulative times then add up over the processes).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def _worker(barrier, results, index: int, profile_path: str | None) -> None:
    """One processor: what a django-q worker does when it runs process_inquiries_task."""
    from django.db import connection, connections

    from policy.decide import decide_new

    try:
        if profile_path:
            os.environ["BENCH_PROFILE_DUMP"] = profile_path  # common.Profile writes its statistics there
        from inquiries.agent.loader import load_context

        load_context()  # what a worker holds once it has decided anything: the model and the matchers
        import datetime as dt

        from partialauto.calendar import kr_holiday_name

        kr_holiday_name(dt.date.today())  # and the holiday calendar (its first use imports every country's)
        barrier.wait()
        cpu0 = time.process_time()
        with common.Profile(bool(profile_path)):
            summary = decide_new()
        cpu = time.process_time() - cpu0
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        results.put(
            {
                "index": index,
                "decided": summary.decided,
                "auto_send": summary.auto_send,
                "human_review": summary.human_review,
                "shadow_candidates": summary.shadow_candidates,
                "deferred": summary.deferred,
                "errors": summary.errors,
                "cpu_s": round(cpu, 3),
                "db_cpu_s": common.proc_cpu_seconds(backend),
                "pid": os.getpid(),
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    finally:
        connections.close_all()


def _seller_facts() -> dict:
    """The example shipping policy on every account, the example product knowledge, and a mirrored order
    line (in transit, delivered or being prepared) for every order id an inquiry names."""
    import datetime as dt
    import io

    from django.core.management import call_command
    from django.utils import timezone

    from inquiries.facts import order_refs
    from inquiries.models import Inquiry
    from markets.models import MarketAccount, MarketOrder

    examples = common.ROOT / "docs" / "examples"
    for account in MarketAccount.objects.all():
        call_command(
            "shipping_policy",
            "import",
            str(examples / "shipping-policy.json"),
            "--account",
            account.name,
            stdout=io.StringIO(),
        )
    call_command("product_knowledge", "import", str(examples / "product-knowledge.json"), stdout=io.StringIO())
    now = timezone.now()
    states = [("IN_TRANSIT", "CJ대한통운"), ("DELIVERED", "한진택배"), ("PREPARING", "")]
    lines, seen = [], set()
    for inquiry in (
        Inquiry.objects.select_related("account")
        .only("account", "market_code", "order_refs", "order_id", "product_id")
        .iterator(chunk_size=2000)
    ):
        for order_id in order_refs(inquiry)[0]:
            if (inquiry.account_id, order_id) in seen:
                continue
            seen.add((inquiry.account_id, order_id))
            status, carrier = states[len(lines) % len(states)]
            shipped = status != "PREPARING"
            lines.append(
                MarketOrder(
                    account=inquiry.account,
                    market_code=inquiry.market_code,
                    order_id=order_id,
                    line_id=f"{order_id}-1",
                    status=status,
                    raw_status=status,
                    carrier_name=carrier,
                    tracking_number=f"6{len(lines):011d}" if shipped else "",
                    paid_at=now - dt.timedelta(days=2),
                    shipped_at=now - dt.timedelta(days=1) if shipped else None,
                    delivered_at=now - dt.timedelta(hours=3) if status == "DELIVERED" else None,
                    expected_dispatch_date=None if shipped else (now + dt.timedelta(days=1)).date(),
                    last_movement_at=now - dt.timedelta(hours=5),
                    product_ids=[inquiry.product_id] if inquiry.product_id else [],
                    synced_at=now,
                    fingerprint=f"{len(lines):x}",
                )
            )
    MarketOrder.objects.bulk_create(lines, batch_size=2000)
    return {
        "shipping_policies": MarketAccount.objects.count(),
        "mirrored_order_lines": len(lines),
        "distinct_orders_named": len(seen),
    }


_PROBE = """
import json, os, resource, sys
sys.path.insert(0, {root!r})
import django
django.setup()
from policy.decide import decide_new
summary = decide_new()
status = {{}}
for line in open("/proc/self/status"):
    if line.startswith(("VmHWM", "VmRSS")):
        key, value = line.split(":")
        status[key] = round(int(value.split()[0]) / 1024, 1)
print(json.dumps({{"decided": summary.decided, "errors": summary.errors, **status}}))
"""


def _worker_memory(env: dict, count: int) -> dict | None:
    """A fresh interpreter — what a django-q worker is: Django loaded, nothing inherited from this
    process's generated data — decides ``count`` inquiries put back to NEW, with the model, the matchers,
    the product catalogue and the facts loaded as in production. Its peak resident memory (VmHWM)."""
    import json
    import subprocess

    from inquiries.models import Inquiry

    if count <= 0:
        return None
    ids = list(Inquiry.objects.order_by("id").values_list("id", flat=True)[:count])
    Inquiry.objects.filter(id__in=ids).update(status="NEW", decided_at=None)
    from django.db import connections

    connections.close_all()
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(root=str(common.ROOT))],
        env={**os.environ, **env},
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode:
        return {"error": out.stderr[-2000:]}
    return {"inquiries": count, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inquiries", type=int, default=10_000)
    p.add_argument("--processes", type=int, default=2, help="processors calling decide_new at once (default 2)")
    p.add_argument("--database", default="partialauto_bench_decide")
    p.add_argument(
        "--no-model",
        action="store_true",
        help="switch the shipped model off: the rules classifier with the same grounding and facts",
    )
    p.add_argument(
        "--past-answers",
        type=int,
        default=3000,
        help="questions already answered on the marketplace (the past-answer index the agent searches)",
    )
    p.add_argument(
        "--memory-probe",
        type=int,
        default=2000,
        metavar="N",
        help="after the timed run: a fresh process decides N inquiries again; its peak RSS is reported",
    )
    p.add_argument(
        "--profile", action="store_true", help="cProfile decide_new in every process; top entries in the JSON"
    )
    args = p.parse_args()
    if args.processes < 1:
        p.error("--processes must be at least 1")

    env = common.setup(args.database)
    from django.db import connection, connections
    from django.db.models import Count

    from inquiries.ingest_store import upsert
    from inquiries.models import Inquiry, InquiryEvent
    from markets.models import MarketAccount
    from policy.models import AutomationSettings, Mode
    from policy.services import SYSTEM, settings_update

    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    assert AutomationSettings.get_solo().agent_backend == "rules"
    from inquiries.models import AgentModel

    model = AgentModel.objects.filter(is_active=True, account__isnull=True).first()
    assert model is not None, "the shipped model is not installed"
    if args.no_model:
        AgentModel.objects.update(is_active=False)
    layout = [  # name, market, kinds, mode, phase
        ("coupang_live", "COUPANG", ("COUPANG_ONLINE", "COUPANG_CALLCENTER"), Mode.LIVE, 3),
        ("naver_live", "SMARTSTORE", ("NAVER_QNA", "NAVER_INQUIRY"), Mode.LIVE, 2),
        ("coupang_test", "COUPANG", ("COUPANG_ONLINE", "COUPANG_CALLCENTER"), Mode.TEST, 3),
        ("naver_shadow", "SMARTSTORE", ("NAVER_QNA", "NAVER_INQUIRY"), Mode.SHADOW, None),
    ]
    per_kind = max(1, args.inquiries // (len(layout) * 2))
    common.say(f"generating {per_kind * len(layout) * 2} inquiries")
    for index, (name, market, kinds, mode, phase) in enumerate(layout):
        account = common.offline_account(name, market, index, tag="C", mode=mode, phase=phase)
        for k, kind in enumerate(kinds):
            upsert(
                account,
                common.generated_items(kind, per_kind, seed=index * 10 + k, start_id=100_000 * (index * 10 + k + 1)),
            )
    # Questions already answered on the marketplace (seen while polling): the agent's past-answer index.
    answered_account = MarketAccount.objects.get(name="coupang_live")
    upsert(
        answered_account,
        common.generated_items("COUPANG_ONLINE", args.past_answers, seed=99, start_id=9_000_000, answered_ratio=1.0),
    )
    facts = _seller_facts()
    facts["past_answers_stored"] = Inquiry.objects.filter(status="ANSWERED_ELSEWHERE").count()
    total = Inquiry.objects.filter(status="NEW").count()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    # Fork the processors with Django loaded and no connection open (each opens its own).
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(args.processes + 1)
    results = ctx.Queue()
    profile_dir = tempfile.mkdtemp(prefix="bench-decide-") if args.profile else None
    profiles = [os.path.join(profile_dir, f"{i}.prof") if profile_dir else None for i in range(args.processes)]
    procs = [ctx.Process(target=_worker, args=(barrier, results, i, profiles[i])) for i in range(args.processes)]
    for proc in procs:
        proc.start()
    load_before = common.loadavg()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    barrier.wait()
    t0 = time.perf_counter()
    workers = [results.get(timeout=1800) for _ in procs]
    elapsed = time.perf_counter() - t0
    for proc in procs:
        proc.join(60)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    workers.sort(key=lambda w: w["index"])
    decided = sum(w["decided"] for w in workers)
    outcome = {
        key: sum(w[key] for w in workers)
        for key in ("auto_send", "human_review", "shadow_candidates", "deferred", "errors")
    }
    db_cpu = [w["db_cpu_s"] for w in workers]

    from django_q.models import OrmQ

    decided_events = InquiryEvent.objects.filter(type="DECIDED").values("inquiry_id").annotate(n=Count("id"))
    events_total = sum(row["n"] for row in decided_events)
    profile_top = None
    if profile_dir:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(*[path for path in profiles if os.path.exists(path)], stream=out).sort_stats(
            "cumulative"
        ).print_stats(35)
        lines = [line.rstrip() for line in out.getvalue().splitlines()]
        start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
        profile_top = [line for line in lines[start:] if line.strip()]
    result = {
        "bench": "decide",
        "command": "bench/decide.py " + " ".join(sys.argv[1:]),
        "database": connection.settings_dict["NAME"],
        "backend": "rules",
        "model_version": None if args.no_model else model.version,
        "seller_facts": facts,
        "answer_kinds": dict(
            Inquiry.objects.exclude(answer_kind="").values_list("answer_kind").annotate(n=Count("id"))
        ),
        "forked_process_max_rss_mb": [w["max_rss_mb"] for w in workers],
        "processes": args.processes,
        "inquiries": total,
        "decided": decided,
        "decided_per_process": [w["decided"] for w in workers],
        "elapsed_s": round(elapsed, 3),
        "decisions_per_s": round(decided / elapsed, 1) if elapsed else None,
        "process_cpu_s": round(cpu, 2),
        "cpu_ms_per_decision": round(cpu * 1000 / decided, 3) if decided else None,
        "db_cpu_s": round(sum(db_cpu), 2) if all(v is not None for v in db_cpu) else None,
        "loadavg_before": load_before,
        "loadavg_after": common.loadavg(),
        "outcome": outcome,
        "by_status": dict(Inquiry.objects.values_list("status").annotate(n=Count("id"))),
        "decided_events": events_total,
        "send_tasks_queued": OrmQ.objects.count(),
        "pids": [w["pid"] for w in workers],
        "profile": profile_top,
        "ok": (
            decided == total
            and outcome["errors"] == 0
            and not Inquiry.objects.filter(status="NEW").exists()
            and events_total == decided
            and len(decided_events) == decided
        ),
    }
    result["worker_memory"] = _worker_memory(env, args.memory_probe)
    common.emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
