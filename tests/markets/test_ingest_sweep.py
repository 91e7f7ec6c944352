"""The sweep of unanswered inquiries: items that become visible long after they were asked (older than
the watermark's overlap) are fetched by asking each API for what still waits for an answer over its
whole lookback, stored once through the same upsert, malformed ones recorded and skipped, every call
through the rate limiter, and each cursor says when the sweep last ran and what it found."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl

import pytest
from django_q.models import Schedule

from inquiries import ingest
from inquiries.models import Inquiry, InquiryEvent
from inquiries.tasks import sweep_markets_task
from markets import connect
from markets.clients.ratelimit import LocalTokenBucket
from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, KST, NAVER_INQUIRY, NAVER_QNA
from markets.models import MalformedPayload, MarketAccount, PollCursor
from markets.sandbox import SandboxControl, SandboxServer
from partialauto.schedules import setup_schedules
from tests.factories import make_account
from tests.markets.conftest import fast

pytestmark = pytest.mark.django_db

KINDS = (COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_QNA, NAVER_INQUIRY)
LIST_PATHS = {
    "/onlineInquiries": COUPANG_ONLINE,
    "/callCenterInquiries": COUPANG_CALLCENTER,
    "/v1/contents/qnas": NAVER_QNA,
    "/v1/pay-user/inquiries": NAVER_INQUIRY,
}
UNANSWERED_FILTER = {
    COUPANG_ONLINE: ("answeredType", "NOANSWER"),
    COUPANG_CALLCENTER: ("partnerCounselingStatus", "NO_ANSWER"),
    NAVER_QNA: ("answered", "false"),
    NAVER_INQUIRY: ("answered", "false"),
}


class CountingLimiter(LocalTokenBucket):
    """The local token bucket, counting the tokens it hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.granted = 0

    def acquire(self, key: str, rate: float, burst: int, timeout: float) -> bool:
        acquired = super().acquire(key, rate, burst, timeout)
        self.granted += acquired
        return acquired


@pytest.fixture
def limiter() -> CountingLimiter:
    return CountingLimiter()


@pytest.fixture
def accounts(sandbox: SandboxServer, monkeypatch, limiter) -> Iterator[dict[str, MarketAccount]]:
    """A Coupang and a SmartStore account on the sandbox, ten recent inquiries of each kind, and clients
    with test pacing that take their tokens from ``limiter``."""
    coupang = sandbox.store.register_coupang_account(vendor_id="A00077777", reply_by="cs-agent")
    naver = sandbox.store.register_naver_account(client_id="naver-sweep")
    for kind in KINDS:
        owner = coupang.vendor_id if kind in (COUPANG_ONLINE, COUPANG_CALLCENTER) else naver.client_id
        sandbox.store.add_inquiries(kind, 10, owner=owner, answered_ratio=0.2, days_back=1.0)
    real = connect.client_for
    monkeypatch.setattr(connect, "client_for", lambda account, *, limiter=None: fast(real(account, limiter=limiter)))
    yield {
        "coupang": make_account(
            "coupang_sweep",
            vendor_id=coupang.vendor_id,
            access_key=coupang.access_key,
            secret_key=coupang.secret_key,
            reply_by="cs-agent",
            api_base_url=sandbox.coupang_base_url,
        ),
        "naver": make_account(
            "naver_sweep",
            market="SMARTSTORE",
            client_id=naver.client_id,
            client_secret=naver.client_secret,
            api_base_url=sandbox.naver_base_url,
        ),
    }


def _owner(accounts: dict[str, MarketAccount], kind: str) -> str:
    return accounts["coupang"].vendor_id if kind.startswith("COUPANG") else accounts["naver"].client_id


