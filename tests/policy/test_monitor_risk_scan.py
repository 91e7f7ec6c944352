"""The risk-keyword rule reads every AUTO_SEND decision of its window, each one once.

A busy shop decides tens of thousands of inquiries an hour: the rule must not stop at the newest rows
(the risky decision may be the oldest of the window), and a run must not rescan what earlier runs
already read (``policy.risk_scan``)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from inquiries.models import Inquiry
from policy import risk_scan
from policy.models import RiskKeyword, RollbackIncident
from policy.monitor import run_monitor
from tests.factories import make_account
from tests.policy.history import rollout_running_since

pytestmark = pytest.mark.django_db

RISKY = "답변 없으면 소비자원에 신고하겠습니다"


@pytest.fixture
def coupang():
    from policy.models import Mode
    from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update

    account = make_account("coupang_main")
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    rollout_running_since(days=30)
    return account


def decisions(
    account,
    count: int,
    *,
    newest: dt.datetime,
    oldest: dt.datetime,
    content: str = "배송 언제 되나요?",
    risk_hits: list | None = None,
) -> list[Inquiry]:
    """``count`` AUTO_SEND decisions, decided evenly from ``oldest`` to ``newest``, written in bulk."""
    step = (newest - oldest) / max(count - 1, 1)
    return Inquiry.objects.bulk_create(
        Inquiry(
            account=account,
            market_code=account.market_code,
            kind="COUPANG_ONLINE",
            external_id=f"d{oldest.timestamp()}-{n}",
            created_at=oldest + step * n - dt.timedelta(minutes=1),
            content=content,
            status="AUTO_SEND",
            decision_mode="LIVE",
            decided_at=oldest + step * n,
            intent="배송문의",
            confidence_score=0.95,
            draft_answer="곧 출고됩니다.",
            risk_hits=risk_hits or [],
            send_status="SENT",
        )
        for n in range(count)
    )


def test_more_decisions_than_any_cap__the_oldest_one_is_risky__the_rule_trips(coupang):
    now = timezone.now()
    [risky] = decisions(
        coupang, 1, newest=now - dt.timedelta(minutes=55), oldest=now - dt.timedelta(minutes=55), content=RISKY
    )
    # more AUTO_SEND decisions in the hour than the 5,000 rows a capped scan would read, all newer
    decisions(coupang, 6_000, newest=now - dt.timedelta(seconds=30), oldest=now - dt.timedelta(minutes=54))
    report = run_monitor()
    assert [t["rule"] for t in report.trips] == ["risk-keyword-auto-send"]
    incident = RollbackIncident.objects.get()
    assert incident.figures["auto_send_decisions"] == 6_001 and incident.figures["count"] == 1
    assert [row["inquiry"] for row in incident.figures["inquiries"]] == [risky.pk]


def test_keyword_added_after_the_monitor_read_the_decision_still_counts(coupang):
    now = timezone.now()
    decisions(
        coupang,
        1,
        newest=now - dt.timedelta(minutes=5),
        oldest=now - dt.timedelta(minutes=5),
        content="답변이 늦으면 뽀로롱하겠습니다",
    )
    assert run_monitor().trips == []
    RiskKeyword.objects.create(term="뽀로롱", category="THREAT")  # a new word customers threaten with
    assert [t["rule"] for t in run_monitor().trips] == ["risk-keyword-auto-send"]


def test_a_decision_committed_after_a_run_with_an_earlier_decided_at_is_still_read(coupang):
    assert run_monitor().trips == []
    now = timezone.now()
    # decided (its batch started) two minutes ago, committed only now
    decisions(coupang, 1, newest=now - dt.timedelta(minutes=2), oldest=now - dt.timedelta(minutes=2), content=RISKY)
    assert [t["rule"] for t in run_monitor().trips] == ["risk-keyword-auto-send"]


def test_a_decision_that_is_no_longer_auto_send_no_longer_counts(coupang):
    now = timezone.now()
    [risky] = decisions(
        coupang, 1, newest=now - dt.timedelta(minutes=5), oldest=now - dt.timedelta(minutes=5), content=RISKY
    )
    assert run_monitor(dry_run=True).trips != []
    Inquiry.objects.filter(pk=risky.pk).update(status="HUMAN_REVIEW")  # e.g. the daily quota ran out at send time
    assert run_monitor().trips == []


def test_a_dry_run_reports_the_trip_and_keeps_nothing(coupang):
    from policy.models import RiskScanHit, RiskScanState

    now = timezone.now()
    decisions(coupang, 1, newest=now - dt.timedelta(minutes=5), oldest=now - dt.timedelta(minutes=5), content=RISKY)
    assert [t["rule"] for t in run_monitor(dry_run=True).trips] == ["risk-keyword-auto-send"]
    assert not RiskScanState.objects.exists() and not RiskScanHit.objects.exists()
    assert not RollbackIncident.objects.exists()


# --- each decision read once --------------------------------------------------------------------------


def test_each_decision_is_rescanned_once(coupang):
    t0 = timezone.now()
    window = t0 - dt.timedelta(hours=1)
    decisions(coupang, 30, newest=t0 - dt.timedelta(seconds=1), oldest=t0 - dt.timedelta(minutes=50))
    first = risk_scan.advance(covered_from=window, clock=t0)
    assert first.reset and first.rescanned == 30
    assert risk_scan.advance(covered_from=window, clock=t0 + dt.timedelta(seconds=5)).rescanned == 0
    # one decided since: only that one is read
    decisions(coupang, 1, newest=t0 + dt.timedelta(seconds=10), oldest=t0 + dt.timedelta(seconds=10), content=RISKY)
    later = risk_scan.advance(covered_from=window, clock=t0 + dt.timedelta(minutes=1))
    assert (later.rescanned, later.matched) == (1, 1)


def test_decisions_made_with_todays_keyword_list_are_read_from_their_own_record(coupang):
    t0 = timezone.now()
    window = t0 - dt.timedelta(hours=1)
    risk_scan.advance(covered_from=window, clock=t0)
    risk_scan.advance(covered_from=window, clock=t0 + dt.timedelta(minutes=6))  # every agent has today's list
    t1 = t0 + dt.timedelta(minutes=7)
    hit = [{"term": "소비자원", "category": "REGULATOR", "matched": "소비자원", "where": "customer"}]
    [recorded] = decisions(coupang, 1, newest=t1, oldest=t1, content=RISKY, risk_hits=hit)
    decisions(coupang, 50, newest=t1, oldest=t1 - dt.timedelta(seconds=30))  # their records: no hits
    report = risk_scan.advance(covered_from=window, clock=t1 + dt.timedelta(minutes=1))
    assert (report.rescanned, report.records, report.matched) == (0, 1, 1)
    assert [m["inquiry_id"] for m in risk_scan.matches(since=window, until=t1 + dt.timedelta(minutes=1))] == [
        recorded.pk
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_monitors_read_each_decision_once_and_open_one_incident():
    from policy.models import Mode, RiskScanHit
    from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update

    account = make_account("coupang_main")
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    rollout_running_since(days=30)
    now = timezone.now()
    decisions(account, 500, newest=now - dt.timedelta(seconds=5), oldest=now - dt.timedelta(minutes=50))
    [risky] = decisions(
        account, 1, newest=now - dt.timedelta(minutes=52), oldest=now - dt.timedelta(minutes=52), content=RISKY
    )
    barrier = threading.Barrier(4)
    opened: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            opened.extend(i.pk for i in run_monitor(metrics=("RISK_AUTO_SEND",)).opened)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(opened) == 1 and RollbackIncident.objects.get().figures["inquiries"][0]["inquiry"] == risky.pk
    assert list(RiskScanHit.objects.values_list("inquiry_id", flat=True)) == [risky.pk]
