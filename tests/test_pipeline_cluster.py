"""The chained pipeline with a real django-q2 cluster on PostgreSQL: inquiries that appear at the sandbox
are polled, decided and answered within a minute, and the first-response times recorded are the
sandbox's own.

The cluster runs the schedules `setup_schedules` creates (poll loop, decide, send, reconcile, monitor…).
The test queues the first poll loop itself, as the scheduler would on its first pass (which comes 30
seconds after a cluster starts), to keep the run short. The sandbox runs in this process and is reached
over real HTTP on loopback; its marketplace rate limits stay on.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from bench.common import stop_group
from inquiries.models import Inquiry
from markets.models import PollCursor
from markets.sandbox import SandboxServer
from partialauto.queue import POLL_LOOP
from partialauto.schedules import setup_schedules
from policy.first_response import answered_rows, percentile
from policy.hours import load_calendar
from policy.models import Mode
from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update
from tests.factories import make_account, make_shipping_policy

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
NEW_INQUIRIES = 50
APPEAR_OVER = 15.0  # seconds over which the 50 inquiries appear
DEADLINE = 75.0  # seconds after the last one appeared
QUESTIONS = [
    "오늘 주문하면 언제 받을 수 있을까요?",
    "지금 주문하면 언제 도착하나요?",
    "배송은 보통 며칠 걸리나요?",
    "오늘 주문하면 언제 출발하나요?",
    "주문하면 며칠 만에 받을 수 있어요?",
]


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(what)


def _shipped_model() -> None:
    """The trained model the first migration activates (a transactional test before this one flushed it)."""
    import importlib

    from django.apps import apps

    from inquiries.models import AgentModel

    if not AgentModel.objects.filter(is_active=True).exists():
        migration = importlib.import_module("inquiries.migrations.0014_shipped_agent_model")
        migration.install(apps, SimpleNamespace(connection=connection))
    assert AgentModel.objects.filter(is_active=True).exists()


def test_chain__automatic_answers_within_a_minute_and_first_response_matches_the_sandbox(tmp_path):
    from django_q.tasks import async_task

    _shipped_model()
    sandbox = SandboxServer(seed=18).start()
    store = sandbox.store
    cp = store.register_coupang_account(vendor_id="A00018018", reply_by="cs-agent")
    nv = store.register_naver_account(client_id="naver-chain")
    coupang = make_account(
        "coupang_main",
        vendor_id=cp.vendor_id,
        access_key=cp.access_key,
        secret_key=cp.secret_key,
        reply_by="cs-agent",
        api_base_url=sandbox.coupang_base_url,
    )
    naver = make_account(
        "smartstore",
        market="SMARTSTORE",
        client_id=nv.client_id,
        client_secret=nv.client_secret,
        api_base_url=sandbox.naver_base_url,
    )
    for account in (coupang, naver):
        make_shipping_policy(account)
        rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    setup_schedules()
    async_task(POLL_LOOP)

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CS_Q_WORKERS": "2",  # the default: the poll loop in one, everything else in the other
        "CS_LOG_FILE": str(tmp_path / "api.log"),
        "CS_LOG_LEVEL_STDERR": "CRITICAL",
        "REDIS_URL": "",
    }
    cluster = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # the loop polled both accounts once (nothing there yet)
        _wait(
            lambda: PollCursor.objects.filter(last_success_at__isnull=False).count() == 4,
            60,
            "the poll loop did not start",
        )
        appeared: dict[tuple[str, str], dt.datetime] = {}
        kinds = [("COUPANG_ONLINE", cp.vendor_id), ("NAVER_QNA", nv.client_id), ("NAVER_INQUIRY", nv.client_id)]
        for i in range(NEW_INQUIRIES):
            kind, owner = kinds[i % len(kinds)]
            at = timezone.now()
            external_id = store.add_inquiry(kind, owner=owner, created_at=at, content=QUESTIONS[i % len(QUESTIONS)])
            appeared[(kind, external_id)] = at
            time.sleep(APPEAR_OVER / NEW_INQUIRIES)

        def settled() -> bool:
            rows = Inquiry.objects.all()
            done = rows.exclude(status__in=["NEW"]).exclude(status="AUTO_SEND", send_status__in=["NOT_SENT", "SENDING"])
            return rows.count() == NEW_INQUIRIES and done.count() == NEW_INQUIRIES

        _wait(settled, DEADLINE, "not every inquiry was decided and its automatic answer sent in time")
    finally:
        stop_group(cluster, 20)
        sandbox.stop()

    rows = {(r.kind, r.external_id): r for r in Inquiry.objects.all()}
    assert set(rows) == set(appeared)
    automatic = [r for r in rows.values() if r.status == "AUTO_SEND"]
    assert len(automatic) >= NEW_INQUIRIES * 0.8, {r.status for r in rows.values()}
    assert all(r.send_status == "SENT" for r in automatic)

    ledger = {(a.kind, a.external_id): dt.datetime.fromisoformat(a.at) for a in store.answers()}
    assert len(ledger) == len(automatic) == len(store.answers())  # one answer each, nothing else sent
    waits = sorted((ledger[key] - appeared[key]).total_seconds() for key in ledger)
    assert percentile(waits, 95) <= 60, waits

    # what we recorded is what the sandbox saw: asked (its timestamp, to its second) and accepted
    recorded = {
        r.inquiry_id: r
        for r in answered_rows(
            since=timezone.now() - dt.timedelta(hours=1), until=timezone.now(), calendar=load_calendar()
        )
    }
    for key, row in rows.items():
        if row.status != "AUTO_SEND":
            continue
        assert abs((row.created_at - appeared[key]).total_seconds()) < 1.0
        assert abs((row.first_answered_at - ledger[key]).total_seconds()) < 2.0
        figure = recorded[row.pk]
        assert figure.path == "AUTO"
        assert abs(figure.wait - (ledger[key] - appeared[key]).total_seconds()) < 3.0
        assert 0 <= figure.ours <= figure.wait + 1.0