def _add_late(sandbox: SandboxServer, accounts, count: int, *, answered_ratio: float = 0.0) -> dict[str, set[str]]:
    """Backdated inquiries of every kind, added through the sandbox's control API: asked 2 to 29 days ago."""
    control = SandboxControl(sandbox.url)
    return {
        kind: set(
            control.add_backdated_inquiries(
                kind,
                count,
                oldest=timedelta(days=29),
                newest=timedelta(days=2),
                answered_ratio=answered_ratio,
                owner=_owner(accounts, kind),
            )
        )
        for kind in KINDS
    }


def _unanswered(sandbox: SandboxServer, kind: str, ids: set[str]) -> set[str]:
    def answered(item: dict) -> bool:
        if kind == COUPANG_ONLINE:
            return bool(item["commentDtoList"])
        if kind == COUPANG_CALLCENTER:
            return item["csPartnerCounselingStatus"] == "answered"
        return bool(item["answered"])

    return {i for i in ids if not answered(sandbox.store.get_inquiry(kind, i))}


def _poll_all(accounts, limiter, *, sweep: bool) -> list[ingest.PollSummary]:
    run = ingest.sweep_account if sweep else ingest.poll_account
    return [run(account, limiter=limiter) for account in accounts.values()]


def test_sweep__late_inquiries_of_every_kind__stored_once_through_the_limiter_watermark_kept(
    sandbox, accounts, limiter
):
    # Given: everything visible so far is stored, then inquiries asked days ago appear
    assert sum(s.created for s in _poll_all(accounts, limiter, sweep=False)) == 40
    late = _add_late(sandbox, accounts, 30, answered_ratio=0.3)
    waiting = {kind: _unanswered(sandbox, kind, ids) for kind, ids in late.items()}
    assert all(0 < len(waiting[k]) < 30 for k in KINDS)
    # the watermark poll never asks that far back
    assert sum(s.created for s in _poll_all(accounts, limiter, sweep=False)) == 0
    watermarks = dict(PollCursor.objects.values_list("kind", "watermark"))

    # When
    seen, granted = len(sandbox.store.request_log), limiter.granted
    summaries = _poll_all(accounts, limiter, sweep=True)

    # Then: every unanswered late one is stored, as NEW, once; the answered ones are nobody's work
    for kind in KINDS:
        stored = set(
            Inquiry.objects.filter(kind=kind, external_id__in=late[kind]).values_list("external_id", flat=True)
        )
        assert stored == waiting[kind]
    new = sum(len(ids) for ids in waiting.values())
    assert sum(s.sweep_created for s in summaries) == new and all(s.ok and s.swept for s in summaries)
    assert Inquiry.objects.filter(status="NEW", external_id__in=set().union(*waiting.values())).count() == new
    # each API was asked only for what waits for an answer, in windows it accepts, over the whole lookback
    requests = list(sandbox.store.request_log)[seen:]
    starts: dict[str, list[str]] = {}
    for entry in requests:
        kind = next((k for tail, k in LIST_PATHS.items() if entry["path"].endswith(tail)), None)
        if kind is None:
            continue
        query = dict(parse_qsl(entry["query"]))
        name, value = UNANSWERED_FILTER[kind]
        assert query[name] == value
        if kind in (COUPANG_ONLINE, COUPANG_CALLCENTER):
            span = date.fromisoformat(query["inquiryEndAt"]) - date.fromisoformat(query["inquiryStartAt"])
            assert span <= timedelta(days=7)
            starts.setdefault(kind, []).append(query["inquiryStartAt"])
        elif kind == NAVER_INQUIRY:
            starts.setdefault(kind, []).append(query["startSearchDate"])
    today = datetime.now(KST).date()
    assert min(starts[COUPANG_ONLINE]) <= (today - timedelta(days=30)).isoformat()
    assert min(starts[COUPANG_CALLCENTER]) <= (today - timedelta(days=30)).isoformat()
    assert min(starts[NAVER_INQUIRY]) <= (today - timedelta(days=364)).isoformat()
    # every call went through the rate limiter
    assert limiter.granted - granted == len(requests) > 8
    # the watermark stays; each cursor says when the sweep ran and what it found
    assert dict(PollCursor.objects.values_list("kind", "watermark")) == watermarks
    for cursor in PollCursor.objects.all():
        assert cursor.last_swept_at and cursor.last_sweep_success_at == cursor.last_swept_at
        assert cursor.last_sweep_found == len(waiting[cursor.kind]) and not cursor.last_sweep_error

    # And again: nothing new, nothing twice
    again = _poll_all(accounts, limiter, sweep=True)
    assert sum(s.sweep_created for s in again) == 0 and sum(s.sweep_fetched for s in again) >= new
    assert Inquiry.objects.count() == 40 + new == InquiryEvent.objects.filter(type="INGESTED").count()
    assert set(PollCursor.objects.values_list("last_sweep_found", flat=True)) == {0}


