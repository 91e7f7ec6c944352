#!/usr/bin/env python
"""Decisions per second: the CS agent (rules backend) + the deterministic policy on NEW inquiries.

    .venv/bin/python bench/decide.py [--inquiries 10000]

Inquiries come from the sandbox's generator through the real parsers and the real ingestion upsert
(5 % with a risk keyword), spread over four accounts in different rollout states: a Coupang account
LIVE in phase 3 (all intents, no quota), a SmartStore account LIVE in phase 2 (three intents, 30 a day:
the quota gate runs), one in TEST and one in SHADOW mode. Business hours: always open. Timed:
``decide_new()`` over all of them, exactly as ``process_inquiries`` runs it — including writing the
decision, its events and queueing a send task (ORM broker) for every sendable decision.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inquiries", type=int, default=10_000)
    p.add_argument("--database", default="partialauto_bench_decide")
    p.add_argument("--profile", action="store_true", help="cProfile decide_new; top entries in the JSON")
    args = p.parse_args()

    common.setup(args.database)
    from django.db import connection
    from django.db.models import Count

    from inquiries.decide import decide_new
    from inquiries.models import Inquiry
    from markets import services as market_services
    from markets.ingest import upsert
    from policy.models import AutomationSettings, Mode
    from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update

    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    assert AutomationSettings.get_solo().agent_backend == "rules"
    layout = [  # name, market, kinds, mode, phase
        ("coupang_live", "COUPANG", ("COUPANG_ONLINE", "COUPANG_CALLCENTER"), Mode.LIVE, 3),
        ("naver_live", "SMARTSTORE", ("NAVER_QNA", "NAVER_INQUIRY"), Mode.LIVE, 2),
        ("coupang_test", "COUPANG", ("COUPANG_ONLINE", "COUPANG_CALLCENTER"), Mode.TEST, 3),
        ("naver_shadow", "SMARTSTORE", ("NAVER_QNA", "NAVER_INQUIRY"), Mode.SHADOW, None),
    ]
    per_kind = max(1, args.inquiries // (len(layout) * 2))
    common.say(f"generating {per_kind * len(layout) * 2} inquiries")
    for index, (name, market, kinds, mode, phase) in enumerate(layout):
        if market == "COUPANG":
            account = market_services.account_create(name=name, market_code=market, vendor_id=f"C{30_000_000 + index}",
                                                     access_key="ak", secret_key="sk", reply_by="bench",
                                                     api_base_url="http://127.0.0.1:9")
        else:
            account = market_services.account_create(name=name, market_code=market, client_id=f"decide-{index}",
                                                      client_secret="$2a$04$abcdefghijklmnopqrstuv",
                                                      api_base_url="http://127.0.0.1:9/external")
        if mode != Mode.SHADOW:
            rollout_unlock(account=account, mode=mode, phase=get_phase(phase), actor=SYSTEM)
        for k, kind in enumerate(kinds):
            upsert(account, common.generated_items(kind, per_kind, seed=index * 10 + k, start_id=100_000 * (index * 10 + k + 1)))
    total = Inquiry.objects.filter(status="NEW").count()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    prof = common.Profile(args.profile)
    load_before = common.loadavg()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with prof:
        summary = decide_new()
    elapsed = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    from django_q.models import OrmQ

    result = {
        "bench": "decide",
        "command": "bench/decide.py " + " ".join(sys.argv[1:]),
        "database": connection.settings_dict["NAME"],
        "backend": "rules",
        "inquiries": total,
        "decided": summary.decided,
        "elapsed_s": round(elapsed, 3),
        "decisions_per_s": round(summary.decided / elapsed, 1) if elapsed else None,
        "process_cpu_s": round(cpu, 2),
        "cpu_ms_per_decision": round(cpu * 1000 / summary.decided, 3) if summary.decided else None,
        "loadavg_before": load_before,
        "loadavg_after": common.loadavg(),
        "outcome": {"auto_send": summary.auto_send, "human_review": summary.human_review,
                    "shadow_candidates": summary.shadow_candidates, "deferred": summary.deferred, "errors": summary.errors},
        "by_status": dict(Inquiry.objects.values_list("status").annotate(n=Count("id"))),
        "send_tasks_queued": OrmQ.objects.count(),
        "pid": os.getpid(),
        "profile": prof.top(35),
        "ok": summary.decided == total and summary.errors == 0,
    }
    common.emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
