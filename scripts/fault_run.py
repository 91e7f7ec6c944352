#!/usr/bin/env python
"""Fault run: thousands of answers sent by a real django-q2 cluster while faults and worker kills rain.

    python scripts/fault_run.py --inquiries 2000 --workers 4 --broker orm
    python scripts/fault_run.py --inquiries 2000 --workers 4 --broker redis
    python scripts/fault_run.py --inquiries 2000 --lost-response-rate 0.3 --kills 0 --rules

It builds a fresh PostgreSQL database, starts the sandbox marketplace in this process, registers
several Coupang and SmartStore accounts, queues one send task per inquiry through the chosen broker
and starts ``manage.py qcluster`` with N workers. While the cluster works, a nemesis switches the
sandbox's faults every half second (random 500s, responses lost after the answer was applied, 429
bursts, read timeouts, latency) and SIGKILLs random cluster processes. This process plays the
reconciler and queues the send sweep, as the schedules do in production. At the end it switches the
faults off, drains, and checks the sandbox's ledger of accepted answers against the database:

* no inquiry answered twice;
* every inquiry in a final state (SENT, ANSWERED_ELSEWHERE) or with a person (HUMAN_REVIEW);
* the database's SENT rows are exactly the inquiries the sandbox accepted an answer for.

``--lost-response-rate F`` replaces the rotating faults by one: a share F of the answers' responses is
lost (the answer applied, the reply dropped or a 504), so every unknown outcome is in fact delivered.
``--rules`` keeps the rollback rules enabled (they are off otherwise: they would rightly stop a run of
random faults early) and runs the monitor every two seconds, as the schedule does; the summary lists
the incidents with the rows that tripped them, and the run fails if any of those rows was in fact
delivered (an unknown outcome that reconciliation confirmed must never have counted as a failure).

It prints a JSON summary and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import descendants, stop_group  # noqa: E402  (the same process handling as the send benchmark)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inquiries", type=int, default=2000)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--broker", choices=["orm", "redis"], default="orm")
    p.add_argument("--accounts", type=int, default=8, help="accounts per marketplace")
    p.add_argument("--kills", type=int, default=12, help="processes to SIGKILL during the run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--deadline", type=float, default=1200, help="seconds before giving up")
    p.add_argument("--database", default="partialauto_faultrun")
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    p.add_argument(
        "--lost-response-rate",
        type=float,
        default=None,
        metavar="F",
        help="instead of the rotating faults, lose this share of the answers' responses (answers applied)",
    )
    p.add_argument("--rules", action="store_true", help="keep the rollback rules enabled and run the monitor")
    args = p.parse_args()
    if args.lost_response_rate is not None and not 0 <= args.lost_response_rate <= 1:
        p.error("--lost-response-rate must be between 0 and 1")
    return args


def prepare_environment(args: argparse.Namespace) -> dict[str, str]:
    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    log_dir = Path(tempfile.mkdtemp(prefix="partialauto-faultrun-"))
    env = {
        "DATABASE_URL": f"{args.pg}/{args.database}",
        "CS_Q_WORKERS": str(args.workers),
        "CS_MARKET_CONNECT_TIMEOUT": "0.5",
        "CS_MARKET_READ_TIMEOUT": "1.0",
        "CS_RECONCILE_QUIET_SECONDS": "2",
        # production backs off for minutes; the run keeps the same shape, scaled down
        "CS_SEND_BACKOFF_BASE_SECONDS": "1",
        "CS_SEND_BACKOFF_CAP_SECONDS": "20",
        "CS_LOG_FILE": str(log_dir / "api.log"),
        "CS_LOG_LEVEL_STDERR": "CRITICAL",
        "REDIS_URL": args.redis_url if args.broker == "redis" else "",
    }
    if args.broker == "redis":
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partialauto.settings")
    return env


NEMESIS = [
    {},
    {"fault_rate": 0.15},
    {"lost_response": "drop", "lost_response_count": 3},
    {"lost_response": "504", "lost_response_count": 3},
    {"burst_429": 5},
    {"read_timeout": 1.3, "read_timeout_count": 3},
    {"latency_ms": 40},
]
CALM = {
    "fault_rate": 0.0,
    "lost_response": "",
    "lost_response_rate": 1.0,
    "burst_429": 0,
    "read_timeout": 0.0,
    "latency_ms": 0,
    "scope": "answers",
}


def nemesis(args: argparse.Namespace, rng: random.Random) -> dict:
    if args.lost_response_rate is None:
        return rng.choice(NEMESIS)
    return {"lost_response": rng.choice(["drop", "504"]), "lost_response_rate": args.lost_response_rate}


def incidents_summary() -> list[dict]:
    """Every rollback incident, with the rows that tripped it and how many of those were delivered."""
    from inquiries.models import Inquiry, SendAttempt
    from policy.models import RollbackIncident
    from policy.monitor import incident_rows, summarize

    result = []
    for incident in RollbackIncident.objects.select_related("rule", "account").order_by("id"):
        rows = incident_rows(incident.figures)
        attempts = [r["attempt"] for r in rows if r.get("attempt")]
        delivered = SendAttempt.objects.filter(pk__in=attempts, outcome="DELIVERED").count()
        delivered += Inquiry.objects.filter(
            pk__in=[r["inquiry"] for r in rows if not r.get("attempt")], send_status="SENT"
        ).count()
        result.append(
            {
                "rule": incident.rule.code,
                "account": incident.account.name if incident.account else None,
                "summary": summarize(incident.rule, incident.figures),
                "action": incident.action_taken,
                "rows": [{"inquiry": r["inquiry"], "attempt": r.get("attempt")} for r in rows],
                "rows_delivered": delivered,
            }
        )
    return result


def say(message: str) -> None:
    print(f"[fault-run {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> int:
    args = parse_args()
    # A SIGTERM (e.g. `timeout`) must still stop the cluster this run started: run the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rng = random.Random(args.seed)
    env = prepare_environment(args)

    import django

    django.setup()
    from django.core.management import call_command

    say(f"migrating {args.database}")
    call_command("migrate", verbosity=0)

    from django.db.models import Count
    from django_q.tasks import async_task

    from inquiries.models import Inquiry, SendAttempt
    from markets import services as market_services
    from markets.sandbox import SandboxServer
    from policy.models import AutomationSettings, Mode, RollbackRule
    from policy.monitor import run_monitor
    from policy.sending import reconcile
    from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update

    sandbox = SandboxServer(seed=args.seed).start()
    store = sandbox.store
    store.set_faults(coupang_rps=10, naver_rps=50, naver_burst=100, **CALM)

    # accounts and inquiries
    accounts = []
    for i in range(args.accounts):
        cp = store.register_coupang_account(vendor_id=f"A{10_000_000 + i}", reply_by="fault-run")
        accounts.append(
            (
                market_services.account_create(
                    name=f"coupang_{i}",
                    market_code="COUPANG",
                    vendor_id=cp.vendor_id,
                    access_key=cp.access_key,
                    secret_key=cp.secret_key,
                    reply_by="fault-run",
                    api_base_url=sandbox.coupang_base_url,
                ),
                cp.vendor_id,
            )
        )
        nv = store.register_naver_account(client_id=f"faultrun-app-{i}")
        accounts.append(
            (
                market_services.account_create(
                    name=f"naver_{i}",
                    market_code="SMARTSTORE",
                    client_id=nv.client_id,
                    client_secret=nv.client_secret,
                    api_base_url=sandbox.naver_base_url,
                ),
                nv.client_id,
            )
        )
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    AutomationSettings.objects.filter(pk=1).update(lease_seconds=8, max_send_attempts=6)
    if not args.rules:  # a run about at-most-once under faults; the rules would (rightly) stop it early
        RollbackRule.objects.update(enabled=False)
    for account, _owner in accounts:
        rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)

    from markets.connect import client_for

    rows = []
    kinds = {"COUPANG": ["COUPANG_ONLINE", "COUPANG_CALLCENTER"], "SMARTSTORE": ["NAVER_QNA", "NAVER_INQUIRY"]}
    per_account = args.inquiries // len(accounts)
    extra = args.inquiries - per_account * len(accounts)
    for index, (account, owner) in enumerate(accounts):
        count = per_account + (1 if index < extra else 0)
        for kind in kinds[account.market_code]:
            store.add_inquiries(
                kind,
                count // 2 + (count % 2 if kind.endswith(("ONLINE", "QNA")) else 0),
                owner=owner,
                answered_ratio=0.0,
                risk_ratio=0.0,
                days_back=1.0,
            )
        # the real ingestion path reads them back (parsing, reply contexts, created_at)
        from inquiries.ingest import poll_account

        poll_account(account, client=client_for(account))
    for inquiry in Inquiry.objects.filter(status="NEW"):
        text = f"안녕하세요 고객님, 문의 {inquiry.external_id}번 확인했습니다. 오늘 출고됩니다."
        rows.append(inquiry.pk)
        Inquiry.objects.filter(pk=inquiry.pk).update(
            status="AUTO_SEND",
            decision_mode=Mode.LIVE,
            draft_answer=text,
            final_answer=text,
            intent="배송문의",
            confidence_score=0.95,
        )
    total = len(rows)
    say(
        f"{total} inquiries ingested from the sandbox for {len(accounts)} accounts; "
        f"queueing sends ({args.broker} broker)"
    )
    # callcenter items that are not answerable (status complete) are expected to go to a person

    # queue one send per inquiry through the broker, then start the cluster
    for pk in rows:
        async_task("policy.tasks.send_inquiry_task", pk)
    cluster_env = {**os.environ, **env}
    cluster = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        cwd=ROOT,
        env=cluster_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    started = time.monotonic()
    kills = 0
    nemesis_log: dict[str, int] = {}
    last_sweep = 0.0
    try:
        while time.monotonic() - started < args.deadline:
            time.sleep(0.5)
            choice = nemesis(args, rng)
            store.set_faults(**{**CALM, **choice})
            name = ",".join(f"{k}={v}" for k, v in choice.items()) or "calm"
            nemesis_log[name] = nemesis_log.get(name, 0) + 1
            if kills < args.kills and rng.random() < 0.25:
                victims = [pid for pid, depth in descendants(cluster.pid) if depth >= 2]
                if victims:
                    os.kill(rng.choice(victims), signal.SIGKILL)
                    kills += 1
            now = time.monotonic()
            if now - last_sweep > 2:
                last_sweep = now
                async_task("policy.tasks.send_due_task", 200)
                reconcile()
                if args.rules:
                    run_monitor()
            open_rows = (
                Inquiry.objects.filter(pk__in=rows)
                .exclude(send_status="SENT")
                .exclude(status__in=["ANSWERED_ELSEWHERE", "HUMAN_REVIEW"])
                .count()
            )
            unsettled = Inquiry.objects.filter(pk__in=rows, send_status__in=["SENDING", "SEND_UNKNOWN"]).count()
            if int(now) % 5 == 0:
                say(
                    f"open {open_rows}, unsettled {unsettled}, answers at sandbox {len(store.answers())}, kills {kills}"
                )
            if open_rows == 0 and unsettled == 0:
                break
        # drain: calm marketplace, settle every unknown by asking it
        store.set_faults(**CALM)
        drain_until = time.monotonic() + 120
        while time.monotonic() < drain_until:
            reconcile(stale_after=0, include_waiting=True)
            if not Inquiry.objects.filter(pk__in=rows, send_status__in=["SENDING", "SEND_UNKNOWN"]).exists():
                break
            time.sleep(1)
        if args.rules:
            run_monitor()
    finally:
        stop_group(cluster, 20)
    elapsed = time.monotonic() - started

    ledger = store.answers()
    keys = [(a.kind, str(a.external_id)) for a in ledger]
    doubles = len(keys) - len(set(keys))
    db = {k: v for k, v in Inquiry.objects.filter(pk__in=rows).values_list("send_status").annotate(n=Count("id"))}
    status = {k: v for k, v in Inquiry.objects.filter(pk__in=rows).values_list("status").annotate(n=Count("id"))}
    sent_keys = set(Inquiry.objects.filter(pk__in=rows, send_status="SENT").values_list("kind", "external_id"))
    attempt_outcomes = dict(SendAttempt.objects.filter(inquiry__in=rows).values_list("outcome").annotate(n=Count("id")))
    settled = SendAttempt.objects.filter(inquiry__in=rows, error__contains="(confirmed by reconciliation)")
    incidents = incidents_summary() if args.rules else []
    not_final = (
        Inquiry.objects.filter(pk__in=rows)
        .exclude(send_status="SENT")
        .exclude(status__in=["ANSWERED_ELSEWHERE", "HUMAN_REVIEW"])
        .count()
    )
    unsettled = Inquiry.objects.filter(pk__in=rows, send_status__in=["SENDING", "SEND_UNKNOWN"]).count()
    summary = {
        "broker": args.broker,
        "workers": args.workers,
        "inquiries": total,
        "elapsed_s": round(elapsed, 1),
        "sandbox_answers": len(ledger),
        "sandbox_distinct_answered": len(set(keys)),
        "double_answers": doubles,
        "answer_requests_received": sum(store.answer_requests.values()),
        "db_send_status": db,
        "db_status": status,
        "not_final": not_final,
        "unsettled": unsettled,
        "db_sent_equals_sandbox": sent_keys == set(keys),
        "worker_kills": kills,
        "nemesis_rounds": sum(nemesis_log.values()),
        "faults": nemesis_log,
        "attempt_outcomes": attempt_outcomes,
        "unknown_confirmed_delivered": settled.filter(error__startswith="delivered").count(),
        "unknown_confirmed_not_delivered": settled.filter(error__startswith="not delivered").count(),
        "rules_enabled": args.rules,
        "rollback_incidents": incidents,
        "incident_rows_delivered": sum(i["rows_delivered"] for i in incidents),
    }
    sandbox.stop()
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    ok = (
        doubles == 0
        and not_final == 0
        and unsettled == 0
        and sent_keys == set(keys)
        and summary["incident_rows_delivered"] == 0
    )
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