def test_sweep__malformed_late_item__recorded_and_skipped(sandbox, accounts, limiter):
    _poll_all(accounts, limiter, sweep=False)
    late = _add_late(sandbox, accounts, 5)
    broken = sorted(late[COUPANG_ONLINE])[0]
    with sandbox.store.lock:
        sandbox.store.items[COUPANG_ONLINE][int(broken)]["content"] = {"not": "text"}

    summary = ingest.sweep_account(accounts["coupang"], limiter=limiter)

    assert summary.ok and summary.malformed == 1 and summary.sweep_created == 9
    bad = MalformedPayload.objects.get()
    assert bad.kind == COUPANG_ONLINE and broken in bad.payload and "content" in bad.error
    assert not Inquiry.objects.filter(kind=COUPANG_ONLINE, external_id=broken).exists()
    cursor = PollCursor.objects.get(account=accounts["coupang"], kind=COUPANG_ONLINE)
    assert cursor.last_sweep_found == 4 and not cursor.last_sweep_error


def test_sweep__marketplace_down__error_recorded_nothing_lost_next_sweep_catches_up(sandbox, accounts, limiter):
    _poll_all(accounts, limiter, sweep=False)
    watermarks = dict(PollCursor.objects.values_list("kind", "watermark"))
    late = _add_late(sandbox, accounts, 5)
    sandbox.store.set_faults(down=True)

    summary = ingest.sweep_account(accounts["coupang"], limiter=limiter)

    assert not summary.ok and all(e.startswith("sweep COUPANG_") for e in summary.errors) and len(summary.errors) == 2
    cursors = PollCursor.objects.filter(account=accounts["coupang"])
    assert all(c.last_swept_at and c.last_sweep_success_at is None and "503" in c.last_sweep_error for c in cursors)
    assert dict(PollCursor.objects.values_list("kind", "watermark")) == watermarks

    sandbox.store.set_faults(down=False)
    summary = ingest.sweep_account(accounts["coupang"], limiter=limiter)
    assert summary.ok and summary.sweep_created == 10
    assert all(c.last_sweep_success_at and not c.last_sweep_error for c in cursors.all())
    assert (
        set(Inquiry.objects.filter(kind=COUPANG_CALLCENTER).values_list("external_id", flat=True))
        >= late[COUPANG_CALLCENTER]
    )


def test_sweep_schedule__slower_than_the_poll__runs_the_poll_and_the_sweep(sandbox, accounts):
    setup_schedules()
    sweep, poll = (
        Schedule.objects.get(name="partialauto.sweep_markets"),
        Schedule.objects.get(name="partialauto.poll_markets"),
    )
    assert sweep.func == "inquiries.tasks.sweep_markets_task" and sweep.schedule_type == Schedule.MINUTES
    assert sweep.minutes > poll.minutes

    ingest.poll_markets()
    _add_late(sandbox, accounts, 3)
    result = sweep_markets_task()  # what the worker runs

    assert result == {
        "coupang_sweep": {"new": 0, "late": 6, "errors": []},
        "naver_sweep": {"new": 0, "late": 6, "errors": []},
    }
    assert Counter(Inquiry.objects.values_list("kind", flat=True)) == dict.fromkeys(KINDS, 13)
